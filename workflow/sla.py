"""SLAs by priority (issue 16): how long an order may wait for approval before it is reminded of and escalated,
and by when an approved order should be completed.

Each is one value per priority (`ByPriority`). The settings give them as one number for every priority or as a
list, `urgent=0,high=8,normal=24,low=48`; `parse_by_priority` reads that text and raises SlaError, which
bot/settings.py words. An order is *late* when it is approved and its completion deadline (the scheduled date
plus the priority's days, on the provider's calendar) has passed: "overdue" says the scheduled date passed,
"late" that the days allowed after it passed too. Whether an order is late is worked out from its row and the
settings, in Python for one order and in SQL for many (`late_where`): no column, so a changed setting or a
reschedule moves the deadline at once.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, fields
from datetime import date, timedelta
from decimal import Decimal
from enum import StrEnum
from typing import Generic, TypeVar

from sqlalchemy import ColumnElement, and_, or_

from storage.models import ServiceOrder
from workflow.numbers import parse_decimal
from workflow.vocabulary import PRIORITIES, WORK_IN_PROGRESS, State

T = TypeVar("T")

URGENT = "urgent"


@dataclass(frozen=True)
class ByPriority(Generic[T]):
    """One value for each priority (workflow/vocabulary.py's PRIORITIES)."""

    low: T
    normal: T
    high: T
    urgent: T

    @classmethod
    def same(cls, value: T) -> ByPriority[T]:
        return cls(value, value, value, value)

    def of(self, priority: str) -> T:
        """The value for `priority`. Orders only ever have one of PRIORITIES (the forms offer no other), which the
        sweep's SQL relies on; an unknown one would count as normal here, as a safe reading."""
        return getattr(self, priority) if priority in PRIORITIES else self.normal

    def items(self) -> Iterator[tuple[str, T]]:
        return ((f.name, getattr(self, f.name)) for f in fields(self))

    def groups(self) -> list[tuple[tuple[str, ...], T]]:
        """The priorities that share a value, with it: one bounded query per distinct value, not per priority."""
        shared: dict[T, list[str]] = {}
        for priority, value in self.items():
            shared.setdefault(value, []).append(priority)
        return [(tuple(priorities), value) for value, priorities in shared.items()]


# the defaults: urgent pings at once and escalates within two hours; low waits two days, then four
REMIND_AFTER = ByPriority(low=timedelta(hours=48), normal=timedelta(hours=24), high=timedelta(hours=8),
                          urgent=timedelta(0))
ESCALATE_AFTER = ByPriority(low=timedelta(hours=96), normal=timedelta(hours=48), high=timedelta(hours=24),
                            urgent=timedelta(hours=2))
COMPLETION_DAYS = ByPriority(low=14, normal=7, high=2, urgent=0)


class SlaTrouble(StrEnum):
    VALUE = "value"  # a number out of range or not a number
    PRIORITY = "priority"  # a name that is not a priority, or no `=`
    TWICE = "twice"  # a priority named twice


class SlaError(ValueError):
    """What is wrong with a per-priority setting: the trouble and the part of the text at fault."""

    def __init__(self, trouble: SlaTrouble, value: str) -> None:
        super().__init__(f"{trouble}: {value!r}")
        self.trouble, self.value = trouble, value


def parse_by_priority(text: str, defaults: ByPriority[T], value: Callable[[str], T | None]) -> ByPriority[T]:
    """'24' (every priority) or 'urgent=0,high=8' (each named one; the others keep `defaults`). `value` reads
    one number, None when it is not one in range."""
    text = text.strip().lower()
    if "=" not in text:
        return ByPriority.same(_value(text, value))
    chosen: dict[str, T] = {}
    for part in text.split(","):
        name, equals, number = (piece.strip() for piece in part.partition("="))
        if not equals or name not in PRIORITIES:
            raise SlaError(SlaTrouble.PRIORITY, part.strip()[:40])
        if name in chosen:
            raise SlaError(SlaTrouble.TWICE, name)
        chosen[name] = _value(number, value)
    return ByPriority(**{name: chosen.get(name, default) for name, default in defaults.items()})


def _value(text: str, value: Callable[[str], T | None]) -> T:
    found = value(text)
    if found is None:
        raise SlaError(SlaTrouble.VALUE, text[:40])
    return found


def hours_from(text: str, most: int) -> timedelta | None:
    """Hours from 0 (at once) to `most`: ASCII digits with at most one decimal point."""
    number = parse_decimal(text)
    return timedelta(hours=float(number)) if number is not None and 0 <= number <= most else None


def days_from(text: str, most: int) -> int | None:
    """Whole days from 0 (the scheduled date itself) to `most`."""
    number = parse_decimal(text)
    return int(number) if number is not None and number == int(number) and 0 <= number <= most else None


def span_label(span: timedelta) -> str:
    """A reminder key's due moment after the round began: '24h', or to the minute ('90m') when not whole hours,
    so sub-hour spans of two priorities never share a key (an order's priority may be edited while pending)."""
    minutes = int(span.total_seconds() // 60)
    return f"{minutes // 60}h" if minutes % 60 == 0 else f"{minutes}m"


# --- the completion deadline ---------------------------------------------------------------------------------


def deadline(scheduled: date, priority: str, days: ByPriority[int]) -> date:
    """The last day the order should be completed on: its scheduled date plus its priority's days."""
    return scheduled + timedelta(days=days.of(priority))


def is_late(state: State, scheduled: date | None, priority: str, today: date, days: ByPriority[int]) -> bool:
    """Approved (work in progress, a change waiting or not) and its completion deadline has passed without the
    order being closed."""
    return State(state).in_progress and scheduled is not None and deadline(scheduled, priority, days) < today


def late_where(today: date, days: ByPriority[int], catch_up: timedelta | None = None) -> ColumnElement[bool]:
    """Approved orders whose deadline is before `today` (with `catch_up`, not longer ago than that), in SQL:
    per group of priorities that share their days, a range of scheduled dates (literals, no date arithmetic in
    SQL); the whole is bounded by the loosest group, so the (state, scheduled_date) index serves it."""
    bounds = [(priorities, today - timedelta(days=n)) for priorities, n in days.groups()]
    terms = [and_(ServiceOrder.priority.in_(priorities), ServiceOrder.scheduled_date < before,  # type: ignore[attr-defined]
                  *([ServiceOrder.scheduled_date >= before - catch_up] if catch_up else []))
             for priorities, before in bounds]
    latest = max(before for _, before in bounds)
    outer = [ServiceOrder.scheduled_date < latest]
    if catch_up:
        outer.append(ServiceOrder.scheduled_date >= min(before for _, before in bounds) - catch_up)
    return and_(ServiceOrder.state.in_(WORK_IN_PROGRESS), *outer, or_(*terms))  # type: ignore[attr-defined]


# --- quiet hours ---------------------------------------------------------------------------------------------


class QuietOverride(StrEnum):
    """URGENT_OVERRIDES_QUIET_HOURS: whose pings about an urgent order go out during quiet hours."""

    OFF = "off"  # nobody's: they wait for the quiet hours to end, as every other ping
    COORDINATORS = "coordinators"  # the coordinators': an urgent order's escalation (and a reminder to them)


def hours_text(span: timedelta) -> str:
    """A span as the settings write it (for messages): '24', '0.5'."""
    return f"{Decimal(span.total_seconds()) / 3600:f}".rstrip("0").rstrip(".") or "0"
