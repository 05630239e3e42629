"""upload_pdf: a version's document, issued (frozen) the first time, shared in the order's channel once."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from sqlmodel import Session

from bot.effects.base import Claim, Effects, NotReady, Record, set_values
from bot.gateway import ErrorCode, SlackError
from bot.profiles import learn
from bot.render.notices import after_archiving, pdf_comment, pdf_title
from storage.models import ServiceOrder
from workflow.effects import UploadPdf
from workflow.errors import FilesBeingRead
from workflow.issuing import issue
from workflow.queries import closed_order_people, field_workers, version_row

log = logging.getLogger("bot.effects")


@dataclass(frozen=True)
class PdfView:
    order: ServiceOrder
    number: int  # the version
    shared: bool  # uploaded before: never twice
    people: list[str]  # whose names the document carries


def view(fx: Effects, effect: Claim) -> PdfView:
    payload = effect.payload
    assert isinstance(payload, UploadPdf)
    order = fx.order(effect.order_id)
    with Session(fx.engine) as session:
        version = version_row(session, order.id, payload.version)
        people = [order.requester_id, *(u for u in [order.approved_by, version.author_id] if u),
                  *field_workers(session, order.id, payload.version)]
    return PdfView(order, payload.version, version.pdf_file_id is not None, people)


def run(fx: Effects, effect: Claim) -> Record | None:
    seen = view(fx, effect)
    if seen.shared:
        return None
    order_id, number = seen.order.id, seen.number
    learn(fx.engine, fx.gateway, seen.people, fx.clock())  # the names the document will carry
    where = conversations(fx, effect, seen.order)
    if not where:
        return None
    try:
        issued = issue(fx.engine, order_id, number, fx.letterhead)  # frozen, and its hash recorded, the first time
    except FilesBeingRead as waiting:  # its photos are still being read (fetch_file, beside the chain)
        raise NotReady(f"v{number}'s files are still being read") from waiting
    document, lang = issued.document, fx.provider_language
    comment = pdf_comment(document.order_number, number, document.step, document.fingerprint, lang)
    if fx.by_dm(seen.order, effect):
        comment = after_archiving(document.order_number, seen.order.channel_id or "", comment, lang)
    file_id = share(fx, effect, where, document.filename, issued.pdf, pdf_title(document.order_number, number, lang),
                    comment)
    return lambda session: set_values(version_row(session, order_id, number), pdf_file_id=file_id)


def share(fx: Effects, effect: Claim, where: list[str], filename: str, content: bytes, title: str,
          comment: str) -> str:
    """A PDF shared once in `where` (one share reaches every conversation listed), and its file id: after a try
    whose answer never came, the file that try shared is looked for first (a version's PDF, a signed copy)."""
    file_id = _shared_before(fx, effect, where[0], filename) if effect.again else None
    if file_id is not None:
        return file_id
    return fx.gateway.upload_pdf(where if len(where) > 1 else where[0], filename, content, title, comment,
                                 ticketed=lambda ticket: _remember_ticket(fx, effect, ticket))


def conversations(fx: Effects, effect: Claim, order: ServiceOrder) -> list[str]:
    """The conversations a PDF is shared in: the order's channel; once a closed order's channel is archived,
    the app's direct messages with the order's people (one share reaches them all). None, said in the log,
    when not one of them can be told."""
    if not fx.by_dm(order, effect):
        return [fx.channel(order)]
    with Session(fx.engine) as session:
        people = closed_order_people(session, order)
    dms = []
    for user in people:
        try:
            dms.append(fx.gateway.open_dm(user))
        except SlackError as error:  # deactivated, or unknown: nobody to tell
            if error.code not in (ErrorCode.USER_DISABLED, ErrorCode.USER_NOT_FOUND):
                raise
            log.warning("%s: %s not told: Slack says %s", effect.key, user, error.code)
    if not dms:
        log.warning("%s: its channel is archived and none of its people can be told", effect.key)
    return dms


def _remember_ticket(fx: Effects, effect: Claim, file_id: str) -> None:
    """The upload's file id, on the effect before the share is asked for: an earlier try's share is then
    asked about by id, not looked for in a channel that may not show it yet."""
    effect.data["ticket"] = file_id
    fx.save_data(effect)


def _shared_before(fx: Effects, effect: Claim, channel: str, filename: str) -> str | None:
    """The file an earlier try of this effect shared, if it did."""
    ticket = effect.data.get("ticket")
    if ticket is not None:
        return str(ticket) if fx.gateway.completed(ticket) else None
    # no upload got as far as its share (or the try predates tickets): look among the channel's files
    return fx.gateway.find_file(channel, filename)
