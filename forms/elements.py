"""Block Kit building blocks as plain dicts, and reading a submitted view's state back.

forms/ stays free of Slack clients: views are data; tests validate them with slack_sdk.models. What forms/
shows is plain text (no mrkdwn, no Slack escaping), in the reader's language; `section`, `context` and `mrkdwn`
are here for bot/'s surfaces, which build their own markup.
"""

from __future__ import annotations

from typing import Any

from i18n import Language, english

View = dict[str, Any]
Block = dict[str, Any]
Values = dict[str, dict[str, dict[str, Any]]]


def plain(text: str, limit: int = 3000) -> dict[str, Any]:
    return {"type": "plain_text", "text": _cut(text, limit), "emoji": True}


def mrkdwn(text: str, limit: int = 3000) -> dict[str, Any]:
    return {"type": "mrkdwn", "text": _cut(text, limit)}


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def section(text: str) -> Block:
    return {"type": "section", "text": mrkdwn(text)}


def text_section(text: str) -> Block:
    """A section of plain text: what a person typed shows as typed, with nothing Slack could read as markup."""
    return {"type": "section", "text": plain(text)}


def actions_block(block_id: str, elements: list[dict[str, Any]]) -> Block:
    return {"type": "actions", "block_id": block_id, "elements": elements}


def context(text: str) -> Block:
    return {"type": "context", "elements": [mrkdwn(text)]}


def text_context(text: str) -> Block:
    return {"type": "context", "elements": [plain(text)]}


def header(text: str) -> Block:
    return {"type": "header", "text": plain(text, 150)}


def input_block(block_id: str, label: str, element: dict[str, Any], *, optional: bool = False,
                hint: str | None = None) -> Block:
    block: Block = {"type": "input", "block_id": block_id, "label": plain(label, 2000), "element": element,
                    "optional": optional}
    if hint:
        block["hint"] = plain(hint, 2000)
    return block


def text_input(action_id: str, *, max_length: int, multiline: bool = False, initial: str | None = None,
               placeholder: str | None = None) -> dict[str, Any]:
    element: dict[str, Any] = {"type": "plain_text_input", "action_id": action_id, "multiline": multiline,
                               "max_length": max_length}
    if initial:
        element["initial_value"] = initial[:max_length]
    if placeholder:
        element["placeholder"] = plain(placeholder, 150)
    return element


def number_input(action_id: str, *, initial: str | None = None, placeholder: str | None = None) -> dict[str, Any]:
    element: dict[str, Any] = {"type": "number_input", "action_id": action_id, "is_decimal_allowed": True}
    if initial is not None:
        element["initial_value"] = initial
    if placeholder:
        element["placeholder"] = plain(placeholder, 150)
    return element


def option(value: str, text: str) -> dict[str, Any]:
    return {"text": plain(text, 75), "value": value[:150]}


def external_select(action_id: str, placeholder: str, *, initial: dict[str, Any] | None = None) -> dict[str, Any]:
    element: dict[str, Any] = {"type": "external_select", "action_id": action_id,
                               "placeholder": plain(placeholder, 150), "min_query_length": 0}
    if initial:
        element["initial_option"] = initial
    return element


def static_select(action_id: str, options: list[tuple[str, str]], initial: str | None = None) -> dict[str, Any]:
    opts = [option(value, text) for value, text in options]
    element: dict[str, Any] = {"type": "static_select", "action_id": action_id, "options": opts}
    chosen = [o for o in opts if o["value"] == initial]
    if chosen:
        element["initial_option"] = chosen[0]
    return element


def datepicker(action_id: str, initial: str | None = None) -> dict[str, Any]:
    element: dict[str, Any] = {"type": "datepicker", "action_id": action_id}
    if initial:
        element["initial_date"] = initial
    return element


def users_select(action_id: str, placeholder: str) -> dict[str, Any]:
    return {"type": "multi_users_select", "action_id": action_id, "placeholder": plain(placeholder, 150)}


def button(action_id: str, text: str, value: str = "", style: str | None = None) -> dict[str, Any]:
    element: dict[str, Any] = {"type": "button", "action_id": action_id, "text": plain(text, 75), "value": value}
    if style:
        element["style"] = style
    return element


def modal(lang: Language, callback_id: str, title: str, submit: str, blocks: list[Block],
          private_metadata: str) -> View:
    return {"type": "modal", "callback_id": callback_id, "title": plain(title, 24),
            "submit": plain(submit, 24), "close": plain(lang.p_("modal button", "Cancel"), 24), "blocks": blocks,
            "private_metadata": private_metadata}


NOTICE = "notice"  # the callback of every notice: its close is acknowledged, nothing else


def notice(title: str, text: str, lang: Language | None = None) -> View:
    """A modal that only says something, in plain text (no submit button)."""
    lang = lang or english()
    return {"type": "modal", "callback_id": NOTICE, "title": plain(title, 24),
            "close": plain(lang.p_("modal button", "Close"), 24), "blocks": [text_section(text)]}


# --- reading a view_submission's state ---------------------------------------------------------------


def element_state(values: Values, block_id: str) -> dict[str, Any]:
    """The state of the one element in an input block (an absent block reads as empty)."""
    block = values.get(block_id) or {}
    return next(iter(block.values()), {}) if isinstance(block, dict) else {}


# C0 control characters but tab and line feed: Slack's inputs cannot produce them, PostgreSQL refuses NUL in
# text, and the PDF has no glyph for them
_CONTROLS = dict.fromkeys(c for c in range(32) if c not in (9, 10)) | {127: None}


def clean(raw: object) -> str:
    """Typed text as we keep it: a string without control characters (anything else reads as empty)."""
    return raw.translate(_CONTROLS) if isinstance(raw, str) else ""


def read_text(values: Values, block_id: str) -> str:
    return clean(element_state(values, block_id).get("value")).strip()


def read_option(values: Values, block_id: str) -> str:
    chosen = element_state(values, block_id).get("selected_option") or {}
    raw = chosen.get("value") if isinstance(chosen, dict) else None
    return raw if isinstance(raw, str) else ""


def read_date(values: Values, block_id: str) -> str:
    raw = element_state(values, block_id).get("selected_date")
    return raw if isinstance(raw, str) else ""


def read_users(values: Values, block_id: str) -> list[str]:
    raw = element_state(values, block_id).get("selected_users") or []
    return [u for u in raw if isinstance(u, str)] if isinstance(raw, list) else []


class FormErrors(ValueError):
    """What a form's reader typed that cannot be read: worded in the form's language, keyed by block id."""

    def __init__(self, errors: dict[str, str]) -> None:
        super().__init__("; ".join(f"{k}: {v}" for k, v in errors.items()))
        self.errors = errors


class Collector:
    """Gathers field errors while a form is parsed, so the user sees all of them at once; `lang` words them."""

    def __init__(self, lang: Language) -> None:
        self.lang = lang
        self.errors: dict[str, str] = {}

    def add(self, block_id: str, message: str) -> None:
        self.errors.setdefault(block_id, message)

    def raise_if_any(self) -> None:
        if self.errors:
            raise FormErrors(self.errors)
