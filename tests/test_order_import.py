"""`service-orders orders import FILE`: the command in its own process, on a real database. Dates are counted from
today (the machine's, as the command reads it), never written out."""

from __future__ import annotations

import csv
import os
import re
import signal
import subprocess
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from sqlalchemy import func
from sqlmodel import Session, select

from sandbox.slackfake.server import FakeSlack
from storage.db import make_engine, session_scope
from storage.models import PendingEffect, ServiceOrder, SlackWorkspace
from storage.scope import everywhere
from tests import test_cli
from tests.conftest import SAMPLE_CATALOG
from tests.test_cli import CLI, cli, on_a_terminal
from workflow.order_import import HEADER

env = test_cli.env  # the fixture: a fresh database for the command

SOON = date.today() + timedelta(days=10)  # ahead of today in every time zone


def write_csv(path: Path, rows: list[list[str]]) -> Path:
    with path.open("w", newline="", encoding="utf-8") as handle:
        csv.writer(handle).writerows([HEADER, *rows])
    return path


def row(reference: str, requester: str = "U0REQ", client: str = "ACME", site: str = "ACME-HQ",
        day: date = SOON, priority: str = "high", items: str = "HVAC-MNT x2; FLT-AIR x4") -> list[str]:
    return [reference, requester, client, site, day.isoformat(), priority, f"Job {reference}", items]


def ready(env: dict[str, str], *team: str) -> None:
    """The sample catalog and a requester, in the workspace `team` names (or the only one)."""
    assert cli("catalog", "import", str(SAMPLE_CATALOG), *team, env=env).returncode == 0
    assert cli("roles", "grant", "U0REQ", "requester", *team, env=env).returncode == 0
    assert cli("roles", "grant", "U0SUP", "supervisor", *team, env=env).returncode == 0


def orders(env: dict[str, str]) -> list[ServiceOrder]:
    with everywhere(), Session(make_engine(env["DATABASE_URL"])) as session:
        return list(session.exec(select(ServiceOrder).order_by(ServiceOrder.id)))


def test_a_csv_creates_orders_pending_approval_and_a_rerun_none(env: dict[str, str], tmp_path: Path) -> None:
    ready(env)
    file = write_csv(tmp_path / "orders.csv", [row("PO-1"), row("PO-2", client="PENA", site="PENA-OB",
                                                                  priority="", items="CEM-25 x10")])
    first = cli("orders", "import", str(file), env=env)
    assert (first.returncode, first.stdout, first.stderr) == (0, "Created 2 orders pending approval.\n", "")
    made = orders(env)
    assert [(o.number, o.external_ref, o.state, o.requester_id, o.priority) for o in made] == [
        (1, "PO-1", "pending_approval", "U0REQ", "high"), (2, "PO-2", "pending_approval", "U0REQ", "normal")]
    # queued as a submit from Slack queues them: the channel, the invites, the card, the message
    with everywhere(), Session(make_engine(env["DATABASE_URL"])) as session:
        kinds = {(e.order_id, e.kind) for e in session.exec(select(PendingEffect))}
    for order in made:
        assert {kind for order_id, kind in kinds if order_id == order.id} >= {"open_channel", "invite", "card",
                                                                               "message"}
    again = cli("orders", "import", str(file), env=env)
    assert again.stdout == "Created 0 orders pending approval. 2 were already there (same reference).\n"
    assert len(orders(env)) == 2
    spanish = cli("orders", "import", str(file), env=env | {"LOCALE": "es"})
    assert spanish.stdout == "Se crearon 0 órdenes pendientes de aprobación. 2 ya estaban (misma referencia).\n"


def test_an_xlsx_with_date_cells(env: dict[str, str], tmp_path: Path) -> None:
    from openpyxl import Workbook

    ready(env)
    book = Workbook()
    sheet = book.active
    sheet.append(HEADER)
    sheet.append([1001, "U0REQ", "ACME", "ACME-WH", datetime.combine(SOON, datetime.min.time()), "urgent",
                  "Filters", "FLT-AIR x12"])
    sheet.append(["1002", "U0REQ", "ORST", "ORST-LDZ", SOON.isoformat(), "low", "Cables", "CBL-25 x1.5"])
    book.save(tmp_path / "orders.xlsx")
    result = cli("orders", "import", str(tmp_path / "orders.xlsx"), env=env)
    assert result.returncode == 0 and result.stdout == "Created 2 orders pending approval.\n", result.stderr
    assert [(o.external_ref, o.requested_date, o.site_code) for o in orders(env)] == [
        ("1001", SOON, "ACME-WH"), ("1002", SOON, "ORST-LDZ")]


