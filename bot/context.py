"""What every listener needs, built once by the app factory and handed to each `register`."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Engine
from sqlmodel import Session

from bot.effects import EffectRunner
from bot.gateway import Gateway
from bot.profiles import refresh
from workflow.clock import Clock
from workflow.people import local_today
from workflow.service import OrderService


@dataclass
class BotContext:
    engine: Engine
    gateway: Gateway
    service: OrderService
    effects: EffectRunner
    clock: Clock
    timezone: str = "UTC"  # the provider's: whose calendar says an order is overdue
    currency: str = "USD"
    locale: str = "en"  # the language forms are built and read in (the provider's, until people's own)


def today_for(ctx: BotContext, user: str) -> str:
    """The user's today (ISO), for a form's initial date. Learns their time zone from Slack the first time
    (after the ack, before views.open: one users.info call, well inside the trigger's 3 seconds)."""
    refresh(ctx.engine, ctx.gateway, user, ctx.clock())  # if Slack fails, the form still opens (lenient today)
    with Session(ctx.engine) as session:
        return local_today(session, user, ctx.clock()).isoformat()
