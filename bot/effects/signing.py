"""The client's signature, in the order's channel: the link handed over (signature_asked), the client's answer
(signature_given) and the signed copy's PDF (upload_signed). A closed order whose channel is archived hears
them by direct message, as every effect does (`Effects.by_dm`, `Effects.tell_people`)."""

from __future__ import annotations

import logging

from sqlmodel import Session

from bot.effects.base import MAX_TEXT, Claim, Effects, Record
from bot.effects.pdf import conversations, share
from bot.render.signing import answer_message, link_message, signed_comment, signed_title
from storage.models import ServiceOrder, SignatureRequest
from workflow.effects import Signing
from workflow.issuing import issue_signed
from workflow.vocabulary import order_number

log = logging.getLogger("bot.effects")


def _request(fx: Effects, effect: Claim) -> tuple[SignatureRequest, ServiceOrder]:
    payload = effect.payload
    assert isinstance(payload, Signing)
    with Session(fx.engine, expire_on_commit=False) as session:
        request = session.get(SignatureRequest, payload.request)
        assert request is not None, f"{effect.key}: no signature request {payload.request}"
    return request, fx.order(request.order_id)


def asked(fx: Effects, effect: Claim) -> None:
    """The link, for the field worker to hand over; by direct message to whoever asked when the channel is
    archived (a link is not for everyone the order involves)."""
    request, order = _request(fx, effect)
    if fx.links is None or not fx.links.public_url:  # the settings were taken away since: nothing to hand over
        log.warning("%s: no link made: PUBLIC_URL or SIGNATURE_LINK_SECRET is not set any more", effect.key)
        return None
    number, link = order_number(order.number), fx.links.link(request.nonce)
    if fx.by_dm(order, effect):
        text = link_message(number, request, link, fx.reader_language(request.asked_by),
                            fx.letterhead.provider.timezone)
        fx.direct_message(effect, request.asked_by, text[:MAX_TEXT], f"{effect.key}:dm")
        return None
    text = link_message(number, request, link, fx.provider_language, fx.letterhead.provider.timezone)
    fx.post(effect, fx.channel(order), text[:MAX_TEXT])
    return None


def given(fx: Effects, effect: Claim) -> None:
    """'SO-… v3 was signed by …', or disputed with the comment."""
    request, order = _request(fx, effect)
    number, zone = order_number(order.number), fx.letterhead.provider.timezone
    fx.say(effect, order, lambda lang: answer_message(number, request, lang, zone))
    return None


def upload(fx: Effects, effect: Claim) -> Record | None:
    """The signed copy's PDF (rendered from its frozen document, its first render's hash recorded), shared
    once, with a ticket as a version's PDF is."""
    request, order = _request(fx, effect)
    where = conversations(fx, effect, order)
    if not where:
        return None
    assert request.id is not None
    signed, lang = issue_signed(fx.engine, request.id), fx.provider_language
    share(fx, effect, where, signed.copy.filename, signed.pdf, signed_title(signed.copy, lang),
          signed_comment(signed.copy, lang))
    return None
