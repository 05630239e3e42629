"""Evidence of an order: photos and files people share through a form or in the order's channel.

What Slack reports of a file is checked where it arrives (type and size, in the ack: nothing is downloaded
there), then recorded as an `attachment` row in the step's own transaction, with one `fetch_file` effect per new
file that reads its bytes after the ack (bot/effects/fetch.py). An issued version is frozen, so a file waits
(`version` None) for the next version the order issues: `claim()` puts the waiting files on a version as the
service makes it, and `kept()` lists a version's files for its document.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from enum import StrEnum

from sqlalchemy import Engine, update
from sqlmodel import Session, col, select

from storage.db import queue_effects, session_scope
from storage.models import OrderAttachment, RoleGrant, ServiceOrder
from workflow.effects import Card, EffectKind, Evidence, FetchFile, Message
from workflow.queries import order_people
from workflow.shared_files import IMAGE_TYPES, SharedFile
from workflow.visibility import SEES_EVERY_ORDER
from workflow.vocabulary import State


class Source(StrEnum):
    FORM = "form"
    CHANNEL = "channel"


class Status(StrEnum):
    PENDING = "pending"  # not read yet
    KEPT = "kept"
    LEFT_OUT = "left_out"


class LeftOut(StrEnum):
    """Why a file was left out once its bytes were read (the channel is told, in words, by bot/)."""

    GONE = "gone"  # Slack no longer has it (deleted, or never shared)
    TOO_LARGE = "too_large"  # more bytes than MAX_BYTES, whatever Slack reported
    UNREADABLE = "unreadable"  # an image Pillow cannot read, a PDF without its header
    NOT_ITS_TYPE = "not_its_type"  # the bytes are another kind of file than its type says
    TOO_MANY_PIXELS = "too_many_pixels"  # an image larger than MAX_PIXELS: not decoded
    NOT_A_PHOTO = "not_a_photo"  # a Slack Connect file shared in the channel, which files.info says is no image
    NOT_READ = "not_read"  # Slack would not give it (a missing scope, or every attempt failed): not waited for


def record(session: Session, order_id: int, files: Iterable[SharedFile], source: Source, shared_by: str,
           now: datetime) -> list[int]:
    """Rows for the files not already on the order, waiting for its next version; their ids, to fetch. A file
    already on the order (the same form submitted again, a message shared twice) stays one row."""
    files = list({file.slack_id: file for file in files}.values())
    if not files:
        return []
    known = set(session.exec(select(OrderAttachment.slack_file_id).where(
        OrderAttachment.order_id == order_id,
        col(OrderAttachment.slack_file_id).in_([f.slack_id for f in files]))))
    rows = [OrderAttachment(order_id=order_id, version=None, source=source.value, slack_file_id=f.slack_id,
                            name=f.name, mimetype=f.mimetype, size=f.size, url_private=f.url_private,
                            shared_by=(f.user if source is Source.CHANNEL and f.user else shared_by)[:32],
                            shared_at=f.created or now)
            for f in files if f.slack_id not in known]
    session.add_all(rows)
    session.flush()
    return [row.id for row in rows if row.id is not None]


def claim(session: Session, order_id: int, version: int) -> None:
    """The files waiting on the order go on `version`, the one being made now."""
    session.execute(update(OrderAttachment).where(OrderAttachment.order_id == order_id,
                                                  col(OrderAttachment.version).is_(None))
                    .values(version=version).execution_options(synchronize_session=False))


def kept(session: Session, order_id: int, version: int) -> list[OrderAttachment]:
    """A version's files that were read and kept, in the order they came."""
    return list(session.exec(select(OrderAttachment).where(
        OrderAttachment.order_id == order_id, OrderAttachment.version == version,
        OrderAttachment.status == Status.KEPT.value).order_by(col(OrderAttachment.id))))


def being_read(session: Session, order_id: int, version: int) -> bool:
    """Whether some of a version's files are not read yet: its document waits for them (workflow/issuing.py)."""
    return session.exec(select(OrderAttachment.id).where(
        OrderAttachment.order_id == order_id, OrderAttachment.version == version,
        OrderAttachment.status == Status.PENDING.value).limit(1)).first() is not None


def takes_evidence(order: ServiceOrder) -> bool:
    """Whether a photo shared in the order's channel can still go on a version: a closed order issues none."""
    return not State(order.state).is_closed


def of_the_order(session: Session, order: ServiceOrder, user: str) -> bool:
    """Whether `user` may add evidence in the order's channel: the people it involves (its requester, approver
    and crew) and the staff who see every order. Anyone else's photo in the channel (a guest, someone invited by
    hand) is theirs, not evidence."""
    return user in order_people(session, order) or session.exec(select(RoleGrant.user_id).where(
        RoleGrant.user_id == user, col(RoleGrant.role).in_(sorted(SEES_EVERY_ORDER)))).first() is not None


def share_in_channel(engine: Engine, channel_id: str, user: str, files: Iterable[SharedFile], thread_ts: str,
                     now: datetime) -> int | None:
    """Images one of an order's people shared in its channel: recorded (source channel), each read after the
    ack, and a reply in the message's thread saying they go on the order's next version. Returns the order's id,
    or None when nothing was taken (not an order's channel, a closed order, not one of its people, no new
    image)."""
    # a Slack Connect file comes as its id alone: its type is asked of files.info when it is read (a non-image is
    # left out then)
    images = [f for f in files if f.mimetype in IMAGE_TYPES or f.ask_slack]
    if not images:
        return None
    with session_scope(engine) as session:
        order = session.exec(select(ServiceOrder).where(ServiceOrder.channel_id == channel_id)).first()
        if order is None or order.id is None or not takes_evidence(order) or not of_the_order(session, order, user):
            return None
        taken = record(session, order.id, images, Source.CHANNEL, user, now)
        if not taken:  # all of them already on the order
            return None
        names = tuple(session.get(OrderAttachment, i).name for i in taken)  # type: ignore[union-attr]
        reply = Message(None, evidence=Evidence(names, thread_ts))
        queue_effects(session, [
            (order.id, EffectKind.MESSAGE.value, f"{order.id}:evidence:{thread_ts}", reply.to_json()),
            (order.id, EffectKind.CARD.value, f"{order.id}:card:evidence:{thread_ts}", Card().to_json()),
            *((order.id, EffectKind.FETCH_FILE.value, f"{order.id}:file:{i}", FetchFile(i).to_json())
              for i in taken)], now)
        return order.id
