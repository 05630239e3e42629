"""What every effect handler shares: the claimed effect, and `Effects`, the runner's means (database, Slack
gateway, letterhead, clock) with the few reads and calls several handlers make."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterable
from contextlib import suppress
from dataclasses import dataclass, field
from datetime import date, datetime
from functools import cached_property
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Engine, bindparam, update
from sqlmodel import Session

from bot.gateway import CHANNEL_GONE, ErrorCode, Gateway, SlackError
from bot.pacing import Deferred
from bot.profiles import learn
from bot.readers import reader_language
from bot.render.notices import after_archiving
from bot.signing_links import Links
from i18n import Language, language
from storage.db import session_scope
from storage.models import PendingEffect, ServiceOrder
from workflow.clock import Clock
from workflow.effects import EffectKind, Payload, decode
from workflow.letterhead import Letterhead
from workflow.queries import closed_order_people, order_numbers
from workflow.sla import COMPLETION_DAYS, ByPriority
from workflow.vocabulary import State, order_number

log = logging.getLogger("bot.effects")

Record = Callable[[Session], None]  # writes what Slack answered, in the transaction that marks the effect done
MAX_ATTEMPTS = 9  # tries before an effect fails for good: backoffs of 1, 2, 4 … 128 s, 4 min in all (runner.py)


class NotReady(Exception):
    """An effect depends on one that has not run yet (e.g. no channel yet)."""


@dataclass
class Claim:
    """An effect this process holds. `again`: it was tried before, by this process or one that died, so
    Slack may already have done it and the handler looks before it acts. `data` is the stored JSON (a handler
    may add to it, as the PDF's upload ticket); `payload` the same, typed."""

    id: int
    order_id: int | None
    kind: str
    key: str
    data: dict[str, Any]
    again: bool
    # the order is closed and Slack refused its channel (archived, or the app taken out): it is never replaced,
    # and the effect says what it has to say by direct message (bot/effects/channel.py `elsewhere`)
    by_dm: bool = False
    attempts: int = 0  # tries that failed before this one
    due: datetime | None = None  # its not_before when claimed: a later one means it was made due again meanwhile
    request_id: str | None = None  # the Slack request that queued it
    workspace: str = ""  # whose it is: it runs in that workspace's scope, with its token

    @property
    def last_try(self) -> bool:
        """Failing now would fail it for good (bot/effects/runner.py); NotReady never counts."""
        return self.attempts + 1 >= MAX_ATTEMPTS

    @cached_property
    def payload(self) -> Payload:
        return decode(self.kind, self.data)

    @property
    def effect_kind(self) -> EffectKind:
        return EffectKind(self.kind)


_PAYLOAD = (update(PendingEffect).where(PendingEffect.id == bindparam("effect"))
            .values(payload=bindparam("payload")).execution_options(synchronize_session=False))


@dataclass
class Effects:
    """The runner's means, as handlers see them."""

    engine: Engine
    gateway: Gateway
    letterhead: Letterhead
    private_channels: bool
    clock: Clock
    completion: ByPriority[int] = COMPLETION_DAYS  # COMPLETION_DAYS: when an order shows as late
    links: Links | None = None  # signing links (SIGNATURE_LINK_SECRET), for the message that hands one over
    # when this process last published each (workspace, viewer)'s App Home: a batch put back midway comes back
    # to those it has not reached first (bot/effects/home.py)
    home_published: dict[tuple[str, str], float] = field(default_factory=dict)

    # --- reads --------------------------------------------------------------------------------------------

    def order(self, order_id: int) -> ServiceOrder:
        with Session(self.engine, expire_on_commit=False) as session:
            return session.get(ServiceOrder, order_id)

    def numbers(self, order_ids: Iterable[int]) -> dict[int, str]:
        """The number people read (SO-000042) of each of these orders, by id."""
        with Session(self.engine) as session:
            return order_numbers(session, order_ids)

    def channel(self, order: ServiceOrder) -> str:
        if not order.channel_id:
            raise NotReady(f"{order_number(order.number)} has no channel yet")
        return order.channel_id

    def by_dm(self, order: ServiceOrder, effect: Claim) -> bool:
        """Whether what the effect has to say goes to the order's people by direct message: the order is closed
        and its channel archived (or refused, `effect.by_dm`). Such a channel is never replaced by a new one."""
        return effect.by_dm or (order.channel_archived_at is not None and State(order.state).is_closed)

    @property
    def provider_language(self) -> Language:
        """What a channel shares is in the provider's language."""
        return language(self.letterhead.provider.locale)

    def reader_language(self, user: str) -> Language:
        """What one person reads is in theirs (a direct message)."""
        return self.reader_languages([user])[user]

    def reader_languages(self, users: list[str]) -> dict[str, Language]:
        """Each person's language, for direct messages. Those not learnt in the last day (their invite's look-up
        was skipped, say) are asked of Slack first, in one look at who is known: a look-up the messages can do
        without (paced, refused or failed, the rest read the provider's language)."""
        with suppress(Deferred, SlackError), self.gateway.optional():
            learn(self.engine, self.gateway, users, self.clock())
        return {user: reader_language(self.engine, user, self.letterhead.provider.locale) for user in users}

    def provider_today(self, now: datetime | None = None) -> date:
        return (now or self.clock()).astimezone(ZoneInfo(self.letterhead.provider.timezone)).date()

    # --- Slack --------------------------------------------------------------------------------------------

    def post(self, effect: Claim, channel: str, text: str, blocks: list[dict] | None = None,
             thread_ts: str | None = None) -> str:
        """Post at most once per effect: after a try whose answer never came, look for it first."""
        if effect.again and (ts := self.gateway.find_post(channel, effect.key)) is not None:
            return ts
        return self.gateway.post(channel, text, blocks, key=effect.key, thread_ts=thread_ts)

    def say(self, effect: Claim, order: ServiceOrder, words: Callable[[Language], str]) -> None:
        """What the effect has to say about the order: in its channel, in the provider's language; once a closed
        order's channel is archived, to each of its people in theirs (`tell_people`)."""
        if self.by_dm(order, effect):
            self.tell_people(effect, order, words)
        else:
            self.post(effect, self.channel(order), words(self.provider_language)[:MAX_TEXT])

    def direct_message(self, effect: Claim, user: str, text: str, key: str) -> str | None:
        """`text` to `user` in the app's DM with them, at most once (`key`); the DM's id, or None when there
        is nobody to tell (deactivated, unknown, their DM archived)."""
        try:
            dm = self.gateway.open_dm(user)
            if not (effect.again and self.gateway.find_post(dm, key) is not None):
                self.gateway.post(dm, text[:MAX_TEXT], key=key)
            return dm
        except SlackError as error:
            if error.code not in (ErrorCode.USER_DISABLED, ErrorCode.USER_NOT_FOUND, *CHANNEL_GONE):
                raise
            log.warning("%s not sent to %s: Slack says %s", key, user, error.code)
            return None

    def tell_people(self, effect: Claim, order: ServiceOrder, words: Callable[[Language], str]) -> None:
        """What a closed order whose channel is archived has to say: to each of its people by direct message,
        `words` in their language, saying the channel is archived; at most once each."""
        number = order_number(order.number)
        with Session(self.engine) as session:
            people = closed_order_people(session, order)
        for user, lang in self.reader_languages(people).items():
            self.direct_message(effect, user, after_archiving(number, order.channel_id or "", words(lang), lang),
                                f"{effect.key}:dm:{user}")

    def save_data(self, effect: Claim) -> None:
        """The effect's data as the handler changed it, written at once (not with the effect's being done)."""
        with session_scope(self.engine) as session:
            session.execute(_PAYLOAD, {"effect": effect.id, "payload": json.dumps(effect.data)})


def set_values(row: object, **values: object) -> None:
    for name, value in values.items():
        setattr(row, name, value)


MAX_TEXT = 3900  # a message's text, below Slack's 4,000
