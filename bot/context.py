"""What every listener needs, built once by the app factory and handed to each `register`."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Engine

from bot.effects import EffectRunner
from bot.gateway import Gateway
from workflow.clock import Clock
from workflow.service import OrderService


@dataclass
class BotContext:
    engine: Engine
    gateway: Gateway
    service: OrderService
    effects: EffectRunner
    clock: Clock