def test_every_bad_row_is_reported_with_its_line_and_nothing_is_written(env: dict[str, str], tmp_path: Path) -> None:
    ready(env)
    past = date.today() - timedelta(days=3)
    file = write_csv(tmp_path / "bad.csv", [
        row("PO-1"),  # good, but the file is not
        row("PO-2", site="PENA-OB"),
        row("PO-3", requester="U0SUP"),
        row("PO-4", day=past),
        row("PO-5", items="CEM-25 10"),
        row("PO-6", items="NOPE x1"),
        row("PO-7", priority="meh"),
        row("PO-1"),
        row("PO-9", client="NOBODY"),
        row("PO-10", requester="someone"),
    ])
    result = cli("orders", "import", str(file), env=env)
    assert result.returncode == 2 and result.stdout == ""
    assert result.stderr.splitlines() == [
        f"service-orders: {file}: line 3: site 'PENA-OB' is not a site of client 'ACME'",
        f"{file}: line 4: U0SUP does not hold the requester role; grant it with `service-orders roles grant U0SUP "
        "requester`",
        f"{file}: line 5: requested_date {past.isoformat()} is in the past",
        f"{file}: line 6: item 'CEM-25 10' must be CODE xQUANTITY, the quantity above 0 and at most 1000000, with "
        "at most 3 decimals",
        f"{file}: line 7: item 'NOPE' is not a service or material code of the catalog",
        f"{file}: line 8: priority 'meh' is not one of low, normal, high, urgent",
        f"{file}: line 9: reference 'PO-1' already appears on line 2",
        f"{file}: line 10: client 'NOBODY' is not a client code of the catalog",
        f"{file}: line 11: 'someone' in 'requester' is neither a Slack member id (like U012AB3CD) nor an e-mail",
    ]
    assert orders(env) == []
    spanish = cli("orders", "import", str(file), env=env | {"LOCALE": "es"})
    assert f"{file}: línea 5: la fecha solicitada {past.isoformat()} ya pasó" in spanish.stderr
    bad_header = tmp_path / "header.csv"
    bad_header.write_text("ref,who\nPO-1,U0REQ\n", encoding="utf-8")
    refused = cli("orders", "import", str(bad_header), env=env)
    assert refused.returncode == 2 and "line 1: the header must be reference,requester," in refused.stderr
    not_a_workbook = tmp_path / "orders.xlsx"
    not_a_workbook.write_text("reference,requester\n", encoding="utf-8")
    refused = cli("orders", "import", str(not_a_workbook), env=env)
    assert (refused.returncode, refused.stderr) == (2, f"service-orders: {not_a_workbook}: not an .xlsx workbook (save "
                                                       "it from the spreadsheet as Excel Workbook, or as CSV UTF-8 "
                                                       "named .csv)\n")
    assert orders(env) == []


def test_only_the_first_20_problems_are_listed(env: dict[str, str], tmp_path: Path) -> None:
    ready(env)
    # the first row's problem needs the workflow's check, which runs after every row's own: still listed first
    file = write_csv(tmp_path / "bad.csv", [row("PO-0", client="NOBODY"),
                                            *(row(f"PO-{n}", priority="meh") for n in range(1, 25))])
    result = cli("orders", "import", str(file), env=env)
    lines = result.stderr.splitlines()
    assert len(lines) == 21 and lines[-1] == "and 5 more problems"
    assert lines[0].endswith("line 2: client 'NOBODY' is not a client code of the catalog")
    assert lines[19].endswith("line 21: priority 'meh' is not one of low, normal, high, urgent")


def test_a_kill_midway_then_a_rerun_finishes_without_duplicates(env: dict[str, str], tmp_path: Path) -> None:
    """Issue 19's bar: 1,000 orders from an .xlsx, the import killed (SIGKILL) while it creates them, then run
    again: every order once, numbered without a gap."""
    from openpyxl import Workbook

    ready(env)
    book = Workbook(write_only=True)
    sheet = book.create_sheet()
    sheet.append(HEADER)
    for n in range(1000):
        sheet.append(row(f"PO-{n}"))
    file = tmp_path / "orders.xlsx"
    book.save(file)
    process = subprocess.Popen([CLI, "orders", "import", str(file)], env=env, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE)
    engine = make_engine(env["DATABASE_URL"])
    deadline = time.monotonic() + 25
    made = 0
    while made < 50 and time.monotonic() < deadline and process.poll() is None:
        time.sleep(0.05)
        with everywhere(), Session(engine) as session:
            made = session.exec(select(func.count()).select_from(ServiceOrder)).one()
    os.kill(process.pid, signal.SIGKILL)  # midway: some orders made, the rest not
    process.wait(timeout=10)
    engine.dispose()
    before = len(orders(env))
    assert 0 < before < 1000, before
    rerun = cli("orders", "import", str(file), env=env)
    assert rerun.returncode == 0, rerun.stderr
    assert rerun.stdout == (f"Created {1000 - before:,} orders pending approval. "
                            f"{before} were already there (same reference).\n")
    made_orders = orders(env)
    assert sorted(o.external_ref or "" for o in made_orders) == sorted(f"PO-{n}" for n in range(1000))
    assert sorted(o.number for o in made_orders) == list(range(1, 1001))  # no number skipped or taken twice


