"""views.* methods, trigger ids and modal stacks.

Slack rules modelled (views.open/push/update/publish ref pages, docs.slack.dev/surfaces/modals):
- a trigger_id is single use and expires 3 s after the interaction that produced it;
- a modal holds at most 3 views: views.open plus 2 views.push (push_limit_reached);
- views.update with a stale `hash` answers hash_conflict; each stored version gets a new hash;
- a view_submission ack may `update`, `push`, `clear` or (empty body) close the submitted view.
"""

from __future__ import annotations

import copy
from typing import Any

from .state import ModalStack, Trigger, Workspace
from .validation import BlocksFormatError, coerce_json, fill_ids, validate_view, view_too_large
from .webapi import ApiError, Args, invalid_arguments, method

TRIGGER_TTL = 3.0
MAX_STACK = 3


def issue_trigger(
    ws: Workspace, user_id: str, view_id: str | None = None, issued_at: float | None = None
) -> str:
    tid = ws.minter.trigger_id()
    ws.triggers[tid] = Trigger(user_id, ws.now() if issued_at is None else issued_at, view_id)
    return tid


def _trigger(ws: Workspace, args: Args) -> tuple[str, Trigger]:
    tid = args.str("trigger_id") or args.str("interactivity_pointer")
    if not tid:
        raise invalid_arguments("invalid `trigger_id`")  # views.open.json error example
    trig = ws.triggers.get(tid)
    if trig is None:
        raise ApiError("invalid_trigger_id")
    if trig.used:
        raise ApiError("exchanged_trigger_id")
    if ws.now() - trig.issued_at > TRIGGER_TTL:
        raise ApiError("expired_trigger_id")
    return tid, trig


def _view_arg(args: Args, allowed: tuple[str, ...]) -> dict[str, Any]:
    try:
        view = coerce_json(args.data.get("view"), "view")
    except BlocksFormatError as e:
        raise invalid_arguments(str(e)) from None
    if view is None:
        raise invalid_arguments("[ERROR] missing required field: view")
    problems = validate_view(view, allowed)
    if problems:
        raise invalid_arguments(*problems)
    if view_too_large(view):
        raise ApiError("view_too_large")
    return view


def _check_external_id(ws: Workspace, view: dict[str, Any], keep: str | None = None) -> None:
    ext = view.get("external_id")
    if ext and any(v.get("external_id") == ext and v["id"] != keep for v in ws.views.values()):
        raise ApiError("duplicate_external_id")


def _plain(obj: Any) -> Any:
    if isinstance(obj, str):  # Slack accepts a bare string for title/submit/close
        obj = {"type": "plain_text", "text": obj}
    if isinstance(obj, dict) and obj.get("type") == "plain_text":
        return {"emoji": True, **obj}
    return obj


def store_view(
    ws: Workspace,
    vid: str,
    view: dict[str, Any],
    user_id: str,
    root: str,
    previous: str | None,
    external_id: str = "",
) -> dict[str, Any]:
    """The view object as Slack returns it and later sends it in payloads."""
    stored: dict[str, Any] = {
        "id": vid,
        "team_id": ws.team_id,
        "type": view["type"],
        "blocks": fill_ids(view["blocks"], ws.minter.short),
        "private_metadata": view.get("private_metadata", ""),
        "callback_id": view.get("callback_id", ""),
        "state": {"values": {}},
        "hash": ws.minter.view_hash(),
        "clear_on_close": bool(view.get("clear_on_close", False)),
        "notify_on_close": bool(view.get("notify_on_close", False)),
        "close": _plain(view.get("close")),
        "submit": _plain(view.get("submit")),
        "previous_view_id": previous,
        "root_view_id": root,
        "app_id": ws.app_id,
        "external_id": view.get("external_id") or external_id,
        "app_installed_team_id": ws.team_id,
        "bot_id": ws.bot_id,
    }
    if view.get("title") is not None:
        stored["title"] = _plain(view["title"])
    ws.views[vid] = stored
    ws.view_owner[vid] = user_id
    return stored


def _open_modal(ws: Workspace, user_id: str, view: dict[str, Any]) -> dict[str, Any]:
    for stack in ws.stacks.values():  # one modal on screen per user: a new one replaces it
        if stack.user_id == user_id:
            stack.closed = True
    vid = ws.minter.id("V")
    stored = store_view(ws, vid, view, user_id, vid, None)
    ws.stacks[vid] = ModalStack(user_id, [vid])
    ws.opened_views.append((user_id, copy.deepcopy(stored)))
    return stored


def push_onto(ws: Workspace, stack: ModalStack, view: dict[str, Any]) -> dict[str, Any]:
    if len(stack.view_ids) >= MAX_STACK:
        raise ApiError("push_limit_reached")
    vid = ws.minter.id("V")
    stored = store_view(ws, vid, view, stack.user_id, stack.view_ids[0], stack.view_ids[-1])
    stack.view_ids.append(vid)
    ws.opened_views.append((stack.user_id, copy.deepcopy(stored)))
    return stored


@method(
    "views.open",
    errors=(
        "invalid_trigger_id",
        "exchanged_trigger_id",
        "expired_trigger_id",
        "view_too_large",
        "duplicate_external_id",
    ),
)
def views_open(ws: Workspace, args: Args) -> dict[str, Any]:
    _, trig = _trigger(ws, args)  # checked "before getting to any possible validation errors" (ref example)
    view = _view_arg(args, ("modal",))
    _check_external_id(ws, view)
    trig.used = True
    return {"view": copy.deepcopy(_open_modal(ws, trig.user_id, view))}


