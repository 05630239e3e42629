"""Typeahead for the catalog pickers (external_select): answered from the database inside the ack,
so catalogs of any size work (Slack caps a static list at 100 options)."""

from __future__ import annotations

from typing import Any

from slack_bolt import Ack, App
from sqlmodel import Session

from bot.context import BotContext
from forms import order_form
from forms.elements import clean, option, read_option
from forms.items import ITEM_ACTION, catalog_option, item_options
from forms.metadata import BadMetadata, FormMeta
from i18n import language
from workflow.errors import WorkflowError
from workflow.queries import free_lines_matching, get_order, search_catalog, version_lines
from workflow.vocabulary import ItemKind


def typed(payload: dict[str, Any]) -> str:
    """What the person has typed into the picker so far."""
    return clean(payload.get("value"))[:200]


def _initial_client(view: dict[str, Any]) -> str:
    for block in view.get("blocks") or []:
        if isinstance(block, dict) and block.get("block_id") == order_form.CLIENT:
            chosen = (block.get("element") or {}).get("initial_option") or {}
            return clean(chosen.get("value"))[:64]
    return ""


def register(app: App, ctx: BotContext) -> None:
    def clients(ack: Ack, payload: dict[str, Any]) -> None:
        with Session(ctx.engine) as session:
            found = search_catalog(session, ("client",), typed(payload))
        ack(options=[option(e.code, f"{e.name} ({e.code})") for e in found])

    def sites(ack: Ack, payload: dict[str, Any], body: dict[str, Any]) -> None:
        values = ((body.get("view") or {}).get("state") or {}).get("values") or {}
        # a client picked now, else the one an Edit form came filled in with (not in the state until touched)
        client = read_option(values, order_form.CLIENT) or _initial_client(body.get("view") or {})
        if not client:
            ack(options=[])  # the field's hint says to pick the client first
            return
        with Session(ctx.engine) as session:
            found = search_catalog(session, ("site",), typed(payload), parent=client)
        ack(options=[option(e.code, f"{e.name} ({e.code})") for e in found])

    def items(ack: Ack, payload: dict[str, Any], body: dict[str, Any]) -> None:
        try:
            meta = FormMeta.load((body.get("view") or {}).get("private_metadata"))
        except BadMetadata:
            meta = FormMeta(locale=ctx.locale)
        lang = language(meta.locale)  # the form's: its options read as the rest of it
        with Session(ctx.engine) as session:
            found = search_catalog(session, (ItemKind.SERVICE.value, ItemKind.MATERIAL.value),
                                   typed(payload))
            if meta.order_id is None:
                ack(options=[catalog_option(e, lang, ctx.currency) for e in found])
                return
            try:
                order = get_order(session, meta.order_id)
            except WorkflowError:  # an order that is not there (a forged or very old form): nothing on it
                ack(options=[catalog_option(e, lang, ctx.currency) for e in found])
                return
            lines = version_lines(session, order.id, order.current_version)
        ack(**item_options(found, lang, ctx.currency, free_lines_matching(lines, typed(payload))))

    app.options(order_form.CLIENT)(clients)
    app.options(order_form.SITE)(sites)
    app.options(ITEM_ACTION)(items)
