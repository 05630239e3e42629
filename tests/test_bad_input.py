"""Bad input reaching the running bot, as Slack would carry it: each gets one line the person can read (on the
form's field, in the modal, or as an ephemeral answer), never an HTTP 500, and nothing is stored."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import func
from sqlmodel import Session, select

from bot.settings import Settings, SettingsError
from i18n import english
from sandbox.local import LocalWorkspace
from storage.models import AuditEvent, LineItem, OrderVersion, PendingEffect, ServiceOrder
from tests.conftest import REQUESTER, SUPERVISOR, WORKER
from tests.test_end_to_end import PEOPLE, submit
from tests.test_security import forged_submission
from tests.test_tracking import answer
from workflow.limits import Limits

DIGITS = "Enter the quantity in digits, like 2 or 2.5 (no other signs or spaces)."


def days_ahead(days: int) -> str:
    return (datetime.now(UTC) + timedelta(days=days)).date().isoformat()


@pytest.fixture
def ws(seeded) -> Iterator[LocalWorkspace]:  # type: ignore[no-untyped-def]
    with LocalWorkspace(seeded, PEOPLE) as workspace:
        yield workspace


def stored(ws: LocalWorkspace) -> tuple[int, ...]:
    """How many orders, versions, audit events and effects the database holds."""
    with Session(ws.engine) as session:
        return tuple(session.exec(select(func.count()).select_from(model)).one()
                     for model in (ServiceOrder, OrderVersion, AuditEvent, PendingEffect))


def errors_of(ack) -> dict[str, str]:  # type: ignore[no-untyped-def]
    assert ack.status == 200, ack.text
    body = ack.json()
    assert body["response_action"] == "errors", body
    return body["errors"]


def order_with(ws: LocalWorkspace, **changes: object) -> dict[str, str]:
    """Submit the order form with `changes`, and return the field errors it got; nothing may be stored."""
    before = stored(ws)
    args: dict = dict(client="acme", site="hq", items=[("hvac", "2")], requested=days_ahead(3), description="d")
    args.update(changes)
    errors = errors_of(ws.submit_order(REQUESTER, **args))
    assert stored(ws) == before
    ws.slack.close(REQUESTER, ws.top_view(REQUESTER))  # as the person gives up on it
    return errors


@pytest.mark.parametrize("typed", ["1_000", "１２", "1e6", "1,000", "2,5", "+3", "0x1F", "NaN", "Infinity", "1 5"])
def test_a_quantity_is_ascii_digits_with_one_decimal_point(ws: LocalWorkspace, typed: str) -> None:
    assert order_with(ws, items=[("hvac", typed)]) == {"qty_0": DIGITS}


def test_a_quantity_however_long_gets_the_largest_allowed(ws: LocalWorkspace) -> None:
    assert order_with(ws, items=[("hvac", "9" * 400)]) == {"qty_0": "Enter at most 1,000,000."}


@pytest.mark.parametrize("line, message", [
    ("1 | Crane | h | 1e3", "Line 1: write the price in digits, like 2 or 2.5"),
    ("1 | Crane | h | 1_000", "Line 1: write the price in digits, like 2 or 2.5"),
    ("１ | Crane", f"Line 1: {DIGITS}"),
    ("1 | Crane | h | " + "9" * 300, "Line 1: a price may be at most 9,999,999,999.9999"),
])
def test_a_free_item_line_reads_numbers_the_same_way(ws: LocalWorkspace, line: str, message: str) -> None:
    assert order_with(ws, free_items=line) == {"free_items": message}


def test_a_line_above_the_ceiling_is_refused_naming_the_limit(ws: LocalWorkspace) -> None:
    # a million at the largest price a line may carry: near 10^16 before this limit existed
    assert order_with(ws, free_items="1000000 | Gold-plated crane | h | 9999999999") == {"free_items": (
        "“Gold-plated crane” comes to 9,999,999,999,000,000.00 USD, above the limit of 1,000,000,000 USD "
        "for one line.")}


def test_an_order_total_above_the_ceiling_with_tax_is_refused(seeded) -> None:  # type: ignore[no-untyped-def]
    # 450 + 400 is within a ceiling of 1,000; with 19 % tax the order comes to 1,011.50
    with LocalWorkspace(seeded, PEOPLE, limits=Limits(ceiling=Decimal(1000), tax_rate=Decimal("0.19"))) as ws:
        errors = order_with(ws, items=[("hvac", "10")], free_items="1 | Crane | h | 400")
        assert errors == {"item_0": "The order would come to 1,011.50 USD with tax, above the limit of 1,000 USD "
                                   "for one order."}
        assert order_with(ws, items=[("hvac", "10")], free_items="1 | Crane | h | 1001") == {"free_items": (
            "“Crane” comes to 1,001.00 USD, above the limit of 1,000 USD for one line.")}


@pytest.mark.parametrize("requested, message", [
    ("9999-12-31", "Pick a requested date by {latest}, at most 730 days ahead."),
    ("0001-01-01", "The requested date is in the past."),
])
def test_a_requested_date_runs_from_today_to_the_horizon(ws: LocalWorkspace, requested: str, message: str) -> None:
    errors = order_with(ws, requested=requested)
    assert set(errors) == {"requested_date"}
    # "today" is the requester's; nobody's today is more than a day from UTC's
    latest = {english().date(date.fromisoformat(days_ahead(730 + shift))) for shift in (-1, 0, 1)}
    assert errors["requested_date"] in {message.format(latest=day) for day in latest}


def test_a_scheduled_date_past_the_horizon_is_refused(ws: LocalWorkspace) -> None:
    order_id = submit(ws)
    before = stored(ws)
    errors = errors_of(ws.approve(SUPERVISOR, order_id, workers=[WORKER], scheduled="9999-12-31"))
    assert list(errors) == ["scheduled_date"] and errors["scheduled_date"].startswith("Pick a scheduled date by ")
    assert stored(ws) == before and ws.order(order_id).state == "pending_approval"


def test_a_confirmation_that_takes_a_line_over_the_ceiling_is_refused_on_its_row(ws: LocalWorkspace) -> None:
    order_id = submit(ws)
    ws.approve(SUPERVISOR, order_id, workers=[WORKER], scheduled=days_ahead(3))
    ws.settle()
    before = stored(ws)
    errors = errors_of(ws.confirm(WORKER, order_id, changes=[("hvac", "3")], note="bigger",
                                  free_items="100000 | Diamond drill | h | 99999"))
    assert errors == {"free_items": "“Diamond drill” comes to 9,999,900,000.00 USD, above the limit of "
                                    "1,000,000,000 USD for one line."}
    assert stored(ws) == before


def test_an_order_number_too_large_for_any_order_is_answered(ws: LocalWorkspace) -> None:
    for number in ("SO-" + "9" * 30, "9" * 400, "SO-2147483648"):
        assert answer(ws, REQUESTER, f"status {number}")["text"].startswith("Which order?")
    assert answer(ws, REQUESTER, "status SO-2147483647")["text"] == (
        "There is no order SO-2147483647. `/order list` shows the ones you have.")


@pytest.mark.parametrize("value", ["9" * 30 + ":0", "1:" + "9" * 30, "１:0", "-1:0", "1", ":", "1:0:0", ""])
def test_a_card_button_carrying_a_bad_value_is_answered(ws: LocalWorkspace, value: str) -> None:
    order_id = submit(ws)
    order = ws.order(order_id)
    before, told = stored(ws), len(ws.fake.ephemerals)
    assert ws.slack.click(SUPERVISOR, order.channel_id, order.card_ts, "order_approve", value=value).status == 200
    ws.wait(lambda: len(ws.fake.ephemerals) > told, "the refusal")
    assert ws.fake.ephemerals[-1]["text"] == "This button could not be read; the card may be out of date."
    assert stored(ws) == before


@pytest.mark.parametrize("metadata", [
    {"order_id": 10**30}, {"order_id": 2**31}, {"revision": 10**30}, {"revision": -1}, {"rows": 10**30},
    {"order_id": "1"}, {"order_id": True}, {"locale": "xx"}, {"rows": 1.5},
])
def test_a_form_carrying_bad_metadata_is_refused_in_the_modal(ws: LocalWorkspace, metadata: dict) -> None:
    order_id = submit(ws)
    form = ws.open_step(SUPERVISOR, order_id, "approve")
    before = stored(ws)
    body = forged_submission(ws, SUPERVISOR, form, **metadata)
    assert body["response_action"] == "update"
    assert "This form could not be read; please open it again." in json.dumps(body["view"])
    assert stored(ws) == before


def test_a_list_page_button_carrying_a_huge_offset_shows_the_first_page(ws: LocalWorkspace) -> None:
    submit(ws)
    first = answer(ws, REQUESTER, "list")
    payload = ws.slack._common("block_actions", REQUESTER) | {
        "container": {"type": "message", "message_ts": first["ts"], "is_ephemeral": True},
        "response_url": ws.fake.new_response_url(ws.general, REQUESTER, first["ts"]),
        "actions": [{"action_id": "order_list_next", "block_id": "order_list_pager", "type": "button",
                     "value": "mine:" + "9" * 40, "action_ts": "1.2"}],
    }
    assert ws.slack._post_payload(payload).status == 200
    ws.wait(lambda: ws.fake.calls_to("response_url"), "the page")
    page = ws.fake.calls_to("response_url")[-1].args
    assert page["replace_original"] is True and "1–1 of 1" in json.dumps(page["blocks"], ensure_ascii=False)


def test_control_characters_in_typed_text_are_dropped(ws: LocalWorkspace) -> None:
    # Slack's inputs cannot produce them; a payload can, and PostgreSQL refuses NUL in text
    assert ws.submit_order(REQUESTER, client="acme", site="hq", items=[("hvac", "2")], requested=days_ahead(3),
                           description="Fix\x00 the\x07 pump\r\nthen test", free_items="1 | Seal\x00 kit").text == ""
    ws.settle()
    order = ws.order(ws.latest_order_id())
    assert order.description == "Fix the pump\nthen test"
    with Session(ws.engine) as session:
        assert "Seal kit" in {line.description for line in session.exec(select(LineItem))}


@pytest.mark.parametrize("typed", ["hv\x00ac", "%%%_\\", "x" * 5000, "   "])
def test_anything_typed_into_a_catalog_picker_gets_options(ws: LocalWorkspace, typed: str) -> None:
    assert ws.slack.command(REQUESTER, "/order").status == 200
    view = ws.wait_for_view(REQUESTER, "submit_order")
    answer = ws.slack.suggest(REQUESTER, view, "line_item", "item_0", typed)
    assert answer.status == 200 and isinstance(answer.json()["options"], list)
    if typed == "hv\x00ac":
        assert [o["value"] for o in answer.json()["options"]] == ["service:HVAC-MNT"]


@pytest.mark.parametrize("payload", [
    {"type": "block_actions", "actions": [{"action_id": "order_approve", "value": "1:0"}]},  # no user
    {"type": "block_actions", "user": {"id": REQUESTER}, "actions": "none"},
    {"type": "block_actions", "user": {"id": REQUESTER}, "actions": [{"action_id": "add_item_rows"}]},  # no view
    {"type": "view_submission", "user": {"id": REQUESTER}, "view": {"callback_id": "submit_order", "state": 7}},
    {"type": "view_submission", "user": {"id": REQUESTER}, "view": {"callback_id": "approve",
                                                                   "private_metadata": "[1, 2]"}},
    {"type": "view_closed", "user": {"id": REQUESTER}, "view": {"callback_id": "approve"}},
    {"type": "block_suggestion", "user": {"id": REQUESTER}, "action_id": "line_item", "value": ["x"]},
    {"type": "block_suggestion", "user": {"id": REQUESTER}, "action_id": "site", "value": 7, "view": "v"},
    {"type": "shortcut", "user": {"id": REQUESTER}, "callback_id": "nothing_of_ours"},
])
def test_a_signed_payload_of_the_wrong_shape_gets_no_server_error(ws: LocalWorkspace, payload: dict) -> None:
    before = stored(ws)
    sent = ws.slack._common(payload["type"], REQUESTER) | payload
    if "user" not in payload:
        sent.pop("user", None)
    answer = ws.slack._post_payload(sent)
    assert answer.status < 500, answer.text
    assert stored(ws) == before


@pytest.mark.parametrize("fields", [
    {"command": "/order", "text": "status"},  # no user
    {"command": "/order", "user_id": REQUESTER, "text": "list " + "x" * 5000},
    {"command": "/order", "user_id": REQUESTER, "text": "\x00\x01 status"},
])
def test_a_signed_slash_command_of_the_wrong_shape_gets_no_server_error(ws: LocalWorkspace, fields: dict) -> None:
    before = stored(ws)
    answer = ws.slack._post_form({"team_id": ws.slack.team_id, "channel_id": ws.general} | fields)
    assert answer.status < 500, answer.text
    assert stored(ws) == before


@pytest.mark.parametrize("env, message", [
    ({"AMOUNT_CEILING": "1e9"}, "AMOUNT_CEILING must be an amount in digits above 0 and at most 9,999,999,999 "
                                "(a dot for decimals), not '1e9'"),
    ({"AMOUNT_CEILING": "0"}, "AMOUNT_CEILING must be an amount in digits above 0"),
    ({"AMOUNT_CEILING": "99999999999"}, "at most 9,999,999,999"),
    ({"DATE_HORIZON_DAYS": "3651"}, "DATE_HORIZON_DAYS must be a whole number from 1 to 3650, not '3651'"),
    ({"DATE_HORIZON_DAYS": "２"}, "DATE_HORIZON_DAYS must be a whole number from 1 to 3650, not '２'"),
])
def test_a_limit_setting_out_of_range_is_one_line(env: dict, message: str) -> None:
    with pytest.raises(SettingsError) as caught:
        Settings.from_env({"SLACK_BOT_TOKEN": "xoxb-1", "SLACK_SIGNING_SECRET": "s"} | env)
    assert message in str(caught.value) and "\n" not in str(caught.value)


def test_limit_settings_reach_the_service() -> None:
    settings = Settings.from_env({"SLACK_BOT_TOKEN": "xoxb-1", "SLACK_SIGNING_SECRET": "s", "AMOUNT_CEILING": "2500.5",
                                  "DATE_HORIZON_DAYS": "90", "TAX_RATE_PERCENT": "19"})
    assert settings.limits == Limits(ceiling=Decimal("2500.5"), tax_rate=Decimal("0.19"), horizon_days=90)


def test_slacks_notice_that_it_holds_back_events_is_acknowledged(ws: LocalWorkspace) -> None:
    before = stored(ws)
    answer = ws.slack._post_payload({"token": ws.slack.verification_token, "type": "app_rate_limited",
                                     "team_id": ws.slack.team_id, "minute_rate_limited": 1518467820,
                                     "api_app_id": ws.slack.api_app_id})
    assert (answer.status, answer.text) == (200, "") and stored(ws) == before


def test_an_order_over_a_ceiling_lowered_since_may_come_down_but_not_go_up(seeded) -> None:  # type: ignore[no-untyped-def]
    with LocalWorkspace(seeded, PEOPLE) as first:  # 3 h of HVAC (135), 10 bags of cement (74), a skip (80)
        order_id = submit(first)
        first.approve(SUPERVISOR, order_id, workers=[WORKER], scheduled=days_ahead(3))
        first.settle()
        # the bot restarted with a lower ceiling, on the same Slack
        with LocalWorkspace(seeded, PEOPLE, fake=first.fake, limits=Limits(ceiling=Decimal(200))) as ws:
            before = stored(ws)
            errors = errors_of(ws.confirm(WORKER, order_id, changes=[("hvac", "4")], note="one more hour"))
            assert errors == {"item_0": "The order would come to 334.00 USD with tax, above the limit of 200 USD "
                                        "for one order."}
            assert stored(ws) == before
            ws.slack.close(WORKER, ws.top_view(WORKER))
            assert ws.confirm(WORKER, order_id, changes=[("hvac", "2")], note="one hour less").text == ""
            ws.settle()
            assert ws.order(order_id).current_version == 2


def test_an_order_number_with_leading_zeros_is_the_same_order(ws: LocalWorkspace) -> None:
    submit(ws)
    assert answer(ws, REQUESTER, "status SO-0000000001")["text"].startswith("*SO-000001*")
