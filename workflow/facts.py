"""What a step did, as typed data: who acted, which fields and items changed from what to what, which people
were added, the note, the amounts. No words and no markup: bot/ renders facts for Slack in each reader's
language, and the audit trail stores them as JSON (audit_event.facts).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

from workflow.document import ItemChange, ItemLine
from workflow.vocabulary import Action


@dataclass(frozen=True)
class FieldChange:
    """A field of the order a step set or changed (`scheduled_date`, `approval_notes`), as plain values."""

    name: str
    before: str | None
    after: str | None


@dataclass(frozen=True)
class ItemFact:
    """One item a step added (before None), removed (after None) or changed: quantities and line amounts."""

    kind: str  # service, material or free
    code: str | None
    description: str
    unit: str | None
    quantity_before: Decimal | None
    quantity_after: Decimal | None
    amount_before: Decimal | None = None  # the line's total in the order's currency; None: unpriced
    amount_after: Decimal | None = None
    unit_price_before: Decimal | None = None  # None: unpriced (or the line was added)
    unit_price_after: Decimal | None = None

    @property
    def change(self) -> str:
        return "added" if self.quantity_before is None else "removed" if self.quantity_after is None else "changed"

    @classmethod
    def of(cls, change: ItemChange, currency: str) -> ItemFact:
        line = change.after or change.before
        assert line is not None
        return cls(line.kind, line.code, line.description, line.unit,
                   change.before.quantity if change.before else None,
                   change.after.quantity if change.after else None,
                   change.before.total(currency) if change.before else None,
                   change.after.total(currency) if change.after else None,
                   change.before.unit_price if change.before else None,
                   change.after.unit_price if change.after else None)


@dataclass(frozen=True)
class StepFacts:
    """What one step did to one order. Every field but `action` and `actor` is optional: a step fills what it
    knows (a rejection has a note and no items; a confirmation has items, people, the totals and their delta)."""

    action: Action
    actor: str
    version: int | None = None  # the version the step made (None: it made none, as a rejection)
    client: str | None = None  # names at the time of the step (submit)
    site: str | None = None
    item_count: int | None = None
    requested_date: date | None = None
    priority: str | None = None
    scheduled_date: date | None = None
    fields: tuple[FieldChange, ...] = ()
    items: tuple[ItemFact, ...] = ()
    people_added: tuple[str, ...] = ()
    reviewers: tuple[str, ...] = ()  # submit: who was asked to review (empty: nobody holds the Approve roles)
    note: str | None = None  # the approval notes, the confirmation's why, the reason for rejecting or closing
    currency: str | None = None
    total: Decimal | None = None  # the order's items total after the step
    delta: Decimal | None = None  # its change from before the step
    legacy: str | None = None  # an event recorded before facts: its old text, without markup
    tax_rate: Decimal | None = None  # the order's tax rate at the step: with `total`, its tax and total with tax
    people_removed: tuple[str, ...] = ()  # a crew change: field workers taken off the order
    # approval by amount (workflow/policy.py): the level this approval gave, of how many the order needs (None
    # on an order needing one: as before levels); a partial one names the next level's role and who may give it
    level: int | None = None
    levels: int | None = None
    next_role: str | None = None
    next_people: tuple[str, ...] = ()
    cleared: tuple[str, ...] = ()  # an edit or send-back: whose approvals of the round it cleared

    @property
    def partial(self) -> bool:
        """An approval that leaves the order waiting for a further level's."""
        return self.level is not None and self.levels is not None and self.level < self.levels

    @property
    def held(self) -> bool:
        """The policy holds the step: the order goes to its transition's `waits_in`, not its target."""
        return self.partial or bool(self.proposed)
    # a step that raised the total past REAPPROVAL_OVER: held for approval (`reviewers` may approve it), no version
    proposed: bool | None = None
    author: str | None = None  # approving or rejecting a change: who proposed it
    step: str | None = None  # and the step that proposed it (confirm, set_prices)

    # --- JSON (audit_event.facts, pending_effect.payload) --------------------------------------------------

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"action": self.action.value, "actor": self.actor}
        for name in _SCALARS:
            value = getattr(self, name)
            if value is not None:
                out[name] = _plain(value)
        for name in _PEOPLE:
            if getattr(self, name):
                out[name] = list(getattr(self, name))
        if self.fields:
            out["fields"] = [{"name": f.name, "before": f.before, "after": f.after} for f in self.fields]
        if self.items:
            out["items"] = [{k: _plain(v) for k, v in vars(i).items() if v is not None} for i in self.items]
        return out

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> StepFacts:
        values: dict[str, Any] = {name: data.get(name) for name in _SCALARS}
        for name in ("requested_date", "scheduled_date"):
            values[name] = date.fromisoformat(values[name]) if values[name] else None
        for name in ("total", "delta", "tax_rate"):
            values[name] = Decimal(values[name]) if values[name] is not None else None
        items = tuple(ItemFact(**{k: (Decimal(v) if k in _DECIMALS and v is not None else v)
                                  for k, v in (("kind", i.get("kind", "free")), ("code", i.get("code")),
                                               ("description", i.get("description", "")), ("unit", i.get("unit")),
                                               *((k, i.get(k)) for k in _DECIMALS))})
                      for i in data.get("items", ()))
        return cls(action=Action(data["action"]), actor=str(data.get("actor", "")), **values, items=items,
                   fields=tuple(FieldChange(f["name"], f.get("before"), f.get("after"))
                                for f in data.get("fields", ())),
                   people_added=tuple(data.get("people_added", ())), reviewers=tuple(data.get("reviewers", ())),
                   people_removed=tuple(data.get("people_removed", ())),
                   next_people=tuple(data.get("next_people", ())), cleared=tuple(data.get("cleared", ())))

    def dumps(self) -> str:
        return json.dumps(self.to_json(), ensure_ascii=False, sort_keys=True)

    @classmethod
    def loads(cls, text: str) -> StepFacts:
        return cls.from_json(json.loads(text))


_SCALARS = ("version", "client", "site", "item_count", "requested_date", "priority", "scheduled_date", "note",
            "currency", "total", "delta", "legacy", "tax_rate", "level", "levels", "next_role", "proposed", "author",
            "step")
_PEOPLE = ("people_added", "reviewers", "people_removed", "next_people", "cleared")
_DECIMALS = ("quantity_before", "quantity_after", "amount_before", "amount_after", "unit_price_before",
             "unit_price_after")


def _plain(value: object) -> object:
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, date):
        return value.isoformat()
    return value


def item_facts(changes: tuple[ItemChange, ...] | list[ItemChange], currency: str) -> tuple[ItemFact, ...]:
    return tuple(ItemFact.of(change, currency) for change in changes)


def added_items(lines: list[ItemLine], currency: str) -> tuple[ItemFact, ...]:
    return item_facts([ItemChange(None, line) for line in lines], currency)


