"""Routing (issue 16): a client or a site names its supervisors and coordinators in the catalog, by Slack
member id or by e-mail (looked up with users.lookupByEmail when the file is imported). Its orders then go to
those people only: invited to the order's channel, asked to review, reminded, escalated to, and shown the
order in App Home, `/order list` and `/order status`. A client that names nobody routes to everyone, as before.
Everything through the command and signed requests into the running bot, against the fake Slack."""

from __future__ import annotations

import os
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine
from sqlmodel import Session, select

from sandbox.local import LocalWorkspace, manifest_scopes
from sandbox.slackfake.server import FakeSlack
from storage.models import CatalogEntry, Routing
from tests.conftest import COORDINATOR, OUTSIDER, REQUESTER, SUPERVISOR, WORKER
from tests.test_app_home import open_home, text
from tests.test_cli import cli, closed_port
from tests.test_end_to_end import PEOPLE
from tests.test_processes import database_url
from tests.test_reminders import START, Timed
from tests.test_tracking import answer
from workflow.catalog import import_csv
from workflow.people import grant
from workflow.vocabulary import Role

SUPERVISOR2, COORDINATOR2 = "U0SUP2", "U0COORD2"
# the fake gives each person the e-mail first-name@example.com: sue@example.com, cody@example.com
STAFF = {**PEOPLE, SUPERVISOR2: "Sue Second", COORDINATOR2: "Cody Coordinator"}
HEADER = "kind,code,name,unit,unit_price,parent,address,contact,supervisors,coordinators\n"
SOON = (datetime.now(UTC) + timedelta(days=3)).date().isoformat()


@pytest.fixture
def staffed(seeded: Engine) -> Engine:
    grant(seeded, SUPERVISOR2, [Role.SUPERVISOR])
    grant(seeded, COORDINATOR2, [Role.COORDINATOR])
    return seeded


@pytest.fixture
def ws(staffed: Engine) -> Iterator[LocalWorkspace]:
    with LocalWorkspace(staffed, STAFF) as workspace:
        yield workspace


def catalog(tmp_path: Path, body: str, header: str = HEADER) -> Path:
    path = tmp_path / "routing.csv"
    path.write_text(header + body, encoding="utf-8")
    return path


def routing(engine: Engine) -> set[tuple[str, str, str, str]]:
    with Session(engine) as session:
        return {(r.kind, r.code, r.role, r.user_id) for r in session.exec(select(Routing))}


def clients(engine: Engine) -> set[str]:
    with Session(engine) as session:
        return set(session.exec(select(CatalogEntry.code).where(CatalogEntry.kind == "client")))


def slack_env(engine: Engine, fake: FakeSlack) -> dict[str, str]:
    """The command's environment: this database, and the fake Slack's token and URL."""
    base = {k: v for k, v in os.environ.items() if not k.startswith("SLACK_")}
    return {**base, "DATABASE_URL": database_url(engine), "SLACK_BOT_TOKEN": fake.bot_token,
            "SLACK_API_URL": fake.api_url}


def route_acme(engine: Engine) -> None:
    """Acme names its second supervisor and second coordinator (by id: no Slack needed)."""
    import_csv(engine, catalog_path(engine, f"client,ACME,Acme Facilities Ltd.,,,,,Grace Hopper,{SUPERVISOR2},"
                                            f"{COORDINATOR2}\n"))


def catalog_path(engine: Engine, body: str) -> Path:
    path = Path(str(engine.url.database or "")).parent if engine.dialect.name == "sqlite" else Path("/tmp")
    target = path / f"routing-{os.getpid()}.csv"
    target.write_text(HEADER + body, encoding="utf-8")
    return target


# ----------------------------------------------------------------------------------------------------------
# the import