def test_orders_land_in_the_team_workspace_only(env: dict[str, str], tmp_path: Path) -> None:
    engine = make_engine(env["DATABASE_URL"])
    assert cli("init", env=env).returncode == 0
    with everywhere(), session_scope(engine) as session:
        for team in ("T0ACME", "T0GLOBEX"):
            session.add(SlackWorkspace(team_id=team, team_name=team, bot_user_id="U0BOT",
                                       connected_at=datetime(2026, 1, 1, tzinfo=UTC)))
    ready(env, "--team", "T0ACME")
    file = write_csv(tmp_path / "orders.csv", [row("PO-1")])
    unsure = cli("orders", "import", str(file), env=env)
    assert unsure.returncode == 2 and "say which with --team" in unsure.stderr
    elsewhere = cli("orders", "import", str(file), "--team", "T0GLOBEX", env=env)  # no catalog nor roles there
    assert elsewhere.returncode == 2 and "line 2: U0REQ does not hold the requester role" in elsewhere.stderr
    assert cli("orders", "import", str(file), "--team", "T0ACME", env=env).returncode == 0
    assert [(o.workspace, o.number, o.external_ref) for o in orders(env)] == [("T0ACME", 1, "PO-1")]


def test_progress_shows_on_a_terminal_only(env: dict[str, str], tmp_path: Path) -> None:

    ready(env)
    file = write_csv(tmp_path / "orders.csv", [row(f"PO-{n}") for n in range(300)])
    process, shown = on_a_terminal(["orders", "import", str(file)], env)
    assert process.wait(timeout=60) == 0
    assert process.stdout.read().decode() == "Created 300 orders pending approval.\n"  # type: ignore[union-attr]
    updates = [u.strip() for u in shown.decode().split("\r") if u.strip()]
    assert updates and all(re.fullmatch(r"[0-9,]+ rows checked|[0-9,]+ of 300 orders created, [0-9,]+ orders/s, "
                                        r"([0-9]+ min )?[0-9]+ s left", u) for u in updates), updates
    assert updates[-1].startswith("300 of 300 orders created"), updates
    plain = cli("orders", "import", str(file), env=env)
    assert plain.stderr == ""  # a pipe gets no progress lines


def test_a_requester_by_email_and_the_running_bot_opens_each_imported_orders_channel(env: dict[str, str],
                                                                                    tmp_path: Path) -> None:
    """The import only queues: the bot, once running, does the Slack work of each order as for a submit."""
    ready(env)
    with FakeSlack() as fake:
        fake.add_user("U0REQ", "rosa", real_name="Rosa", email="rosa@example.com")
        fake.add_user("U0SUP", "sam", real_name="Sam")
        slack = {"SLACK_BOT_TOKEN": fake.bot_token, "SLACK_API_URL": fake.api_url}
        file = write_csv(tmp_path / "orders.csv", [row("PO-1", requester="ROSA@example.com"),
                                                   row("PO-2", requester="nobody@example.com")])
        unknown = cli("orders", "import", str(file), env=env | slack)
        assert unknown.returncode == 2 and unknown.stderr == (
            f"service-orders: {file}: line 3: no one in the Slack workspace has the e-mail nobody@example.com "
            "(in 'requester')\n")
        offline = cli("orders", "import", str(file), env=env)
        assert offline.returncode == 2 and "looking people up in Slack needs SLACK_BOT_TOKEN" in offline.stderr
        write_csv(file, [row("PO-1", requester="ROSA@example.com")])
        assert cli("orders", "import", str(file), env=env | slack).returncode == 0
        assert [(o.external_ref, o.requester_id) for o in orders(env)] == [("PO-1", "U0REQ")]
        port = test_cli.free_port()
        process = subprocess.Popen([CLI, "run", "--http", "--port", str(port), "--host", "127.0.0.1"],
                                   env=env | slack | {"SLACK_SIGNING_SECRET": "cli-secret"},
                                   stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        try:
            assert fake.wait_for(lambda: any(c.args.get("text", "").startswith("SO-000001 ")
                                             for c in fake.calls_to("chat.postMessage")), timeout=20)  # its card
            created = [c.args["name"] for c in fake.calls_to("conversations.create")]
            assert len(created) == 1 and created[0].startswith("so-000001"), created
        finally:
            process.send_signal(signal.SIGTERM)
            output = process.communicate(timeout=20)[0]
        assert process.returncode == 0, output
