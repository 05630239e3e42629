"""The Slack effects a step or a reminder owes, declared once beside the transition table: its kinds, each
with its typed payload, its place in a step's order, and whether it runs beside the order's chain.

workflow/ writes them (service.py, reminders.py) into pending_effect as JSON; bot/ reads them back typed
(`decode`) and renders what they carry (facts, never text) in the reader's language when it runs them.
A queue may still hold payloads written before this module (a message's or a reminder's `text`): `decode`
keeps them as `legacy` text, which bot/ posts as it was.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from enum import StrEnum
from typing import Any

from workflow.facts import StepFacts


class EffectKind(StrEnum):
    OPEN_CHANNEL = "open_channel"
    INVITE = "invite"
    CARD = "card"
    MESSAGE = "message"
    UPLOAD_PDF = "upload_pdf"
    HOME = "home"
    REMINDER = "reminder"  # in the order's channel
    NOTIFY = "notify"  # a direct message: a field worker's morning, a coordinator's digest
    KICK = "kick"  # people out of the order's channel (a crew change removed them)
    ARCHIVE = "archive"  # a closed order's channel, ARCHIVE_AFTER_DAYS after it closed (queued by the sweep)
    FETCH_FILE = "fetch_file"  # a shared photo or file read from Slack: checked, hashed, its thumbnail kept
    SIGNATURE_ASKED = "signature_asked"  # the signing link, posted for the field worker to hand over
    SIGNATURE_GIVEN = "signature_given"  # the client signed or disputed: said in the channel
    UPLOAD_SIGNED = "upload_signed"  # the signed copy's PDF, shared in the channel


# The order in which a step's effects run: people are in the channel before the card and the message mention
# them, and the message announcing a version comes before its PDF. Home last: nothing waits for it.
# A kick runs last in the chain: the channel has read the message that says who left and why. An archive is
# in the chain too, after everything the order still owes its channel (a closing PDF still being retried).
# A version's files are read beside the chain (ASIDE), so a read Slack refuses holds nothing up; the version's PDF
# waits for them instead (workflow/issuing.py FilesBeingRead), as its document lists those kept.
ORDER: tuple[EffectKind, ...] = (EffectKind.OPEN_CHANNEL, EffectKind.INVITE, EffectKind.CARD, EffectKind.MESSAGE,
                                 EffectKind.FETCH_FILE, EffectKind.UPLOAD_PDF, EffectKind.SIGNATURE_ASKED,
                                 EffectKind.SIGNATURE_GIVEN, EffectKind.UPLOAD_SIGNED, EffectKind.HOME,
                                 EffectKind.REMINDER, EffectKind.NOTIFY, EffectKind.KICK, EffectKind.ARCHIVE)

# Beside an order's chain: they neither wait for its earlier effects nor hold up its later ones, and their
# failing fails nothing else (App Home refreshes, reminders, direct messages, reading a shared file).
ASIDE: frozenset[EffectKind] = frozenset({EffectKind.HOME, EffectKind.REMINDER, EffectKind.NOTIFY,
                                         EffectKind.FETCH_FILE})


# --- payloads ------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class OpenChannel:
    def to_json(self) -> dict[str, Any]:
        return {}


@dataclass(frozen=True)
class Invite:
    users: tuple[str, ...]

    def to_json(self) -> dict[str, Any]:
        return {"users": list(self.users)}


@dataclass(frozen=True)
class Card:
    overdue: bool = False  # queued by the sweep when an approved order passes its date
    late: bool = False  # queued by the sweep when an approved order passes its completion deadline

    def to_json(self) -> dict[str, Any]:
        return {"reason": "overdue"} if self.overdue else {"reason": "late"} if self.late else {}


@dataclass(frozen=True)
class Evidence:
    """Photos shared in the order's channel, taken as evidence: they go on the next version it issues. Said in
    a thread on the message that shared them."""

    names: tuple[str, ...]
    thread_ts: str

    def to_json(self) -> dict[str, Any]:
        return {"names": list(self.names), "thread_ts": self.thread_ts}


@dataclass(frozen=True)
class Message:
    """A step's message in the order's channel: its facts, rendered in the provider's language; or the reply
    to photos shared in it (`evidence`)."""

    facts: StepFacts | None
    legacy: str | None = None  # text queued by the release before facts
    evidence: Evidence | None = None

    def to_json(self) -> dict[str, Any]:
        if self.evidence:
            return {"evidence": self.evidence.to_json()}
        return {"facts": self.facts.to_json()} if self.facts else {"text": self.legacy or ""}


@dataclass(frozen=True)
class FetchFile:
    """Read one attachment's bytes from Slack (url_private, with the bot token): kept, or left out and said."""

    attachment_id: int

    def to_json(self) -> dict[str, Any]:
        return {"attachment_id": self.attachment_id}