def test_import_names_people_by_id_and_by_email(ws: LocalWorkspace, tmp_path: Path) -> None:
    env = slack_env(ws.engine, ws.fake)
    file = catalog(tmp_path, f"client,ACME,Acme Facilities Ltd.,,,,,Grace Hopper,{SUPERVISOR2}; Sue@Example.com,"
                             f"cody@example.com {WORKER}\n"
                             "site,ACME-HQ,Acme HQ,,,ACME,12 Harbour Road,,sam@example.com,\n"
                             + "".join(f"client,C{n},Client {n},,,,,,sam@example.com,cody@example.com\n"
                                       for n in range(30)))
    done = cli("catalog", "import", str(file), env=env)
    assert done.returncode == 0, done.stderr
    assert done.stdout.endswith("32 clients and sites name their supervisors or coordinators.\n")
    # a field worker named as coordinator: stored, and the operator told (routed to once granted the role)
    assert done.stderr == (f"note: {WORKER} is named as coordinator but does not hold that role; grant it with "
                           f"`service-orders roles grant {WORKER} coordinator`\n")
    assert {("client", "ACME", "supervisor", SUPERVISOR2), ("client", "ACME", "coordinator", COORDINATOR2),
            ("site", "ACME-HQ", "supervisor", SUPERVISOR)} <= routing(ws.engine)
    assert len(routing(ws.engine)) == 4 + 60  # Sue named twice (id and e-mail) is one person
    # each distinct e-mail asked of Slack once, however many rows name it
    asked = [call.args.get("email") for call in ws.fake.calls_to("users.lookupByEmail")]
    assert sorted(asked) == ["cody@example.com", "sam@example.com", "sue@example.com"]
    # a file without the columns leaves the names alone; an empty cell clears them for its row
    assert cli("catalog", "import", str(catalog(tmp_path, "client,ACME,Acme Ltd.,,,\n",
                                                header="kind,code,name,unit,unit_price,parent\n")),
               env=env).returncode == 0
    assert ("client", "ACME", "supervisor", SUPERVISOR2) in routing(ws.engine)
    cleared = cli("catalog", "import", str(catalog(tmp_path, f"client,ACME,Acme Ltd.,,,,,,,{COORDINATOR2}\n")), env=env)
    assert cleared.returncode == 0, cleared.stderr
    assert {r for r in routing(ws.engine) if r[1] == "ACME"} == {("client", "ACME", "coordinator", COORDINATOR2)}


def test_an_unknown_email_fails_the_import_with_its_line(ws: LocalWorkspace, tmp_path: Path) -> None:
    env = slack_env(ws.engine, ws.fake)
    file = catalog(tmp_path, "client,NEW,New Client,,,,,,sue@example.com,\n"
                             "client,ACME,Acme Facilities Ltd.,,,,,,nobody@example.com,\n"
                             "service,S1,Service,h,1.00,,,,sue@example.com,\n"
                             "client,OTHER,Other,,,,,,sue@example.com U0SUP!,\n")
    failed = cli("catalog", "import", str(file), env=env)
    assert failed.returncode == 2 and failed.stdout == ""
    assert failed.stderr.splitlines() == [
        f"service-orders: {file}: line 3: no one in the Slack workspace has the e-mail nobody@example.com "
        "(in 'supervisors')",
        f"{file}: line 4: only a client or a site names people in 'supervisors'",
        f"{file}: line 5: 'U0SUP!' in 'supervisors' is neither a Slack member id (like U012AB3CD) nor an e-mail"]
    assert routing(ws.engine) == set() and "NEW" not in clients(ws.engine)  # nothing of the file written


def test_emails_need_slack_and_its_scope_each_said_in_one_line(staffed: Engine, tmp_path: Path) -> None:
    file = catalog(tmp_path, "client,NEW,New Client,,,,,,sue@example.com,\n")
    scopes = tuple(s for s in manifest_scopes() if s != "users:read.email")
    with FakeSlack(scopes=scopes) as fake:
        fake.add_user(SUPERVISOR2, "sue")
        env = slack_env(staffed, fake)
        no_scope = cli("catalog", "import", str(file), env=env)
        assert (no_scope.returncode, no_scope.stderr) == (2, (
            "service-orders: the Slack app lacks the scope users:read.email that looking people up by e-mail "
            "needs: add it (manifest.yml has it) and reinstall the app; nothing was imported\n"))
        without_token = cli("catalog", "import", str(file), env={k: v for k, v in env.items()
                                                                   if k != "SLACK_BOT_TOKEN"})
        assert (without_token.returncode, without_token.stderr) == (2, (
            f"service-orders: {file}: line 2: names sue@example.com by e-mail: looking people up in Slack needs "
            "SLACK_BOT_TOKEN (and SLACK_API_URL if not Slack's own); set it, or write member ids instead\n"))
        unreachable = cli("catalog", "import", str(file),
                          env={**env, "SLACK_API_URL": f"http://127.0.0.1:{closed_port()}/api/"})
        assert (unreachable.returncode, unreachable.stderr) == (2, (
            "service-orders: could not reach Slack at SLACK_API_URL to look people up by e-mail (connection_error); "
            "try again later; nothing was imported\n"))
        # member ids need no Slack at all
        by_id = catalog(tmp_path, f"client,NEW,New Client,,,,,,{SUPERVISOR2},\n")
        assert cli("catalog", "import", str(by_id), env={k: v for k, v in env.items()
                                                          if not k.startswith("SLACK_")}).returncode == 0
    assert routing(staffed) == {("client", "NEW", "supervisor", SUPERVISOR2)}


