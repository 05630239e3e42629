"""Block Kit and view validation the way Slack applies it on the server side.

slack_sdk's models catch most limits (text lengths, field counts, option counts); Slack additionally rejects
a few things the models let through and that bots commonly get wrong: empty text objects, duplicate
block_ids, a modal with input blocks but no submit button, unknown view properties.
Messages are phrased like Slack's `response_metadata.messages`: "[ERROR] <why> [json-pointer:<where>]".
"""

from __future__ import annotations

import json
from typing import Any

from slack_sdk.models.blocks import Block
from slack_sdk.models.views import View

MESSAGE_BLOCK_LIMIT = 50  # docs.slack.dev/reference/block-kit/blocks
VIEW_BLOCK_LIMIT = 100
VIEW_MAX_BYTES = 250 * 1024  # views.open.json: view_too_large "greater than 250kb"

# Properties an app may send in a view payload (docs.slack.dev/reference/views); anything else is an
# "invalid additional property" for Slack.
_VIEW_PROPERTIES = {
    "modal": {
        "type",
        "title",
        "blocks",
        "close",
        "submit",
        "private_metadata",
        "callback_id",
        "clear_on_close",
        "notify_on_close",
        "external_id",
    },
    "home": {"type", "blocks", "private_metadata", "callback_id", "external_id"},
}
_INTERACTIVE = {
    "button",
    "static_select",
    "external_select",
    "users_select",
    "conversations_select",
    "channels_select",
    "multi_static_select",
    "multi_external_select",
    "multi_users_select",
    "multi_conversations_select",
    "multi_channels_select",
    "overflow",
    "datepicker",
    "timepicker",
    "datetimepicker",
    "checkboxes",
    "radio_buttons",
    "plain_text_input",
    "number_input",
    "email_text_input",
    "url_text_input",
    "rich_text_input",
    "file_input",
}


def _block_types() -> frozenset[str]:
    """Block types slack_sdk's models know (Block.parse would only log and skip any other)."""

    def subclasses(cls: type) -> list[type]:
        return [s for c in cls.__subclasses__() for s in (c, *subclasses(c))]

    return frozenset(t for c in subclasses(Block) if isinstance(t := getattr(c, "type", None), str))


_BLOCK_TYPES = _block_types()


class BlocksFormatError(ValueError):
    """`blocks` is not a JSON array of objects: Slack's invalid_blocks_format."""


def coerce_json(value: Any, what: str) -> Any:
    """Form-encoded calls carry blocks/view as JSON strings; JSON calls carry them as structures."""
    if isinstance(value, str):
        try:
            return json.loads(value)
        except json.JSONDecodeError as e:
            raise BlocksFormatError(f"[ERROR] {what} is not valid JSON: {e.msg}") from e
    return value


def validate_blocks(blocks: Any, limit: int = MESSAGE_BLOCK_LIMIT, pointer: str = "/blocks") -> list[str]:
    """Return Slack-style error messages for a message's or view's blocks; empty list when valid."""
    if not isinstance(blocks, list) or not all(isinstance(b, dict) for b in blocks):
        raise BlocksFormatError(f"[ERROR] must be an array of objects [json-pointer:{pointer}]")
    errors: list[str] = []
    if len(blocks) > limit:
        errors.append(f"[ERROR] no more than {limit} items allowed [json-pointer:{pointer}]")
    seen_block_ids: set[str] = set()
    for i, raw in enumerate(blocks):
        where = f"{pointer}/{i}"
        block_id = raw.get("block_id")
        if block_id is not None:
            if block_id in seen_block_ids:
                errors.append(f"[ERROR] duplicate block_id: {block_id} [json-pointer:{where}/block_id]")
            seen_block_ids.add(block_id)
        errors.extend(_empty_text_objects(raw, where))
        errors.extend(_duplicate_action_ids(raw, where))
        errors.extend(_file_inputs(raw, where))
        if raw.get("type") == "header" and (raw.get("text") or {}).get("type") != "plain_text":
            errors.append(f"[ERROR] must be a plain_text object [json-pointer:{where}/text]")
        if raw.get("type") not in _BLOCK_TYPES:
            errors.append(f"[ERROR] unsupported type: {raw.get('type')} [json-pointer:{where}/type]")
            continue
        try:
            block = Block.parse(raw)
            assert block is not None
            block.validate_json()
        except Exception as e:  # SlackObjectFormationError, TypeError on unknown kwargs, KeyError...
            errors.append(f"[ERROR] {e} [json-pointer:{where}]")
    return errors