@dataclass(frozen=True)
class UploadPdf:
    version: int
    ticket: str | None = None  # the upload's file id, recorded before its share is asked for

    def to_json(self) -> dict[str, Any]:
        return {"version": self.version, **({"ticket": self.ticket} if self.ticket else {})}


@dataclass(frozen=True)
class Home:
    also: tuple[str, ...] = ()  # people the order no longer involves (removed from its crew) to refresh too

    def to_json(self) -> dict[str, Any]:
        return {"also": list(self.also)} if self.also else {}


@dataclass(frozen=True)
class Kick:
    """Field workers a crew change removed: out of the order's private channel, unless they hold another part."""

    users: tuple[str, ...]

    def to_json(self) -> dict[str, Any]:
        return {"users": list(self.users)}


@dataclass(frozen=True)
class Archive:
    """A closed order's channel archived, with a last word on where its documents are: only if the order is
    still at `revision`, the one it closed at (an order that changed since is left alone)."""

    revision: int

    def to_json(self) -> dict[str, Any]:
        return {"revision": self.revision}


class ReminderAbout(StrEnum):
    APPROVAL = "approval"  # pending approval past the SLA: the supervisors
    ESCALATION = "escalation"  # still pending: the coordinators


@dataclass(frozen=True)
class Reminder:
    """A reminder in the order's channel; dropped if the order left `state` (or the level of approval `level`,
    when set: a later level is asked of others; or, for a change waiting for approval, the revision `change` it
    was proposed at: it was decided, and another may wait now) meanwhile."""

    about: ReminderAbout | None
    hours: int = 0
    people: tuple[str, ...] = ()
    state: str | None = None
    legacy: str | None = None
    level: int | None = None
    priority: str | None = None  # the order's, when it was due: a reminder due at once names it, not "0 h"
    change: int | None = None  # about a change waiting for approval: the order's revision when it was proposed

    def to_json(self) -> dict[str, Any]:
        if self.about is None:
            return {"text": self.legacy or "", "state": self.state}
        out = {"about": self.about.value, "hours": self.hours, "people": list(self.people), "state": self.state}
        return (out | ({"level": self.level} if self.level is not None else {})
                | ({"priority": self.priority} if self.priority else {})
                | ({"change": self.change} if self.change is not None else {}))


class NotifyAbout(StrEnum):
    MORNING = "morning"  # a field worker, on the morning of the scheduled date
    DIGEST = "digest"  # a coordinator, daily: the overdue orders


@dataclass(frozen=True)
class OverdueLine:
    order_id: int
    channel_id: str | None
    scheduled_date: date
    due_by: date | None = None  # its completion deadline, when that has passed too (late)


@dataclass(frozen=True)
class Notify:
    """A direct message to `user`, in their language."""

    user: str
    about: NotifyAbout | None
    state: str | None = None  # dropped if the order left it meanwhile
    scheduled_date: date | None = None  # morning
    channel_id: str | None = None  # morning: the order's channel when it was due
    count: int = 0  # digest: how many are overdue
    late: int = 0  # digest: how many of them are late (past their completion deadline)
    orders: tuple[OverdueLine, ...] = ()  # digest: the first few
    legacy: str | None = None

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"user": self.user}
        if self.state is not None:
            out["state"] = self.state
        if self.about is None:
            return {**out, "text": self.legacy or ""}
        out["about"] = self.about.value
        if self.about is NotifyAbout.MORNING:
            out |= {"scheduled_date": self.scheduled_date.isoformat() if self.scheduled_date else None,
                    "channel_id": self.channel_id}
        else:
            out |= {"count": self.count, "late": self.late, "orders": [
                {"order_id": o.order_id, "channel_id": o.channel_id, "scheduled_date": o.scheduled_date.isoformat(),
                 **({"due_by": o.due_by.isoformat()} if o.due_by else {})} for o in self.orders]}
        return out


