"""`view.state.values` entries as Slack puts them in view_submission / block_actions payloads.

Each helper returns what Slack sends at values[block_id][action_id] for one element type
(shapes as in bolt-python's tests/scenario_tests and Slack's interaction-payload reference).
`complete_values` then does what Slack's client does before it submits a modal: every input block
gets an entry (initial value, or an empty one), required inputs must be filled, and a chosen option must
be one the element offers.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable
from typing import Any

Entry = dict[str, Any]


def option(value: str, text: str | None = None) -> dict[str, Any]:
    # text None = "take it from the view's options" (filled by complete_values).
    return {"text": {"type": "plain_text", "text": text, "emoji": True}, "value": value}


def plain_text(value: str | None) -> Entry:
    return {"type": "plain_text_input", "value": value or None}


def email(value: str | None) -> Entry:
    return {"type": "email_text_input", "value": value or None}


def url(value: str | None) -> Entry:
    return {"type": "url_text_input", "value": value or None}


def number(value: int | float | str | None) -> Entry:
    return {"type": "number_input", "value": None if value is None or value == "" else str(value)}


def date(iso: str | None) -> Entry:
    return {"type": "datepicker", "selected_date": iso}


def timepicker(hhmm: str | None) -> Entry:
    return {"type": "timepicker", "selected_time": hhmm}


def static(value: str | None, text: str | None = None) -> Entry:
    return {"type": "static_select", "selected_option": None if value is None else option(value, text)}


def external(value: str | None, text: str | None) -> Entry:
    # External options exist only in the app's options response, so the caller names the text.
    return {
        "type": "external_select",
        "selected_option": None if value is None else option(value, text or value),
    }


def multi_static(values: Iterable[str | tuple[str, str]]) -> Entry:
    return {"type": "multi_static_select", "selected_options": [_opt(v) for v in values]}


def multi_external(values: Iterable[tuple[str, str]]) -> Entry:
    return {"type": "multi_external_select", "selected_options": [option(v, t) for v, t in values]}


def checkboxes(values: Iterable[str | tuple[str, str]]) -> Entry:
    return {"type": "checkboxes", "selected_options": [_opt(v) for v in values]}


def radio(value: str | None, text: str | None = None) -> Entry:
    return {"type": "radio_buttons", "selected_option": None if value is None else option(value, text)}


def users(ids: Iterable[str]) -> Entry:
    return {"type": "multi_users_select", "selected_users": list(ids)}


def user(user_id: str | None) -> Entry:
    return {"type": "users_select", "selected_user": user_id}


def conversation(channel_id: str | None) -> Entry:
    return {"type": "conversations_select", "selected_conversation": channel_id}


def channel(channel_id: str | None) -> Entry:
    return {"type": "channels_select", "selected_channel": channel_id}


def files(objects: Iterable[dict[str, Any]]) -> Entry:
    """A file_input's state: Slack's file objects of the files the person chose (FakeSlack.upload_as)."""
    return {"type": "file_input", "files": [copy.deepcopy(o) for o in objects]}


def _opt(v: str | tuple[str, str]) -> dict[str, Any]:
    return option(v[0], v[1]) if isinstance(v, tuple) else option(v)


# key holding the user's choice, and its empty value, per element type
_SLOT: dict[str, tuple[str, Any]] = {
    "plain_text_input": ("value", None),
    "email_text_input": ("value", None),
    "url_text_input": ("value", None),
    "number_input": ("value", None),
    "datepicker": ("selected_date", None),
    "timepicker": ("selected_time", None),
    "datetimepicker": ("selected_date_time", None),
    "static_select": ("selected_option", None),
    "external_select": ("selected_option", None),
    "radio_buttons": ("selected_option", None),
    "multi_static_select": ("selected_options", []),
    "multi_external_select": ("selected_options", []),
    "checkboxes": ("selected_options", []),
    "users_select": ("selected_user", None),
    "multi_users_select": ("selected_users", []),
    "conversations_select": ("selected_conversation", None),
    "multi_conversations_select": ("selected_conversations", []),
    "channels_select": ("selected_channel", None),
    "multi_channels_select": ("selected_channels", []),
    "rich_text_input": ("rich_text_value", None),
    "file_input": ("files", []),
}
_INITIAL = {
    "value": "initial_value",
    "selected_date": "initial_date",
    "selected_time": "initial_time",
    "selected_date_time": "initial_date_time",
    "selected_option": "initial_option",
    "selected_options": "initial_options",
    "selected_user": "initial_user",
    "selected_users": "initial_users",
    "selected_conversation": "initial_conversation",
    "selected_conversations": "initial_conversations",
    "selected_channel": "initial_channel",
    "selected_channels": "initial_channels",
    "rich_text_value": "initial_value",
}


def _initial_entry(el: dict[str, Any]) -> Entry:
    etype = el.get("type", "")
    slot, empty = _SLOT.get(etype, ("value", None))
    init = el.get(_INITIAL.get(slot, ""))
    if init is not None and etype == "number_input":
        init = str(init)
    return {"type": etype, slot: copy.deepcopy(init) if init is not None else copy.deepcopy(empty)}


def _is_empty(entry: Entry) -> bool:
    slot, _ = _SLOT.get(entry.get("type", ""), ("value", None))
    return entry.get(slot) in (None, "", [])


def _offered(el: dict[str, Any]) -> list[dict[str, Any]]:
    opts = list(el.get("options") or [])
    for group in el.get("option_groups") or []:
        opts.extend(group.get("options") or [])
    return opts


def _resolve_options(el: dict[str, Any], entry: Entry, where: str) -> None:
    """A static choice must be one of the element's options; fill the option text Slack would send."""
    if entry["type"] not in ("static_select", "multi_static_select", "radio_buttons", "checkboxes"):
        return
    offered = {o.get("value"): o for o in _offered(el)}
    chosen = entry.get("selected_options") if "selected_options" in entry else [entry.get("selected_option")]
    for opt in chosen or []:
        if opt is None:
            continue
        match = offered.get(opt.get("value"))
        if match is None:
            raise ValueError(f"{where}: {opt.get('value')!r} is not an option of this {entry['type']}")
        opt["text"] = copy.deepcopy(match.get("text"))