# ----------------------------------------------------------------------------------------------------------
# the orders


def submit(ws: LocalWorkspace, client: str = "acme", site: str = "hq") -> int:
    ack = ws.submit_order(REQUESTER, client=client, site=site, items=[("hvac", "1")], requested=SOON,
                          description="Routing")
    assert ack.status == 200 and ack.text == "", ack.text
    ws.settle()
    return ws.latest_order_id()


def members(ws: LocalWorkspace, order_id: int) -> set[str]:
    return set(ws.fake.channels[ws.order(order_id).channel_id].members) - {ws.fake.bot_user_id}


def review_message(ws: LocalWorkspace, order_id: int) -> str:
    return next(m.text for m in ws.fake.channels[ws.order(order_id).channel_id].messages
                if "please review it" in m.text)


def test_a_routed_clients_order_goes_to_its_people_only(ws: LocalWorkspace) -> None:
    route_acme(ws.engine)
    order_id = submit(ws)
    assert members(ws, order_id) == {REQUESTER, SUPERVISOR2, COORDINATOR2}
    asked = review_message(ws, order_id)
    assert f"<@{SUPERVISOR2}>" in asked and f"<@{COORDINATOR2}>" in asked
    assert f"<@{SUPERVISOR}>" not in asked and f"<@{COORDINATOR}>" not in asked
    # App Home and /order list: the routed supervisor sees it, the other one does not
    assert "SO-000001" in text(open_home(ws, SUPERVISOR2))
    others = text(open_home(ws, SUPERVISOR))
    assert "*Waiting for approval* (0)" in others and "SO-000001" not in others
    assert "*Waiting for approval* (1)" in str(answer(ws, SUPERVISOR2, "list pending")["blocks"])
    assert answer(ws, SUPERVISOR, "list pending")["text"] == "*Waiting for approval* (0): none."
    assert answer(ws, COORDINATOR, "list all")["text"] == "*All orders* (0): none."
    assert "Pending approval: *0*" in text(open_home(ws, COORDINATOR))  # its counts too
    assert answer(ws, SUPERVISOR, "status SO-000001")["text"] == (
        "SO-000001 is not one of yours: ask its requester or a coordinator.")
    assert answer(ws, SUPERVISOR2, "status SO-000001")["text"].startswith("*SO-000001*")
    # an admin sees every order
    grant(ws.engine, OUTSIDER, [Role.ADMIN])
    assert "*All orders* (1)" in str(answer(ws, OUTSIDER, "list all")["blocks"])


def test_a_sites_people_stand_before_its_clients(ws: LocalWorkspace) -> None:
    route_acme(ws.engine)
    import_csv(ws.engine, catalog_path(ws.engine, f"site,ACME-HQ,Acme HQ,,,ACME,12 Harbour Road,,{SUPERVISOR},\n"))
    at_hq, at_warehouse = submit(ws, site="hq"), submit(ws, site="warehouse")
    # HQ names its supervisor, and takes its coordinators from Acme; the warehouse names nobody: Acme's
    assert members(ws, at_hq) == {REQUESTER, SUPERVISOR, COORDINATOR2}
    assert members(ws, at_warehouse) == {REQUESTER, SUPERVISOR2, COORDINATOR2}


def test_an_unrouted_clients_order_goes_to_everyone(ws: LocalWorkspace) -> None:
    route_acme(ws.engine)
    order_id = submit(ws, client="peñalolén", site="presidentes")
    assert members(ws, order_id) == {REQUESTER, SUPERVISOR, SUPERVISOR2, COORDINATOR, COORDINATOR2}
    asked = review_message(ws, order_id)
    assert all(f"<@{person}>" in asked for person in (SUPERVISOR, SUPERVISOR2, COORDINATOR, COORDINATOR2))
    for person in (SUPERVISOR, SUPERVISOR2):
        assert "*Waiting for approval* (1)" in str(answer(ws, person, "list pending")["blocks"])


def test_a_resubmission_asks_the_people_routed_then(ws: LocalWorkspace) -> None:
    route_acme(ws.engine)
    order_id = submit(ws)
    ws.send_back(SUPERVISOR2, order_id, "Add the ladder")
    ws.settle()
    # meanwhile Acme's supervisor changes: the resubmission asks the new one, and invites them
    import_csv(ws.engine, catalog_path(ws.engine, f"client,ACME,Acme Facilities Ltd.,,,,,,{SUPERVISOR},"
                                                  f"{COORDINATOR2}\n"))
    ws.resubmit(REQUESTER, order_id, description="With the ladder")
    ws.settle()
    asked = [m.text for m in ws.fake.channels[ws.order(order_id).channel_id].messages if "please review" in m.text]
    assert len(asked) == 2 and f"<@{SUPERVISOR}>" in asked[1] and f"<@{SUPERVISOR2}>" not in asked[1]
    assert SUPERVISOR in members(ws, order_id) and COORDINATOR not in members(ws, order_id)


