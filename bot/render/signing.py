"""The client's signature in Slack's words: the link handed over, the client's answer, the signed copy's title
and comment, and why someone may not ask."""

from __future__ import annotations

from zoneinfo import ZoneInfo

from bot.mrkdwn import bold, esc, mention
from i18n import Language
from i18n.domain import STATES_IN_SENTENCE, who_may
from storage.models import SignatureRequest
from workflow.clock import aware
from workflow.document import SignedCopy
from workflow.errors import FilesBeingRead
from workflow.signing import ASKERS, MayNotAsk, NotSignable, Outcome

ASK_SIGNATURE = "ask_signature"  # the card's button (bot/listeners/signing.py answers it)


def link_message(number: str, request: SignatureRequest, link: str, lang: Language, zone: str) -> str:
    until = lang.datetime(aware(request.expires_at), ZoneInfo(zone))
    label = lang._("Sign {document}").format(document=f"{number} v{request.version}")
    return lang._(":writing_hand: {person} asked the client to sign {document}. Hand the client this link: it "
                  "opens the document and a page to sign it, works once, until {until}.\n{link}").format(
        person=mention(request.asked_by), document=bold(f"{number} v{request.version}"), until=until,
        link=f"<{link}|{esc(label)}>")


def answer_message(number: str, request: SignatureRequest, lang: Language, zone: str) -> str:
    when = lang.datetime(aware(request.used_at), ZoneInfo(zone)) if request.used_at else ""
    document, name = bold(f"{number} v{request.version}"), esc(request.signer_name or "")
    if request.outcome == Outcome.DISPUTED:
        return lang._(":warning: {document} was disputed by {name} ({when}): {comment}").format(
            document=document, name=name, when=when, comment=esc(request.comment or ""))
    return lang._(":white_check_mark: {document} was signed by {name} ({when}). The signed copy follows.").format(
        document=document, name=name, when=when)


def signed_title(copy: SignedCopy, lang: Language) -> str:
    words = (lang._("{number} v{version}, signed by {name}") if copy.signature.outcome == Outcome.ACCEPTED else
             lang._("{number} v{version}, disputed by {name}"))
    return words.format(
        number=copy.document.order_number, version=copy.document.version, name=copy.signature.name)


def signed_comment(copy: SignedCopy, lang: Language) -> str:
    words = (lang._("The signed copy of {number} v{version} · fingerprint {fingerprint}")
             if copy.signature.outcome == Outcome.ACCEPTED else
             lang._("The disputed copy of {number} v{version} · fingerprint {fingerprint}"))
    return words.format(number=copy.document.order_number, version=copy.document.version,
                        fingerprint=copy.fingerprint[:12])


def not_set_up(missing: tuple[str, ...], lang: Language) -> str:
    return lang._("Client signatures are not set up yet: an admin must set {settings} (see the README's "
                  "settings), then the bot makes links clients can open.").format(settings=", ".join(missing))


def asking_refused(refusal: MayNotAsk | NotSignable | FilesBeingRead, lang: Language) -> str:
    if isinstance(refusal, FilesBeingRead):
        return lang._("{number} v{version}'s photos and files are still being read from Slack: ask the client to "
                      "sign in a moment.").format(number=refusal.number, version=refusal.version)
    if isinstance(refusal, NotSignable):
        return lang._("{number} is {state}: a client signs an approved order, or the closing record of a completed "
                      "or not performed one.").format(
            number=refusal.number, state=lang._(STATES_IN_SENTENCE[refusal.state]))
    return lang._("Only {who} can ask the client to sign {number}.").format(
        who=who_may(lang, ASKERS.roles, ASKERS.assigned_field_worker), number=refusal.number)