def _stateful_elements(view: dict[str, Any]) -> list[tuple[dict[str, Any], dict[str, Any]]]:
    out = []
    for block in view.get("blocks") or []:
        if block.get("type") == "input" and isinstance(block.get("element"), dict):
            out.append((block, block["element"]))
        elif block.get("type") == "section" and isinstance(block.get("accessory"), dict):
            out.append((block, block["accessory"]))
        elif block.get("type") == "actions":
            out.extend((block, el) for el in block.get("elements") or [])
    return [(b, e) for b, e in out if e.get("type") in _SLOT]


def complete_values(
    view: dict[str, Any], given: dict[str, dict[str, Entry]], check_required: bool = True
) -> dict[str, dict[str, Entry]]:
    given = copy.deepcopy(given)
    result: dict[str, dict[str, Entry]] = {}
    for block, el in _stateful_elements(view):
        bid, aid = block.get("block_id"), el.get("action_id")
        where = f"values[{bid!r}][{aid!r}]"
        entry = (given.get(bid) or {}).pop(aid, None)
        if entry is None:
            if block.get("type") != "input":
                continue  # non-input elements report state only once touched
            entry = _initial_entry(el)
        elif entry.get("type") != el.get("type"):
            raise ValueError(f"{where} is a {el.get('type')}, not a {entry.get('type')}")
        _resolve_options(el, entry, where)
        if check_required and block.get("type") == "input" and not block.get("optional") and _is_empty(entry):
            raise ValueError(f"{where}: required input is empty; Slack's client would refuse to submit")
        result.setdefault(bid, {})[aid] = entry
    leftovers = [f"{b}/{a}" for b, acts in given.items() for a in acts]
    if leftovers:
        raise ValueError(f"values for elements not in the view: {', '.join(leftovers)}")
    return result
