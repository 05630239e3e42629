"""Render Block Kit to plain text, for transcripts and assertion messages a person can read."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

Names = Callable[[str], str]  # user or channel id -> display name (the id itself when unknown)
ChannelNames = Callable[[str], str]  # channel id -> name


def iso(ts: str | float) -> str:
    return datetime.fromtimestamp(float(ts), UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def mrkdwn_to_plain(text: str, names: Names, channels: ChannelNames | None = None) -> str:
    """Resolve Slack's angle-bracket escapes: <@U1> -> @name, <#C1|x> -> #x, <url|label> -> label."""

    def sub(m: re.Match[str]) -> str:
        inner = m.group(1)
        target, _, label = inner.partition("|")
        if target.startswith("@"):
            return "@" + names(target[1:])
        if target.startswith("#"):
            return "#" + (label or (channels or names)(target[1:]))
        if target.startswith("!date^"):  # a date Slack writes in the reader's zone; its fallback is the closest
            return label or target
        if target.startswith("!"):
            return "@" + (label or target[1:].split("^")[0])
        return label or target

    return re.sub(r"<([^<>]+)>", sub, text).replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


def text_of(obj: Any, names: Names) -> str:
    if not isinstance(obj, dict):
        return ""
    return mrkdwn_to_plain(str(obj.get("text", "")), names)


def element_text(el: dict[str, Any], names: Names) -> str:
    """One interactive element as the user sees it: buttons as [Label], menus as [▾ choice]."""
    etype = el.get("type")
    if etype == "button":
        return f"[{text_of(el.get('text'), names)}]"
    if etype == "image":
        return f"[image: {el.get('alt_text', '')}]"
    if etype in ("plain_text", "mrkdwn"):
        return text_of(el, names)
    if etype == "overflow":
        return "[…]"
    if etype == "datepicker":
        return f"[📅 {el.get('initial_date') or text_of(el.get('placeholder'), names) or 'date'}]"
    if etype in ("static_select", "external_select", "radio_buttons"):
        chosen = el.get("initial_option")
        label = text_of(chosen.get("text"), names) if isinstance(chosen, dict) else ""
        return f"[▾ {label or text_of(el.get('placeholder'), names) or 'select'}]"
    if etype in ("users_select", "multi_users_select"):
        users = el.get("initial_users") or ([el["initial_user"]] if el.get("initial_user") else [])
        label = ", ".join(names(u) for u in users)
        return f"[▾ {label or text_of(el.get('placeholder'), names) or 'users'}]"
    if etype in ("plain_text_input", "number_input", "email_text_input", "url_text_input"):
        return f"[✎ {el.get('initial_value') or text_of(el.get('placeholder'), names)}]"
    if etype == "checkboxes":
        opts = el.get("options") or []
        return " ".join(f"[☐ {text_of(o.get('text'), names)}]" for o in opts)
    return f"[{etype}]"


def _rich_text(node: Any, names: Names) -> str:
    if isinstance(node, list):
        return "".join(_rich_text(n, names) for n in node)
    if not isinstance(node, dict):
        return ""
    t = node.get("type")
    if t == "text":
        return str(node.get("text", ""))
    if t == "user":
        return "@" + names(str(node.get("user_id", "")))
    if t == "link":
        return str(node.get("text") or node.get("url", ""))
    if t == "emoji":
        return f":{node.get('name', '')}:"
    if t == "rich_text_list":
        return "\n".join("• " + _rich_text(e, names) for e in node.get("elements", []))
    return _rich_text(node.get("elements", []), names) + ("\n" if t in ("rich_text_section",) else "")


def block_lines(block: dict[str, Any], names: Names) -> list[str]:
    btype = block.get("type")
    if btype == "header":
        return [f"== {text_of(block.get('text'), names)} =="]
    if btype == "section":
        lines = []
        if block.get("text"):
            lines.extend(text_of(block["text"], names).splitlines() or [""])
        for f in block.get("fields") or []:
            lines.extend(text_of(f, names).splitlines())
        if isinstance(block.get("accessory"), dict):
            acc = element_text(block["accessory"], names)
            lines = [*lines[:-1], f"{lines[-1]}  {acc}"] if lines else [acc]
        return lines
    if btype == "context":
        return [" · ".join(element_text(e, names) for e in block.get("elements") or [])]
    if btype == "actions":
        return [" ".join(element_text(e, names) for e in block.get("elements") or [])]
    if btype == "divider":
        return ["---"]
    if btype == "image":
        return [f"[image: {block.get('alt_text', '')}]"]
    if btype == "input":
        label = text_of(block.get("label"), names)
        optional = " (optional)" if block.get("optional") else ""
        return [f"{label}{optional}: {element_text(block.get('element') or {}, names)}"]
    if btype == "rich_text":
        return _rich_text(block.get("elements", []), names).rstrip("\n").splitlines()
    if btype == "markdown":
        return mrkdwn_to_plain(str(block.get("text", "")), names).splitlines()
    if btype == "file":
        return [f"[file {block.get('external_id', '')}]"]
    return [f"[{btype} block]"]


def blocks_to_text(blocks: list[dict[str, Any]], names: Names) -> str:
    lines: list[str] = []
    for b in blocks:
        lines.extend(block_lines(b, names))
    return "\n".join(lines)


def view_to_text(view: dict[str, Any], names: Names) -> str:
    """A modal or home tab as text: title, blocks, then the footer buttons."""
    head = f"┌ {text_of(view.get('title'), names) or view.get('type', 'view')}"
    body = blocks_to_text(view.get("blocks") or [], names)
    footer = " ".join(
        f"[{text_of(view[k], names)}]" for k in ("close", "submit") if isinstance(view.get(k), dict)
    )
    return "\n".join(x for x in (head, body, footer) if x)
