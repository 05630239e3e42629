"""The `service-orders` command as an operator uses it: each subcommand in its own process."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from slackfake.inbound import SlackDriver
from slackfake.server import FakeSlack
from tests.conftest import SAMPLE_CATALOG

CLI = str(Path(sys.executable).parent / "service-orders")


def cli(*args: str, env: dict[str, str], timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run([CLI, *args], env=env, capture_output=True, text=True, timeout=timeout)


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    environment = {k: v for k, v in os.environ.items() if not k.startswith("SLACK_")}
    environment["DATABASE_URL"] = os.environ.get("TEST_DATABASE_URL") or f"sqlite:///{tmp_path / 'cli.db'}"
    if os.environ.get("TEST_DATABASE_URL"):  # a clean PostgreSQL database for this test
        from sqlmodel import SQLModel

        from storage.db import make_engine
        SQLModel.metadata.drop_all(make_engine(environment["DATABASE_URL"]))
    return environment


def test_init_is_safe_to_run_twice(env: dict[str, str]) -> None:
    for _ in range(2):
        result = cli("init", env=env)
        assert result.returncode == 0 and "Database ready" in result.stdout, result.stderr


def test_default_database_is_a_sqlite_file_under_data(tmp_path: Path, env: dict[str, str]) -> None:
    env.pop("DATABASE_URL")
    result = subprocess.run([CLI, "init"], env=env, cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0 and (tmp_path / "data" / "service-orders.db").exists()


def test_roles(env: dict[str, str]) -> None:
    assert cli("roles", "grant", "U0ABC", "supervisor", "field_worker", env=env).stdout.strip() == (
        "U0ABC: granted supervisor, field_worker")
    assert "nothing new" in cli("roles", "grant", "U0ABC", "supervisor", env=env).stdout
    assert cli("roles", "revoke", "U0ABC", "supervisor", env=env).stdout.strip() == "U0ABC: revoked supervisor"
    assert cli("roles", "list", env=env).stdout.strip() == "U0ABC\tfield_worker"
    bad = cli("roles", "grant", "U0ABC", "boss", env=env)
    assert bad.returncode == 2 and "'boss' is not a role" in bad.stderr
    bad = cli("roles", "grant", "alice", "admin", env=env)
    assert bad.returncode == 2 and "'alice' is not a Slack user id" in bad.stderr


def test_catalog_import(env: dict[str, str], tmp_path: Path) -> None:
    result = cli("catalog", "import", str(SAMPLE_CATALOG), env=env)
    assert result.returncode == 0 and result.stdout.startswith("Imported 3 new"), result.stderr
    bad = tmp_path / "bad.csv"
    bad.write_text("kind,code,name,unit,unit_price,parent\nclient,NEW,New client,,,\nservice,S,Svc,h,abc,\n")
    result = cli("catalog", "import", str(bad), env=env)
    assert result.returncode == 2 and "line 3: unit_price 'abc' is not a number" in result.stderr
    again = cli("catalog", "import", str(SAMPLE_CATALOG), env=env)
    assert "0 new and 3 updated clients" in again.stdout  # NEW from the bad file was not written


def catalog_size(env: dict[str, str]) -> int:
    from sqlalchemy import func, select

    from storage.db import make_engine
    from storage.models import CatalogEntry

    engine = make_engine(env["DATABASE_URL"])
    with engine.connect() as connection:
        count = connection.execute(select(func.count()).select_from(CatalogEntry)).scalar_one()
    engine.dispose()
    return count


HEADER = b"kind,code,name,unit,unit_price,parent\n"
GOOD = b"client,C1,Client,,,\n"


@pytest.mark.parametrize("name, content, answer", [
    ("latin1.csv", HEADER + "client,C1,Peñalolén,,,\n".encode("latin-1"),
     "line 2: not UTF-8 text (invalid continuation byte); save the file as CSV UTF-8"),
    ("picture.png", b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4,
     "line 1: not UTF-8 text (invalid start byte); save the file as CSV UTF-8"),
    ("zeros.bin", bytes(4096), "line 1: holds a NUL byte: a catalog is text (is this a binary file?)"),
    ("nul.csv", HEADER + GOOD + b"client,C2,Nul\0here,,,\n",
     "line 3: holds a NUL byte: a catalog is text (is this a binary file?)"),
    ("empty.csv", b"", "the file is empty; its first line must be the header "
                       "kind,code,name,unit,unit_price,parent,address,contact"),
    ("header-only.csv", HEADER, "no rows after the header; nothing to import"),
    ("field.csv", HEADER + GOOD + b'client,C2,"' + b"x" * 200_000 + b'",,,\n',
     "line 3: a field is longer than 131072 characters (a quote left open?)"),
    ("open-quote.csv", HEADER + GOOD + b'client,C2,"Never closed,,,\n' + GOOD * 20_000,
     "line 3: a field is longer than 131072 characters (a quote left open?)"),
    ("one-line.csv", HEADER + GOOD + b"x," * 2_000_000,
     "line 3: longer than 1048576 characters; a catalog row is a few hundred"),
    ("header.csv", b"\x1b[31mkind\x07," + b"y" * 500 + b"\n" + GOOD,
     "line 1: the header must be kind,code,name,unit,unit_price,parent (then optionally address,contact), "
     "not ?[31mkind?," + "y" * 49 + "…"),  # control characters shown as ?, cut at 60 characters
    ("missing.csv", None, "cannot read it (No such file or directory)."),
    ("folder", "folder", "cannot read it (Is a directory)."),
])
def test_catalog_import_refuses_bad_files_in_one_line(env: dict[str, str], tmp_path: Path, name: str,
                                                      content: bytes | str | None, answer: str) -> None:
    path = tmp_path / name
    if content == "folder":
        path.mkdir()
    elif content is not None:
        path.write_bytes(content)
    result = cli("catalog", "import", str(path), env=env)
    assert result.returncode == 2 and result.stdout == ""
    assert result.stderr.startswith(f"service-orders: {path}: ") and result.stderr.count("\n") == 1, result.stderr
    assert answer in result.stderr
    assert catalog_size(env) == 0


def test_catalog_import_lists_the_first_20_problems_and_counts_the_rest(env: dict[str, str], tmp_path: Path) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_bytes(HEADER + GOOD + b"".join(b"service,S%d,Svc,h,1_000,\n" % n for n in range(25)))
    result = cli("catalog", "import", str(bad), env=env)
    assert result.returncode == 2
    lines = result.stderr.splitlines()
    assert lines[0] == f"service-orders: {bad}: line 3: unit_price '1_000' is not a number (use digits and a dot: " \
                       "1000 or 12.50)"
    assert [line.split(": ")[-3] for line in lines[1:20]] == [f"line {n}" for n in range(4, 23)]
    assert lines[20:] == ["and 5 more problems"]
    assert catalog_size(env) == 0


def test_catalog_import_shows_progress_on_a_terminal_only(env: dict[str, str], tmp_path: Path) -> None:
    import pty

    catalog = tmp_path / "catalog.csv"
    catalog.write_bytes(HEADER + b"".join(b"material,M%d,Part %d,unit,1.25,\n" % (n, n) for n in range(12_000)))
    plain = cli("catalog", "import", str(catalog), env=env)
    assert plain.returncode == 0 and plain.stderr == ""  # a pipe (cron, a log) gets no progress lines

    controller, terminal = pty.openpty()
    process = subprocess.Popen([CLI, "catalog", "import", str(catalog)], env=env, stdin=subprocess.DEVNULL,
                               stdout=subprocess.PIPE, stderr=terminal)
    os.close(terminal)
    shown = b""
    while True:
        try:
            chunk = os.read(controller, 4096)
        except OSError:  # EIO: the command closed the terminal
            break
        if not chunk:
            break
        shown += chunk
    os.close(controller)
    assert process.wait(timeout=60) == 0
    assert process.stdout.read().decode().strip() == "Imported 0 new and 12000 updated materials."  # type: ignore[union-attr]
    updates = shown.decode().split("\r")
    assert re.fullmatch(r"12,000 rows, [0-9,]+ rows/s, all read; checking and writing", updates[-3]), updates
    assert all(re.fullmatch(r"[0-9,]+ rows, [0-9,]+ rows/s, [0-9]+ s left", u) for u in updates[1:-3]), updates
    assert updates[-2].strip() == "" and updates[-1] == ""  # the line is cleared for what follows


def test_run_explains_missing_settings(env: dict[str, str]) -> None:
    result = cli("run", "--http", env=env)
    assert result.returncode == 2
    assert "missing setting(s): SLACK_BOT_TOKEN, SLACK_SIGNING_SECRET" in result.stderr
    result = cli("run", env={**env, "SLACK_BOT_TOKEN": "xoxb-1", "SLACK_SIGNING_SECRET": "s"})
    assert result.returncode == 2 and "SLACK_APP_TOKEN" in result.stderr
    result = cli("run", "--http", env={**env, "SLACK_BOT_TOKEN": "xoxp-user", "SLACK_SIGNING_SECRET": "s"})
    assert result.returncode == 2 and "must be a bot token" in result.stderr
    result = cli("run", "--http", env={**env, "SLACK_BOT_TOKEN": "xoxb-1", "SLACK_SIGNING_SECRET": "s",
                                       "TAX_RATE_PERCENT": "19%"})
    assert result.returncode == 2 and "TAX_RATE_PERCENT '19%' must be a percentage" in result.stderr


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_run_http_serves_slack_through_slack_api_url(env: dict[str, str]) -> None:
    assert cli("roles", "grant", "U0REQ", "requester", env=env).returncode == 0
    with FakeSlack() as fake:
        fake.add_user("U0REQ", "rosa", real_name="Rosa")
        fake.add_channel("general", members=["U0REQ"])
        port = free_port()
        process = subprocess.Popen(
            [CLI, "run", "--http", "--port", str(port), "--host", "127.0.0.1"],
            env={**env, "SLACK_BOT_TOKEN": fake.bot_token, "SLACK_SIGNING_SECRET": "cli-secret",
                 "SLACK_API_URL": fake.api_url},
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        try:
            health = None
            for _ in range(100):
                try:
                    with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1) as response:
                        health = json.loads(response.read())
                        break
                except OSError:
                    time.sleep(0.1)
            assert health == {"ok": True, "database": "reachable"}
            slack = SlackDriver(f"http://127.0.0.1:{port}/slack/events", "cli-secret", fake)
            assert slack.command("U0REQ", "/order").status == 200
            assert fake.wait_for(lambda: fake.calls_to("views.open"))
            assert fake.views[fake.open_view_ids("U0REQ")[-1]]["callback_id"] == "submit_order"
        finally:
            process.send_signal(signal.SIGTERM)
            output = process.communicate(timeout=20)[0]
        assert process.returncode == 0, output
        assert "xoxb-" not in output and "cli-secret" not in output  # secrets never reach the log


def test_run_checks_the_token_with_slack_before_serving(env: dict[str, str]) -> None:
    with FakeSlack() as fake:
        result = cli("run", "--http", "--port", str(free_port()), env={
            **env, "SLACK_BOT_TOKEN": "xoxb-revoked-or-mistyped", "SLACK_SIGNING_SECRET": "cli-secret",
            "SLACK_API_URL": fake.api_url})
        assert result.returncode == 2
        assert "Slack did not accept SLACK_BOT_TOKEN" in result.stderr and "invalid_auth" in result.stderr
        assert "xoxb-revoked" not in result.stderr
        assert [call.method for call in fake.calls] == ["auth.test"]  # at start-up, not in a first ack


def test_demo_writes_pdfs_transcript_and_audit(tmp_path: Path, env: dict[str, str]) -> None:
    out = tmp_path / "demo"
    result = cli("demo", "--out", str(out), env=env, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"Wrote to {out}" in result.stdout
    assert {p.name for p in out.iterdir()} >= {"SO-000001-v1.pdf", "SO-000001-v2.pdf", "SO-000001-v3.pdf",
                                               "transcript.txt", "audit.txt", "home.txt", "status.txt"}
    assert "Completed · version 4" in (out / "status.txt").read_text(encoding="utf-8")
    transcript = (out / "transcript.txt").read_text(encoding="utf-8")
    assert "closed the order as completed" in transcript and "📎 SO-000001-v3.pdf" in transcript
    assert "<@" not in (out / "audit.txt").read_text(encoding="utf-8")


def test_run_in_socket_mode(env: dict[str, str]) -> None:
    for proxy in ("HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy"):
        env.pop(proxy, None)  # slack_sdk's Socket Mode client would tunnel loopback through them
    with FakeSlack() as fake:
        fake.add_user("U0REQ", "rosa", real_name="Rosa")
        fake.add_channel("general", members=["U0REQ"])
        process = subprocess.Popen(
            [CLI, "run"], env={**env, "SLACK_BOT_TOKEN": fake.bot_token, "SLACK_SIGNING_SECRET": "unused",
                               "SLACK_APP_TOKEN": fake.app_token, "SLACK_API_URL": fake.api_url},
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        try:
            assert fake.socket_mode.wait_connected(30), "the bot did not connect"
            slack = SlackDriver(None, None, fake, transport="socket_mode")
            answer = slack.command("U0REQ", "/order", "help")
            assert answer.status == 200 and "opens the form to submit a new order" in answer.text
        finally:
            fake.socket_mode.close_links()
            process.send_signal(signal.SIGTERM)
            output = process.communicate(timeout=30)[0]
        assert process.returncode == 0, output
        assert "Connecting to Slack in Socket Mode" in output and fake.app_token not in output


def test_pdf_and_verify(tmp_path: Path, env: dict[str, str]) -> None:
    """A genuine PDF matches; an edited, an unrelated and a foreign one do not (exit 1)."""
    out = tmp_path / "demo"
    assert cli("demo", "--out", str(out), env=env, timeout=120).returncode == 0
    env = {**env, "DATABASE_URL": f"sqlite:///{out / 'demo.db'}"}
    genuine = out / "SO-000001-v2.pdf"

    result = cli("verify", str(genuine), env=env)
    assert result.returncode == 0 and result.stdout.startswith("MATCHES: ") and "SO-000001 version 2" in result.stdout

    # the same version written again by `pdf` is byte for byte the one uploaded to Slack
    again = tmp_path / "again.pdf"
    result = cli("pdf", "SO-000001", "--version", "2", "-o", str(again), env=env)
    assert result.returncode == 0 and again.read_bytes() == genuine.read_bytes(), result.stderr
    latest = cli("pdf", "SO-000001", "-o", str(tmp_path / "latest.pdf"), env=env)
    assert "version 4" in latest.stdout

    edited = tmp_path / "edited.pdf"  # a visible change: the stamp and the metadata stay, the bytes don't
    from pypdf import PdfReader, PdfWriter
    from pypdf.annotations import FreeText
    writer = PdfWriter(clone_from=PdfReader(genuine))
    writer.add_annotation(page_number=0, annotation=FreeText(text="PAID", rect=(400, 700, 550, 740)))
    with edited.open("wb") as handle:
        writer.write(handle)
    result = cli("verify", str(edited), env=env)
    assert result.returncode == 1 and "changed after it was issued" in result.stdout

    unrelated = tmp_path / "unrelated.pdf"
    from fpdf import FPDF
    doc = FPDF()
    doc.add_page()
    unrelated.write_bytes(bytes(doc.output()))
    result = cli("verify", str(unrelated), env=env)
    assert result.returncode == 1 and "not a service-order PDF" in result.stdout

    foreign = cli("verify", str(genuine), env={**env, "DATABASE_URL": f"sqlite:///{tmp_path / 'other.db'}"})
    assert foreign.returncode == 1 and "this database has no such issued version" in foreign.stdout

    missing = cli("pdf", "SO-000099", env=env)
    assert missing.returncode == 2 and "There is no order SO-000099" in missing.stderr
    assert cli("pdf", "nonsense", env=env).returncode == 2
    assert cli("verify", str(tmp_path / "nope.pdf"), env=env).returncode == 2


def test_effects_list_and_retry(tmp_path: Path, env: dict[str, str]) -> None:
    from sqlmodel import Session, select

    from storage.db import init_db, make_engine, session_scope
    from storage.models import PendingEffect
    from tests.test_workflow import draft
    from workflow.catalog import import_csv
    from workflow.people import grant
    from workflow.service import OrderService
    from workflow.vocabulary import Role

    engine = make_engine(env["DATABASE_URL"])
    init_db(engine)
    import_csv(engine, SAMPLE_CATALOG)
    grant(engine, "U0REQ", [Role.REQUESTER])
    OrderService(engine).submit("U0REQ", draft(requested_date=__import__("datetime").date(2099, 1, 1)))
    with session_scope(engine) as session:
        first = session.exec(select(PendingEffect).order_by(PendingEffect.id)).first()
        error = "SlackError: conversations.create: restricted_action"
        first.status, first.attempts, first.last_error = "failed", 8, error
    listed = cli("effects", "list", env=env)
    assert listed.returncode == 0
    assert f"SO-000001  open_channel failed   attempts 8  {error}" in listed.stdout
    assert "invite       pending" in listed.stdout
    assert cli("effects", "retry", "999", env=env).stdout.strip() == "No failed effects to retry among 999."
    assert "1 failed effect(s) will be tried again" in cli("effects", "retry", env=env).stdout
    with Session(engine) as session:
        assert {e.status for e in session.exec(select(PendingEffect))} == {"pending"}
