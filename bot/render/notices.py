"""What the effect runner says in an order's channel on its own account (people it could not add, a channel
that moved) and the words on a version's PDF upload, in the provider's language."""

from __future__ import annotations

from enum import StrEnum

from bot.mrkdwn import SLACK, Marks, esc
from i18n import N_, Language
from workflow.attachments import LeftOut
from workflow.shared_files import MAX_BYTES, MAX_PIXELS
from workflow.vocabulary import Action

# why Slack would not add someone to the order's channel, by Slack's error code
REFUSALS = {
    "cant_invite": N_("their Slack account is deactivated"),
    "user_not_found": N_("Slack does not know this user"),
    "user_is_restricted": N_("they are a guest who cannot join this channel"),
}


def could_not_add(refused: list[tuple[str, str]], lang: Language, marks: Marks = SLACK) -> str:
    lines = [lang._("Could not add to this channel:")]
    for user, code in refused:
        why = lang._(REFUSALS[code]) if code in REFUSALS else lang._("Slack said {code}").format(code=code)
        lines.append(f"• {marks.person(user)}: {why}")
    lines.append(lang._("A supervisor or coordinator can assign someone else with a confirmation."))
    return "\n".join(lines)


class ChannelGone(StrEnum):
    ARCHIVED = "archived"
    APP_REMOVED = "app_removed"  # the channel is there, without the app
    NOT_FOUND = "not_found"  # the app was removed from it, or it was deleted


_WHY = {
    ChannelGone.ARCHIVED: N_("was archived"),
    ChannelGone.APP_REMOVED: N_("no longer has the app in it"),
    ChannelGone.NOT_FOUND: N_("no longer lets the app in (it was removed from the channel, or the channel was "
                              "deleted)"),
}


def continues_here(number: str, old_channel: str, why: ChannelGone, lang: Language, marks: Marks = SLACK) -> str:
    return lang._("{number} continues here: its channel {channel} {why}. Earlier documents stay in that channel; "
                  "new versions and steps come here.").format(number=number, channel=marks.channel(old_channel),
                                                               why=lang._(_WHY[why]))


_WHAT_VERSION = {
    Action.APPROVE: N_("the approved original"),
    Action.CONFIRM: N_("a confirmation"),
    Action.RESCHEDULE: N_("a new schedule"),
    Action.CHANGE_CREW: N_("a crew change"),
    Action.SET_PRICES: N_("new prices"),
    Action.COMPLETE: N_("the closing record"),
    Action.NOT_PERFORM: N_("the closing record"),
}


def pdf_title(number: str, version: int, lang: Language) -> str:
    return lang._("{number} version {version}").format(number=number, version=version)


def pdf_comment(number: str, version: int, step: str, fingerprint: str, lang: Language) -> str:
    """The words posted with a version's PDF: which version, made by which step, and its fingerprint."""
    what = _WHAT_VERSION.get(step, N_("a new version"))  # Action is a StrEnum: the step's name finds it
    return lang._("{number} version {version} ({what}) · fingerprint {fingerprint}").format(
        number=number, version=version, what=lang._(what), fingerprint=fingerprint[:12])


def archiving(number: str, closed_as: str, lang: Language) -> str:
    """The last message in a closed order's channel, before it is archived: where its documents stay."""
    return lang._("{number} is closed ({state}), so this channel is archived now. Its documents stay here, under "
                  "Files, and `/order status {number}` links them.").format(number=number, state=closed_as)


def after_archiving(number: str, channel: str, message: str, lang: Language, marks: Marks = SLACK) -> str:
    """What a closed order still has to say once its channel is archived, told by direct message."""
    return lang._("{number} (its channel {channel} is archived): {message}").format(
        number=number, channel=marks.channel(channel), message=message)


def evidence_taken(number: str, names: tuple[str, ...], lang: Language) -> str:
    """The thread reply to photos shared in an order's channel: an issued version is frozen, so they go on the
    next one."""
    return lang.n_("{number}: {files} goes on the order's next version.",
                   "{number}: {files} go on the order's next version.",
                   len(names)).format(number=number, files=lang.list([f"“{esc(n)}”" for n in names]))


_LEFT_OUT = {
    LeftOut.GONE: N_("Slack no longer has it (it was deleted)"),
    LeftOut.TOO_LARGE: N_("it is larger than {size} MB"),
    LeftOut.UNREADABLE: N_("it cannot be read (damaged or cut short)"),
    LeftOut.NOT_ITS_TYPE: N_("it is not the kind of file its name and type say"),
    LeftOut.TOO_MANY_PIXELS: N_("the picture is larger than {megapixels} megapixels"),
    LeftOut.NOT_A_PHOTO: N_("only photos shared in the channel are taken"),
    LeftOut.NOT_READ: N_("Slack did not let the bot read it (an admin may need to check the app's permissions)"),
}


def left_out(number: str, name: str, reason: LeftOut, lang: Language) -> str:
    """A photo or file left out of the order's evidence once it was read, and why."""
    return lang._("{number}: “{name}” was left out of the order's photos and files: {why}. Upload it again if it "
                  "is needed.").format(number=number, name=esc(name),
                                       why=lang._(_LEFT_OUT[reason]).format(
                                           size=lang.number(MAX_BYTES // 2**20),
                                           megapixels=lang.number(MAX_PIXELS // 10**6)))
