"""A field worker's stints on an order: removed by a crew change and added back, a worker gets a new stint
(issue 15 follow-up). Driven as Slack drives it (signed requests into the running bot, the loopback fake
answering): each version keeps the crew it had, in its PDF and in `field_workers`, and the worker is on the
crew (App Home, the steps an assigned worker may take) only during their stints."""

from __future__ import annotations

from sqlmodel import Session, select

from storage.models import Assignment
from tests.conftest import COORDINATOR, WORKER, WORKER2
from tests.test_reminders import Timed
from tests.test_reschedule_crew import approved, pdf_text, ws  # noqa: F401 (the workspace fixture)
from workflow.queries import field_workers
from workflow.service import is_assigned


def test_a_worker_removed_and_added_back_has_two_stints_and_each_version_its_crew(ws: Timed) -> None:  # noqa: F811
    order_id = approved(ws, [WORKER, WORKER2])
    assert ws.change_crew(COORDINATOR, order_id, workers=[WORKER2], note="Another site").text == ""
    ws.settle()
    # between the stints: not on the crew, so no App Home entry and no field worker's steps
    ws.slack.event({"type": "app_home_opened", "user": WORKER, "tab": "home"})
    ws.wait(lambda: ws.fake.home_view(WORKER) is not None, "the worker's home")
    assert "SO-000001" not in str(ws.fake.home_view(WORKER))
    ws.click_step(WORKER, order_id, "order_confirm")
    ws.wait(lambda: [e for e in ws.fake.ephemerals if e["user"] == WORKER], "the refusal")
    assert ws.top_view(WORKER) is None

    assert ws.change_crew(COORDINATOR, order_id, workers=[WORKER2, WORKER], note="Back again").text == ""
    ws.settle()
    with Session(ws.engine) as session:
        stints = sorted((a.user_id, a.added_in_version, a.removed_in_version)
                        for a in session.exec(select(Assignment).where(Assignment.order_id == order_id)))
        crews = [set(field_workers(session, order_id, number)) for number in (1, 2, 3)]
        now = field_workers(session, order_id)
        assigned = is_assigned(session, order_id, WORKER)
    assert stints == [(WORKER, 1, 2), (WORKER, 3, None), (WORKER2, 1, None)]
    assert crews == [{WORKER, WORKER2}, {WORKER2}, {WORKER, WORKER2}]
    assert sorted(now) == sorted([WORKER, WORKER2]) and len(now) == 2  # one entry each, two stints or not
    assert assigned

    v1, v2, v3 = (pdf_text(ws, f"SO-000001-v{n}.pdf") for n in (1, 2, 3))
    assert "Jürgen Müller" in v1 and "Ana Peñalolén" in v1
    assert "Removed people: Jürgen Müller" in v2 and v2.count("Jürgen Müller") == 1
    assert "Jürgen Müller" in v3 and "Removed people" not in v3
    # on the crew again: the order is back in their App Home and they may take its steps
    ws.slack.event({"type": "app_home_opened", "user": WORKER, "tab": "home"})
    ws.wait(lambda: "SO-000001" in str(ws.fake.home_view(WORKER)), "the order back in the worker's home")
    ws.click_step(WORKER, order_id, "order_confirm")
    ws.wait(lambda: ws.top_view(WORKER) is not None, "the confirmation form")