@dataclass(frozen=True)
class Signing:
    """About one signature request (workflow/signing.py): its link, the client's answer, the signed copy."""

    request: int
    ticket: str | None = None  # upload_signed: the upload's file id, recorded before its share is asked for

    def to_json(self) -> dict[str, Any]:
        return {"request": self.request, **({"ticket": self.ticket} if self.ticket else {})}


Payload = (OpenChannel | Invite | Card | Message | UploadPdf | Home | Reminder | Notify | Kick | Archive | FetchFile
    | Signing)


@dataclass(frozen=True)
class Effect:
    """One effect owed: its kind, its idempotency key (unique across the queue) and its payload."""

    kind: EffectKind
    key: str
    payload: Payload


def _overdue_line(data: dict[str, Any]) -> OverdueLine:
    due_by = data.get("due_by")
    return OverdueLine(int(data["order_id"]), data.get("channel_id"), date.fromisoformat(data["scheduled_date"]),
                       date.fromisoformat(due_by) if due_by else None)


def decode(kind: str, data: dict[str, Any]) -> Payload:
    """A stored payload, typed; payloads written by the release before facts are read too."""
    match EffectKind(kind):
        case EffectKind.OPEN_CHANNEL:
            return OpenChannel()
        case EffectKind.INVITE:
            return Invite(tuple(data.get("users", ())))
        case EffectKind.CARD:
            return Card(overdue=data.get("reason") == "overdue", late=data.get("reason") == "late")
        case EffectKind.MESSAGE:
            if "evidence" in data:
                evidence = data["evidence"]
                return Message(None, evidence=Evidence(tuple(evidence["names"]), str(evidence["thread_ts"])))
            if "facts" in data:
                return Message(StepFacts.from_json(data["facts"]))
            return Message(None, str(data.get("text", "")))
        case EffectKind.UPLOAD_PDF:
            return UploadPdf(int(data["version"]), data.get("ticket"))
        case EffectKind.HOME:
            return Home(tuple(data.get("also", ())))
        case EffectKind.REMINDER:
            if "about" not in data:
                return Reminder(None, state=data.get("state"), legacy=str(data.get("text", "")))
            return Reminder(ReminderAbout(data["about"]), int(data.get("hours", 0)), tuple(data.get("people", ())),
                            data.get("state"), level=int(data["level"]) if "level" in data else None,
                            priority=data.get("priority"), change=int(data["change"]) if "change" in data else None)
        case EffectKind.NOTIFY:
            user, state = str(data["user"]), data.get("state")
            if "about" not in data:
                return Notify(user, None, state, legacy=str(data.get("text", "")))
            scheduled = data.get("scheduled_date")
            return Notify(user, NotifyAbout(data["about"]), state,
                          date.fromisoformat(scheduled) if scheduled else None, data.get("channel_id"),
                          int(data.get("count", 0)), late=int(data.get("late", 0)),
                          orders=tuple(_overdue_line(o) for o in data.get("orders", ())))
        case EffectKind.KICK:
            return Kick(tuple(data.get("users", ())))
        case EffectKind.ARCHIVE:
            return Archive(int(data["revision"]))
        case EffectKind.FETCH_FILE:
            return FetchFile(int(data["attachment_id"]))
        case EffectKind.SIGNATURE_ASKED | EffectKind.SIGNATURE_GIVEN | EffectKind.UPLOAD_SIGNED:
            return Signing(int(data["request"]), data.get("ticket"))
    raise ValueError(f"unknown effect kind {kind}")  # pragma: no cover (EffectKind() raised already)