def validate_view(view: Any, allowed_types: tuple[str, ...]) -> list[str]:
    """Return Slack-style error messages for a view payload; empty list when valid."""
    if not isinstance(view, dict):
        return ["[ERROR] must be an object [json-pointer:/view]"]
    vtype = view.get("type")
    if vtype not in allowed_types:
        return [f"[ERROR] must be one of {', '.join(allowed_types)} [json-pointer:/view/type]"]
    errors = [
        f"[ERROR] invalid additional property: {k} [json-pointer:/view]"
        for k in sorted(set(view) - _VIEW_PROPERTIES[vtype])
    ]
    if vtype == "modal" and not view.get("title"):
        errors.append("[ERROR] missing required field: title [json-pointer:/view]")
    if "blocks" not in view:
        errors.append("[ERROR] missing required field: blocks [json-pointer:/view]")
        return errors
    blocks = view["blocks"]
    if isinstance(blocks, list) and all(isinstance(b, dict) for b in blocks):
        if vtype == "modal" and any(b.get("type") == "input" for b in blocks) and not view.get("submit"):
            errors.append(
                "[ERROR] must provide a submit property when using input blocks [json-pointer:/view]"
            )
        try:
            errors.extend(validate_blocks(blocks, VIEW_BLOCK_LIMIT, "/view/blocks"))
        except BlocksFormatError as e:
            errors.append(str(e))
    else:
        errors.append("[ERROR] must be an array of objects [json-pointer:/view/blocks]")
        return errors
    for key in ("title", "submit", "close"):
        if isinstance(view.get(key), dict):
            errors.extend(_empty_text_objects(view[key], f"/view/{key}"))
    if not errors:
        try:
            View(**view).validate_json()
        except Exception as e:
            errors.append(f"[ERROR] {e} [json-pointer:/view]")
    return errors


def view_too_large(view: dict[str, Any]) -> bool:
    return len(json.dumps(view).encode()) > VIEW_MAX_BYTES


def fill_ids(blocks: list[dict[str, Any]], mint: Any) -> list[dict[str, Any]]:
    """Slack stores blocks with a block_id on every block and an action_id on every interactive element,
    minting short random ones where the app gave none; payloads then carry those ids."""
    out = json.loads(json.dumps(blocks))
    for block in out:
        block.setdefault("block_id", mint())
        for el in _elements(block):
            if el.get("type") in _INTERACTIVE:
                el.setdefault("action_id", mint())
    return out


def _elements(block: dict[str, Any]) -> list[dict[str, Any]]:
    els: list[dict[str, Any]] = []
    if isinstance(block.get("accessory"), dict):
        els.append(block["accessory"])
    if isinstance(block.get("element"), dict):
        els.append(block["element"])
    if block.get("type") == "actions" and isinstance(block.get("elements"), list):
        els.extend(e for e in block["elements"] if isinstance(e, dict))
    return els


def _file_inputs(block: dict[str, Any], where: str) -> list[str]:
    """A file_input lives only in an input block (docs.slack.dev: "Works with block types: Input"), takes
    max_files from 1 to 10 and filetypes as an array of extensions; slack_sdk's model checks none of it."""
    errors = []
    for i, el in enumerate(_elements(block)):
        if el.get("type") != "file_input":
            continue
        at = f"{where}/element" if block.get("type") == "input" else f"{where}/elements/{i}"
        if block.get("type") != "input":
            errors.append(f"[ERROR] file_input is only allowed in an input block [json-pointer:{at}]")
        max_files = el.get("max_files", 10)
        if not isinstance(max_files, int) or isinstance(max_files, bool) or not 1 <= max_files <= 10:
            errors.append(f"[ERROR] must be between 1 and 10 [json-pointer:{at}/max_files]")
        types = el.get("filetypes")
        if types is not None and (not isinstance(types, list) or not all(isinstance(t, str) and t for t in types)):
            errors.append(f"[ERROR] must be an array of strings [json-pointer:{at}/filetypes]")
    return errors


def _duplicate_action_ids(block: dict[str, Any], where: str) -> list[str]:
    seen: set[str] = set()
    errors = []
    for el in _elements(block):
        aid = el.get("action_id")
        if aid is None:
            continue
        if aid in seen:
            errors.append(f"[ERROR] duplicate action_id: {aid} [json-pointer:{where}]")
        seen.add(aid)
    return errors


def _empty_text_objects(node: Any, where: str) -> list[str]:
    """Slack rejects text objects whose text is empty ("must be more than 0 characters")."""
    errors: list[str] = []
    if isinstance(node, dict):
        if node.get("type") in ("plain_text", "mrkdwn") and "text" in node:
            text = node.get("text")
            if not isinstance(text, str) or text == "":
                errors.append(f"[ERROR] must be more than 0 characters [json-pointer:{where}/text]")
        for k, v in node.items():
            if isinstance(v, dict | list):
                errors.extend(_empty_text_objects(v, f"{where}/{k}"))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            errors.extend(_empty_text_objects(v, f"{where}/{i}"))
    return errors
