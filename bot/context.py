"""What every listener needs, built once by the app factory and handed to each `register`."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from sqlalchemy import Engine

from bot.effects import EffectRunner
from bot.gateway import Gateway
from bot.profiles import refresh
from bot.readers import locale_for
from bot.settings import ClientSigning
from workflow.clock import Clock
from workflow.people import today_in
from workflow.service import OrderService
from workflow.sla import COMPLETION_DAYS, ByPriority


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
    completion: ByPriority[int] = COMPLETION_DAYS  # COMPLETION_DAYS: when an order shows as late
    signing: ClientSigning = ClientSigning()  # PUBLIC_URL, SIGNATURE_LINK_SECRET, SIGNATURE_LINK_HOURS


@dataclass(frozen=True)
class Reader:
    """The person a form opens for, as the form needs them: the locale they read in, and their today."""

    locale: str
    today: date


def reader_after_ack(ctx: BotContext, user: str) -> Reader:
    """Who is about to read a form. Learns their language and time zone from Slack if they are new or a day old
    (after the ack, before views.open: one users.info call, well inside the trigger's 3 seconds); otherwise
    one read of the database. If Slack fails, the form still opens (in the provider's language, lenient today)."""
    now = ctx.clock()
    known = refresh(ctx.engine, ctx.gateway, user, now)
    return Reader(locale_for(known.locale if known else None, ctx.locale), today_in(known.tz if known else None, now))
