"""What a payload cannot do: every form submission and click re-checks the actor's role and the order's
state when it arrives, however it was made; every text field has a limit; secrets never reach a log line."""

from __future__ import annotations

import copy
import json
import logging

from sqlmodel import Session, select

from forms import order_form
from forms.metadata import FormMeta
from forms.step_forms import STEP_FORMS
from sandbox.local import SIGNING_SECRET, LocalWorkspace
from storage.models import AuditEvent
from tests.conftest import OUTSIDER, REQUESTER, SUPERVISOR, WORKER
from tests.test_end_to_end import PEOPLE, SOON, submit
from tests.test_forms import CARD, LINES

APPROVE_VALUES = {"field_workers": {"field_workers": {"type": "multi_users_select", "selected_users": [WORKER]}},
                  "scheduled_date": {"scheduled_date": {"type": "datepicker", "selected_date": SOON}}}


def forged_submission(ws: LocalWorkspace, user: str, view: dict, **metadata: object) -> dict:
    """A view_submission made by hand (as if from a leaked secret or a bug) and signed: `view` submitted
    by `user`, with its private_metadata changed as given."""
    view = copy.deepcopy(view)
    meta = json.loads(view["private_metadata"]) | metadata
    view["private_metadata"] = json.dumps(meta)
    view["state"] = {"values": APPROVE_VALUES}
    payload = ws.slack._common("view_submission", user) | {"trigger_id": "1.2.forged", "view": view,
                                                            "response_urls": []}
    answer = ws.slack._post_payload(payload)
    assert answer.status == 200
    return answer.json() if answer.text else {}


def audit(ws: LocalWorkspace) -> list[str]:
    with Session(ws.engine) as session:
        return [e.action for e in session.exec(select(AuditEvent).order_by(AuditEvent.id))]


def test_a_forged_submission_by_someone_without_the_role_changes_nothing(seeded) -> None:  # type: ignore[no-untyped-def]
    with LocalWorkspace(seeded, PEOPLE) as ws:
        order_id = submit(ws)
        form = ws.open_step(SUPERVISOR, order_id, "approve")
        for user in (REQUESTER, OUTSIDER):
            body = forged_submission(ws, user, form)
            assert body["response_action"] == "update"
            assert "Only a supervisor, a coordinator, or an admin can approve SO-000001." in json.dumps(body["view"])
        assert ws.order(order_id).state == "pending_approval" and audit(ws) == ["submit"]


def test_a_replayed_submission_changes_nothing(seeded) -> None:  # type: ignore[no-untyped-def]
    with LocalWorkspace(seeded, PEOPLE) as ws:
        order_id = submit(ws)
        form = ws.open_step(SUPERVISOR, order_id, "approve")
        assert ws.submit(SUPERVISOR, form, APPROVE_VALUES).text == ""
        ws.settle()
        body = forged_submission(ws, SUPERVISOR, form)  # the same submission again, later
        assert "approved, work in progress" in json.dumps(body["view"])
        assert audit(ws) == ["submit", "approve"]


def test_a_submission_pointed_at_an_order_that_does_not_exist_is_refused(seeded) -> None:  # type: ignore[no-untyped-def]
    with LocalWorkspace(seeded, PEOPLE) as ws:
        order_id = submit(ws)
        form = ws.open_step(SUPERVISOR, order_id, "approve")
        body = forged_submission(ws, SUPERVISOR, form, order_id=999)
        # an id is no order's number: the refusal names none (999 may be another workspace's order)
        assert body["response_action"] == "update" and "There is no such order." in json.dumps(body["view"])
        assert "999" not in json.dumps(body["view"])
        assert audit(ws) == ["submit"]


def test_every_text_field_has_a_limit() -> None:
    views = [order_form.build(FormMeta(rows=3), "2026-11-26")]
    views += [form.build(FormMeta(order_id=7, revision=3), CARD, LINES) for form in STEP_FORMS.values()]
    inputs = [block["element"] for view in views for block in view["blocks"]
              if block["type"] == "input" and block["element"]["type"] == "plain_text_input"]
    assert len(inputs) >= 6 and all(0 < element.get("max_length", 0) <= 3000 for element in inputs), inputs


def test_secrets_never_reach_a_log_line(seeded, caplog) -> None:  # type: ignore[no-untyped-def]
    caplog.set_level(logging.DEBUG)
    with LocalWorkspace(seeded, PEOPLE) as ws:
        ws.fake.fail_next("chat.postMessage", status=429, error="ratelimited", retry_after=1)
        order_id = submit(ws)
        ws.approve(SUPERVISOR, order_id, workers=[WORKER], scheduled=SOON)
        ws.settle()
        token = ws.fake.bot_token
        assert ws.bot is not None and token not in repr(ws.bot.ctx)
    logged = "\n".join(f"{record.getMessage()} {record.args!r}" for record in caplog.records)
    assert len(caplog.records) > 50  # slack_sdk and Bolt did log at DEBUG
    assert token not in logged and SIGNING_SECRET not in logged