# ----------------------------------------------------------------------------------------------------------
# reminders


@pytest.fixture
def timed(staffed: Engine) -> Iterator[Timed]:
    with Timed(staffed) as workspace:
        for user, name in ((SUPERVISOR2, "Sue Second"), (COORDINATOR2, "Cody Coordinator")):
            workspace.fake.add_user(user, name.split()[0].lower(), real_name=name)
        yield workspace


def test_reminders_and_escalations_ping_the_routed_people(timed: Timed) -> None:
    route_acme(timed.engine)
    acme = timed.submit_order(REQUESTER, client="acme", site="hq", items=[("hvac", "1")],
                              requested=(START + timedelta(days=5)).date().isoformat(), description="Routed")
    assert acme.status == 200
    timed.settle()
    order_id = timed.latest_order_id()
    assert timed.at(START + timedelta(hours=24)).sweep() == {"approval": 1}
    reminder = timed.posts(order_id)[-1]
    assert f"<@{SUPERVISOR2}>" in reminder and f"<@{SUPERVISOR}>" not in reminder
    assert timed.at(START + timedelta(hours=48)).sweep() == {"escalation": 1}
    escalation = timed.posts(order_id)[-1]
    assert f"<@{COORDINATOR2}>" in escalation and f"<@{COORDINATOR}>" not in escalation


def test_a_waiting_change_is_reminded_to_the_routed_people(timed: Timed) -> None:
    route_acme(timed.engine)
    assert timed.submit_order(REQUESTER, client="acme", site="hq", items=[("hvac", "1")],
                              requested=(START + timedelta(days=5)).date().isoformat(),
                              description="Routed").status == 200
    timed.settle()
    order_id = timed.latest_order_id()
    timed.approve(SUPERVISOR2, order_id, workers=[WORKER], scheduled=(START + timedelta(days=6)).date().isoformat())
    timed.settle()
    # 1 h of HVAC becomes 3: past REAPPROVAL_OVER (10 %), the change waits for a supervisor's approval
    assert timed.at(START + timedelta(hours=1)).confirm(WORKER, order_id, changes=[("hvac", "3")],
                                                        note="Three units, not one").text == ""
    timed.settle()
    assert timed.order(order_id).state == "change_pending"
    assert timed.at(START + timedelta(hours=25)).sweep() == {"approval": 1}
    assert timed.posts(order_id)[-1] == f"<@{SUPERVISOR2}>: A change to SO-000001 has waited over 24 h for approval."
    assert timed.at(START + timedelta(hours=49)).sweep() == {"escalation": 1}
    assert timed.posts(order_id)[-1] == (f"<@{COORDINATOR2}>: A change to SO-000001 has waited over 48 h for "
                                         "approval; nobody has approved or rejected it yet.")


def test_each_coordinators_digest_counts_only_their_orders(timed: Timed) -> None:
    route_acme(timed.engine)
    for coordinator in (COORDINATOR, COORDINATOR2):
        timed.fake.set_user(coordinator, tz="America/New_York")
    scheduled = (START + timedelta(days=1)).date().isoformat()
    orders = []
    for client, site, approver in (("acme", "hq", SUPERVISOR2), ("peñalolén", "presidentes", SUPERVISOR)):
        assert timed.submit_order(REQUESTER, client=client, site=site, items=[("hvac", "1")], requested=scheduled,
                                  description="Digest").status == 200
        timed.settle()
        orders.append(timed.latest_order_id())
        timed.approve(approver, orders[-1], workers=[WORKER], scheduled=scheduled)
        timed.settle()
    # 08:00 in New York the day after both were due: each coordinator's digest, of the orders they see
    assert timed.at(START + timedelta(days=2, hours=5)).sweep()["digest"] == 2
    theirs, everyones = timed.dms(COORDINATOR2)[-1], timed.dms(COORDINATOR)[-1]
    assert theirs.startswith("*2 overdue orders*") and "SO-000001" in theirs and "SO-000002" in theirs
    assert everyones.startswith("*1 overdue order*") and "SO-000001" not in everyones and "SO-000002" in everyones
