"""Installed from a link: a person's request from a workspace the app is not installed in (never installed, or
uninstalled) is answered in its ack, before Bolt's authorize, as `only_this_workspace` answers another workspace's
with SLACK_BOT_TOKEN: Bolt's own answer is a plain-text body a form or a picker cannot show, or for a command a
POST to its response_url, a Slack call inside the ack."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from slack_bolt import BoltResponse

from bot.install_flow import NOT_INSTALLED_HERE
from bot.installs import Installations
from bot.workspace import installation_of, refusal
from i18n import Language

log = logging.getLogger(__name__)

# what a person does; events (the uninstall's own among them), url_verification and ssl_check go on to Bolt
ANSWERED = frozenset({"block_actions", "block_suggestion", "view_submission", "view_closed", "shortcut",
                      "message_action"})


def not_installed_here(installations: Installations, lang: Language) -> Callable[..., BoltResponse]:
    """Bolt's before_authorize middleware. The words are `lang`'s, the provider's: we know no language of a
    workspace that has no installation."""

    def answer(body: dict[str, Any], next: Callable[[], BoltResponse]) -> BoltResponse:  # noqa: A002
        if "command" not in body and body.get("type") not in ANSWERED:
            return next()
        team, org = installation_of(body)
        if team and installations.bot(team, org) is not None:
            return next()
        log.warning("refused a %s from workspace %s: the app is not installed there",
                    "command" if "command" in body else body.get("type"), str(team)[:32])
        return refusal(body, lang, lang._(NOT_INSTALLED_HERE))

    return answer