@method(
    "views.push",
    errors=(
        "invalid_trigger_id",
        "exchanged_trigger_id",
        "expired_trigger_id",
        "view_too_large",
        "duplicate_external_id",
        "not_found",
        "push_limit_reached",
    ),
)
def views_push(ws: Workspace, args: Args) -> dict[str, Any]:
    _, trig = _trigger(ws, args)
    view = _view_arg(args, ("modal",))
    _check_external_id(ws, view)
    # The trigger must come from an interaction inside the open modal the view is pushed onto.
    stack = ws.stack_of_view(trig.view_id) if trig.view_id else ws.open_stack_of(trig.user_id)
    if stack is None or stack.closed:
        raise ApiError("not_found")
    stored = push_onto(ws, stack, view)
    trig.used = True
    return {"view": copy.deepcopy(stored)}


def _live_view(ws: Workspace, view_id: str) -> dict[str, Any] | None:
    stored = ws.views.get(view_id)
    if stored is None:
        return None
    if stored["type"] == "modal":
        stack = ws.stack_of_view(view_id)
        if stack is None or stack.closed or view_id not in stack.view_ids:
            return None  # a closed modal can't be updated
    return stored


@method("views.update", errors=("not_found", "hash_conflict", "view_too_large", "duplicate_external_id"))
def views_update(ws: Workspace, args: Args) -> dict[str, Any]:
    view_id, external_id = args.str("view_id"), args.str("external_id")
    if not view_id and not external_id:
        raise invalid_arguments("[ERROR] either view_id or external_id is required")
    if not view_id:
        view_id = next((v["id"] for v in ws.views.values() if v.get("external_id") == external_id), "")
    current = _live_view(ws, view_id or "")
    if current is None:
        raise ApiError("not_found")
    view = _view_arg(args, (current["type"],))
    h = args.str("hash")
    if h and h != current["hash"]:
        raise ApiError("hash_conflict")
    _check_external_id(ws, view, keep=current["id"])
    return {"view": copy.deepcopy(replace_view(ws, current, view))}


def replace_view(ws: Workspace, current: dict[str, Any], view: dict[str, Any]) -> dict[str, Any]:
    stored = store_view(
        ws,
        current["id"],
        view,
        ws.view_owner[current["id"]],
        current["root_view_id"],
        current["previous_view_id"],
        external_id=current.get("external_id", ""),
    )
    stored["state"] = current.get("state", {"values": {}})  # inputs keep what the user typed
    return stored


@method("views.publish", errors=("not_enabled", "hash_conflict", "view_too_large", "duplicate_external_id"))
def views_publish(ws: Workspace, args: Args) -> dict[str, Any]:
    user_id = args.str("user_id")
    if not user_id or user_id not in ws.users:
        raise invalid_arguments("invalid `user_id`")  # views.publish.json error example
    view = _view_arg(args, ("home",))
    if not ws.home_tab_enabled:
        raise ApiError("not_enabled")
    existing = ws.views.get(ws.home_views.get(user_id, ""))
    h = args.str("hash")
    if h and existing is not None and h != existing["hash"]:
        raise ApiError("hash_conflict")
    vid = existing["id"] if existing else ws.minter.id("V")
    _check_external_id(ws, view, keep=vid)
    ws.home_views[user_id] = vid
    return {"view": copy.deepcopy(store_view(ws, vid, view, user_id, vid, None))}


# ----------------------------------------------------------------------------------------------------------
# What the user's side of Slack does (used by the inbound driver)


def close_view(ws: Workspace, view_id: str) -> bool:
    """The user closes a view: a pushed view goes back to the previous one, unless it has clear_on_close
    (then, like closing the root view, the whole modal goes). Returns True when several views were cleared."""
    stack = ws.stack_of_view(view_id)
    if stack is None or stack.closed:
        return False
    idx = stack.view_ids.index(view_id)
    if idx == 0 or ws.views[view_id].get("clear_on_close"):
        cleared = len(stack.view_ids) > 1
        stack.closed = True
        return cleared
    del stack.view_ids[idx:]
    return False


def set_state(ws: Workspace, view_id: str, values: dict[str, Any]) -> None:
    if view_id in ws.views:
        ws.views[view_id]["state"] = {"values": copy.deepcopy(values)}


def apply_submission_ack(ws: Workspace, view_id: str, body: dict[str, Any] | None) -> list[str]:
    """Carry out a view_submission ack as Slack would; returns why Slack would refuse it (empty if fine)."""
    stack = ws.stack_of_view(view_id)
    if stack is None or stack.closed:
        return [f"view {view_id} is not open"]
    action = (body or {}).get("response_action")
    if action is None:
        # Empty ack: the submitted view closes; closing the root view closes the modal.
        idx = stack.view_ids.index(view_id)
        del stack.view_ids[idx:]
        stack.closed = not stack.view_ids
        return []
    if action == "clear":
        stack.closed = True
        return []
    if action == "errors":
        errors = (body or {}).get("errors")
        if not isinstance(errors, dict) or not errors:
            return ["response_action errors needs a non-empty `errors` object"]
        inputs = {b.get("block_id") for b in ws.views[view_id]["blocks"] if b.get("type") == "input"}
        bad = sorted(k for k in errors if k not in inputs)
        return (
            [f"`errors` keys must be block_ids of input blocks in the view; not: {', '.join(bad)}"]
            if bad
            else []
        )
    if action in ("update", "push"):
        new = (body or {}).get("view")
        problems = validate_view(new, ("modal",))
        if problems:
            return problems
        assert isinstance(new, dict)
        try:
            if action == "update":
                replace_view(ws, ws.views[view_id], new)
            else:
                push_onto(ws, stack, new)
        except ApiError as e:
            return [e.error]
        return []
    return [f"unknown response_action {action!r}"]
