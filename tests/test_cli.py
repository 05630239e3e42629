"""The `service-orders` command as an operator uses it: each subcommand in its own process."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

import pytest

from sandbox.slackfake.inbound import SlackDriver
from sandbox.slackfake.server import FakeSlack
from storage.scope import UNCLAIMED, serving
from tests.conftest import SAMPLE_CATALOG

CLI = str(Path(sys.executable).parent / "service-orders")
ROOT = Path(__file__).resolve().parents[1]


def cli(*args: str, env: dict[str, str], timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run([CLI, *args], env=env, capture_output=True, text=True, timeout=timeout)


def demo(*args: str, env: dict[str, str], timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """The demo as scripts/demo runs it: the sandbox's module, from the repository (it is not installed)."""
    return subprocess.run([sys.executable, "-m", "sandbox.demo", *args], env=env, cwd=ROOT, capture_output=True,
                          text=True, timeout=timeout)


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
    bad = cli("roles", "grant", "alice", "admin", env=env | {"LOCALE": "es_CL"})
    assert bad.returncode == 2 and "service-orders: 'alice' no es un ID de usuario de Slack" in bad.stderr


def test_catalog_import(env: dict[str, str], tmp_path: Path) -> None:
    result = cli("catalog", "import", str(SAMPLE_CATALOG), env=env)
    assert result.returncode == 0 and result.stdout.startswith("Imported 3 new"), result.stderr
    bad = tmp_path / "bad.csv"
    bad.write_text("kind,code,name,unit,unit_price,parent\nclient,NEW,New client,,,\nservice,S,Svc,h,abc,\n")
    result = cli("catalog", "import", str(bad), env=env)
    assert result.returncode == 2 and "line 3: unit_price 'abc' is not a number" in result.stderr
    again = cli("catalog", "import", str(SAMPLE_CATALOG), env=env)
    # NEW from the bad file was not written
    assert again.stdout == "Imported nothing new; of 16 already in the catalog, 0 updated and 16 unchanged.\n"


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
                       "kind,code,name,unit,unit_price,parent,address,contact,supervisors,coordinators"),
    ("header-only.csv", HEADER, "no rows after the header; nothing to import"),
    ("field.csv", HEADER + GOOD + b'client,C2,"' + b"x" * 200_000 + b'",,,\n',
     "line 3: a field is longer than 131072 characters (a quote left open?)"),
    ("open-quote.csv", HEADER + GOOD + b'client,C2,"Never closed,,,\n' + GOOD * 20_000,
     "line 3: a field is longer than 131072 characters (a quote left open?)"),
    ("one-line.csv", HEADER + GOOD + b"x," * 2_000_000,
     "line 3: longer than 1048576 characters; a catalog row is a few hundred"),
    ("header.csv", b"\x1b[31mkind\x07," + b"y" * 500 + b"\n" + GOOD,
     "line 1: the header must be kind,code,name,unit,unit_price,parent (then optionally "
     "address,contact,supervisors,coordinators), "
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


def test_the_command_speaks_the_providers_language(env: dict[str, str], tmp_path: Path) -> None:
    spanish = env | {"LOCALE": "es_CL"}
    result = cli("catalog", "import", str(SAMPLE_CATALOG), env=spanish)
    assert result.returncode == 0 and result.stdout == (
        "Se importaron 3 clientes nuevos, 4 sedes nuevas, 4 servicios nuevos, 5 materiales nuevos.\n"), result.stderr
    bad = tmp_path / "bad.csv"
    bad.write_bytes(HEADER + b"service,S9,Svc,h,1_000,\n")
    result = cli("catalog", "import", str(bad), env=spanish)
    assert result.returncode == 2 and result.stderr == (
        f"service-orders: {bad}: línea 2: unit_price '1_000' no es un número (use dígitos y un punto: 1000 o 12.50)\n")
    empty = tmp_path / "vacío.pdf"
    empty.write_bytes(b"")
    result = cli("verify", str(empty), env=spanish)
    assert result.returncode == 1 and result.stdout == (
        f"NO COINCIDE: {empty} está vacío, así que no es un PDF de orden de servicio.\n")
    result = cli("pdf", "SO-X", env=spanish)  # what was typed, refused in one line
    assert result.returncode == 2 and result.stderr == (
        "service-orders: 'SO-X' no es un número de orden (como SO-000042)\n")
    def helped(environment: dict[str, str]) -> str:
        return " ".join(cli("export", "--help", env=environment).stdout.split())

    assert "siguen legibles por máquina en todo idioma (fechas y horas ISO" in helped(spanish)
    assert "(ISO dates and times, plain decimals with a point, codes)" in helped(env)
    # a LOCALE that cannot be used is said in English, naming it
    result = cli("export", "-", env=env | {"LOCALE": "klingon"})
    assert result.returncode == 2 and result.stderr == (
        "service-orders: LOCALE 'klingon' is not a locale (examples: en-US, es-CL, es)\n")


def on_a_terminal(args: list[str], env: dict[str, str]) -> tuple[subprocess.Popen[bytes], bytes]:
    """The command with its standard error on a terminal (a pty), as an operator runs it: the process, and what
    the terminal showed until the command closed it."""
    import pty

    controller, terminal = pty.openpty()
    process = subprocess.Popen([CLI, *args], env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                               stderr=terminal)
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
    return process, shown


def test_catalog_import_shows_progress_on_a_terminal_only(env: dict[str, str], tmp_path: Path) -> None:

    catalog = tmp_path / "catalog.csv"
    catalog.write_bytes(HEADER + b"".join(b"material,M%d,Part %d,unit,1.25,\n" % (n, n) for n in range(12_000)))
    plain = cli("catalog", "import", str(catalog), env=env)
    assert plain.returncode == 0 and plain.stderr == ""  # a pipe (cron, a log) gets no progress lines

    process, shown = on_a_terminal(["catalog", "import", str(catalog)], env)
    assert process.wait(timeout=60) == 0
    assert process.stdout.read().decode().strip() .startswith("Imported nothing new; of 12,000 already in the catalog")  # type: ignore[union-attr]
    updates = shown.decode().split("\r")
    assert re.fullmatch(r"12,000 rows, [0-9,]+ rows/s, all read; checking and writing", updates[-3]), updates
    during = updates[1:-3]
    assert during and all(re.fullmatch(r"[0-9,]+ rows, [0-9,]+ rows/s(, ([0-9]+ min )?[0-9]+ s left)?", u)
                          for u in during), updates
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
        # at start-up, not in a first ack; a token no workspace holds: the fake keeps the call apart
        assert fake.calls == [] and [call.method for call in fake.unknown_token_calls] == ["auth.test"]


def test_demo_writes_pdfs_transcript_and_audit(tmp_path: Path, env: dict[str, str]) -> None:
    out = tmp_path / "demo"
    result = demo("--out", str(out), env=env)
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"Wrote to {out}" in result.stdout
    assert {p.name for p in out.iterdir()} >= {"SO-000001-v1.pdf", "SO-000001-v2.pdf", "SO-000001-v3.pdf",
                                               "transcript.txt", "audit.txt", "home.txt", "status.txt"}
    assert "Completed · version 7" in (out / "status.txt").read_text(encoding="utf-8")
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
        assert "stopping: 0 effects finished, 0 released" in output, output  # the graceful stop, not a kill


def test_pdf_and_verify(tmp_path: Path, env: dict[str, str]) -> None:
    """A genuine PDF matches; an edited, an unrelated and a foreign one do not (exit 1)."""
    out = tmp_path / "demo"
    assert demo("--out", str(out), env=env).returncode == 0
    env = {**env, "DATABASE_URL": f"sqlite:///{out / 'demo.db'}"}
    genuine = out / "SO-000001-v2.pdf"

    result = cli("verify", str(genuine), env=env)
    assert result.returncode == 0 and result.stdout.startswith("MATCHES: ") and "SO-000001 version 2" in result.stdout

    # the same version written again by `pdf` is byte for byte the one uploaded to Slack
    again = tmp_path / "again.pdf"
    result = cli("pdf", "SO-000001", "--version", "2", "-o", str(again), env=env)
    assert result.returncode == 0 and again.read_bytes() == genuine.read_bytes(), result.stderr
    latest = cli("pdf", "SO-000001", "-o", str(tmp_path / "latest.pdf"), env=env)
    assert "version 7" in latest.stdout

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
    with serving(UNCLAIMED):  # as the CLI writes before the bot's first start: no workspace recorded yet
        import_csv(engine, SAMPLE_CATALOG)
        grant(engine, "U0REQ", [Role.REQUESTER])
        soon = __import__("datetime").date.today() + __import__("datetime").timedelta(days=3)
        OrderService(engine).submit("U0REQ", draft(requested_date=soon))
        with session_scope(engine) as session:
            first = session.exec(select(PendingEffect).order_by(PendingEffect.id)).first()
            error = "SlackError: conversations.create: restricted_action"
            first.status, first.attempts, first.last_error = "failed", 8, error
    listed = cli("effects", "list", env=env)
    assert listed.returncode == 0
    assert f"SO-000001  open_channel failed   attempts 8  {error}" in listed.stdout
    assert "invite       pending" in listed.stdout
    assert cli("effects", "retry", "999", env=env).stdout.strip() == "No failed effects to retry among 999."
    assert "1 failed effect will be tried again" in cli("effects", "retry", env=env).stdout
    with serving(UNCLAIMED), Session(engine) as session:
        assert {e.status for e in session.exec(select(PendingEffect))} == {"pending"}


def one_line_refusal(result: subprocess.CompletedProcess[str], answer: str) -> None:
    """Bad input: exit 2 and one line on stderr that says what is wrong, no traceback."""
    assert result.returncode == 2, (result.stdout, result.stderr)
    assert result.stderr.startswith("service-orders: ") and result.stderr.count("\n") == 1, result.stderr
    assert answer in result.stderr, result.stderr
    assert "Traceback" not in result.stdout + result.stderr


def closed_port() -> int:
    return free_port()  # bound, then closed: nothing listens there


BAD_DATABASE_URLS = [
    ("nonsense", "DATABASE_URL is not a database URL (like sqlite:///"),
    ("postgresql+psycopg://so:pw-secret@127.0.0.1:99999/so", "DATABASE_URL's port 99999 is not a port (1 to 65535)"),
    ("postgresql+psycopg://so:pw-secret@127.0.0.1:port/so", "DATABASE_URL is not a database URL"),
    ("mysql://so:pw-secret@127.0.0.1/so", "DATABASE_URL names mysql://, which this release does not support"),
    ("oracle://", "DATABASE_URL names oracle://, which this release does not support: use SQLite or PostgreSQL"),
    ("postgres://so:pw-secret@127.0.0.1/so", "DATABASE_URL names postgres://, which this release does not support"),
    ("postgresql+psycopg://so:pw@secret@127.0.0.1/so", "write @ in a password as %40"),
    ("postgresql+psycopg://so:pw-secret@127.0.0.1:CLOSED/so",
     "DATABASE_URL: cannot connect to PostgreSQL at 127.0.0.1:CLOSED (connection refused): is the server running?"),
    ("sqlite:////proc/no/such/orders.db", "DATABASE_URL: cannot make the folder /proc/no/such for the SQLite file"),
    ("sqlite:////proc/orders.db", "DATABASE_URL: cannot open the SQLite file /proc/orders.db"),
    ("sqlite:///file:TMP/empty.db?mode=ro&uri=true", "DATABASE_URL: the SQLite file file:TMP/empty.db is read-only"),
]


@pytest.mark.parametrize(("url", "answer"), BAD_DATABASE_URLS, ids=[url for url, _ in BAD_DATABASE_URLS])
def test_a_database_url_we_cannot_use_is_one_line(url: str, answer: str, tmp_path: Path,
                                                  env: dict[str, str]) -> None:
    port = str(closed_port())
    (tmp_path / "empty.db").write_bytes(b"")  # an empty SQLite file, opened read-only: the schema cannot be made
    url, answer = (text.replace("CLOSED", port).replace("TMP", str(tmp_path)) for text in (url, answer))
    before = sorted(tmp_path.iterdir())
    result = cli("init", env={**env, "DATABASE_URL": url})
    one_line_refusal(result, answer)
    assert "pw-secret" not in result.stderr and "secret" not in result.stderr
    assert sorted(tmp_path.iterdir()) == before and (tmp_path / "empty.db").read_bytes() == b""
    assert not Path("/proc/no").exists()


# every command that touches the database, with what it needs to get that far
DATABASE_COMMANDS = [["init"], ["db", "upgrade"], ["db", "current"], ["run", "--http", "--port", "3999"],
                     ["roles", "list"], ["roles", "grant", "U0ABC", "admin"],
                     ["catalog", "import", str(SAMPLE_CATALOG)], ["pdf", "SO-000001"], ["verify", "PDF"],
                     ["effects", "list"], ["effects", "retry"], ["export", "-"]]


@pytest.mark.parametrize("command", DATABASE_COMMANDS, ids=[" ".join(c[:2]) for c in DATABASE_COMMANDS])
def test_every_database_command_explains_an_unreachable_database(command: list[str], tmp_path: Path,
                                                                  env: dict[str, str]) -> None:
    port = closed_port()
    a_pdf = tmp_path / "a.pdf"
    a_pdf.write_bytes(b"%PDF-1.4\n%%EOF\n")
    command = [str(a_pdf) if word == "PDF" else word for word in command]
    env = {**env, "DATABASE_URL": f"postgresql+psycopg://so:pw-secret@127.0.0.1:{port}/so",
           "SLACK_BOT_TOKEN": "xoxb-1", "SLACK_SIGNING_SECRET": "s", "SLACK_API_URL": f"http://127.0.0.1:{port}/"}
    result = cli(*command, env=env)
    one_line_refusal(result, f"DATABASE_URL: cannot connect to PostgreSQL at 127.0.0.1:{port} (connection refused)")
    assert "pw-secret" not in result.stderr and result.stdout == ""


def test_a_read_only_database_is_one_line_and_unchanged(tmp_path: Path, env: dict[str, str]) -> None:
    path = tmp_path / "orders.db"
    assert cli("init", env={**env, "DATABASE_URL": f"sqlite:///{path}"}).returncode == 0
    read_only = {**env, "DATABASE_URL": f"sqlite:///file:{path}?mode=ro&uri=true"}
    result = cli("roles", "grant", "U0ABC", "admin", env=read_only)
    one_line_refusal(result, f"DATABASE_URL: the SQLite file file:{path} is read-only; make it and its folder writable")
    assert cli("roles", "list", env=read_only).stdout == ""  # reading still works; nothing was granted


def test_postgresql_driver_not_installed(tmp_path: Path, env: dict[str, str]) -> None:
    """An environment without psycopg (a folder on PYTHONPATH whose `psycopg` is not there, as Python says it)."""
    (tmp_path / "psycopg").mkdir()
    (tmp_path / "psycopg" / "__init__.py").write_text(
        "raise ModuleNotFoundError(\"No module named 'psycopg'\", name='psycopg')\n")
    result = cli("init", env={**env, "PYTHONPATH": str(tmp_path),
                              "DATABASE_URL": "postgresql+psycopg://so:pw-secret@127.0.0.1/so"})
    one_line_refusal(result, "DATABASE_URL names PostgreSQL, whose driver is not installed: "
                             "pip install -e '.[postgres]'")


@pytest.mark.skipif(not os.environ.get("TEST_DATABASE_URL"), reason="needs the PostgreSQL server of TEST_DATABASE_URL")
def test_postgresql_refusals_name_what_to_fix(env: dict[str, str]) -> None:
    from sqlalchemy import make_url

    server = make_url(os.environ["TEST_DATABASE_URL"])
    where = f"{server.host}:{server.port or 5432}"
    missing = server.set(database="no_such_database_cli").render_as_string(hide_password=False)
    one_line_refusal(cli("init", env={**env, "DATABASE_URL": missing}),
                     f"DATABASE_URL: PostgreSQL at {where} has no database no_such_database_cli; create it")
    stranger = server.set(username="no_such_role_cli", password="pw-secret").render_as_string(hide_password=False)
    result = cli("init", env={**env, "DATABASE_URL": stranger})
    one_line_refusal(result, f"DATABASE_URL: PostgreSQL at {where} refused the user name or password")
    assert "pw-secret" not in result.stderr


@pytest.fixture(scope="module")
def demo_database(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The demo's database (SO-000001 at version 7), made once; each test works on its own copy."""
    out = tmp_path_factory.mktemp("demo")
    environment = {k: v for k, v in os.environ.items() if not k.startswith("SLACK_")}
    assert demo("--out", str(out), env=environment).returncode == 0
    return out / "demo.db"


@pytest.fixture
def demo_env(demo_database: Path, tmp_path: Path, env: dict[str, str]) -> dict[str, str]:
    copy = tmp_path / "orders.db"
    copy.write_bytes(demo_database.read_bytes())
    return {**env, "DATABASE_URL": f"sqlite:///{copy}"}


def test_pdf_output_that_cannot_be_written_is_one_line(tmp_path: Path, demo_env: dict[str, str]) -> None:
    existing = tmp_path / "kept.pdf"
    existing.write_bytes(b"mine")
    cases = [([str(tmp_path)], f"{tmp_path} is a folder; give the name of a file to write in it"),
             ([str(tmp_path / "no" / "such" / "x.pdf")], f"cannot write {tmp_path / 'no' / 'such' / 'x.pdf'}: "
                                                        f"there is no folder {tmp_path / 'no' / 'such'}"),
             ([str(existing)], f"{existing} exists; add --force to replace it")]
    before = sorted(tmp_path.iterdir())
    for output, answer in cases:
        one_line_refusal(cli("pdf", "SO-000001", "-o", *output, env=demo_env), answer)
    assert sorted(tmp_path.iterdir()) == before and existing.read_bytes() == b"mine"

    forced = cli("pdf", "SO-000001", "-o", str(existing), "--force", env=demo_env)
    assert forced.returncode == 0 and existing.read_bytes().startswith(b"%PDF-"), forced.stderr
    assert sorted(tmp_path.iterdir()) == before  # renamed into place: no temporary file left beside it
    assert existing.stat().st_mode & 0o777 == 0o666 & ~current_umask()


def current_umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


BAD_VERSIONS = [("0", "argument --version: the version must be a whole number from 1 to 2147483647, not '0'"),
                ("-1", "argument --version: the version must be a whole number from 1 to 2147483647, not '-1'"),
                (str(10**30), f"the version must be a whole number from 1 to 2147483647, not '{10**30}'"),
                ("１２", "the version must be a whole number from 1 to 2147483647, not '１２'"),
                ("8", "service-orders: SO-000001 has no version 8: its latest is 7")]


@pytest.mark.parametrize(("version", "answer"), BAD_VERSIONS, ids=[v for v, _ in BAD_VERSIONS])
def test_pdf_version_out_of_range(version: str, answer: str, tmp_path: Path, demo_env: dict[str, str]) -> None:
    result = cli("pdf", "SO-000001", "--version", version, "-o", str(tmp_path / "v.pdf"), env=demo_env)
    assert result.returncode == 2 and answer in result.stderr and "Traceback" not in result.stderr
    # argparse's usage (wrapped to the terminal's width), then the one line that says what is wrong
    said = [line for line in result.stderr.splitlines() if not line.startswith(("usage: ", " "))]
    assert len(said) == 1 and said[0] == result.stderr.splitlines()[-1]
    assert not (tmp_path / "v.pdf").exists()


@pytest.mark.parametrize("number", ["SO-" + "9" * 30, "SO-0", "SO-１２", "SO--1", "SO-4 2"])
def test_pdf_of_a_number_no_order_can_have(number: str, tmp_path: Path, demo_env: dict[str, str]) -> None:
    result = subprocess.run([CLI, "pdf", number], env=demo_env, cwd=tmp_path, capture_output=True, text=True,
                            timeout=60)
    one_line_refusal(result, f"'{number}' is not an order number (like SO-000042)")
    assert [p.name for p in tmp_path.iterdir()] == ["orders.db"]


@pytest.mark.parametrize(("args", "answer"), [
    (["effects", "retry", str(10**30)], f"the effect id must be a whole number from 1 to 2147483647, not '{10**30}'"),
    (["effects", "retry", "3", "0"], "the effect id must be a whole number from 1 to 2147483647, not '0'"),
    (["effects", "retry", "-1"], "the effect id must be a whole number from 1 to 2147483647, not '-1'"),
    (["run", "--http", "--port", "0"], "argument --port: the port must be a whole number from 1 to 65535, not '0'"),
    (["run", "--http", "--port", "65536"], "the port must be a whole number from 1 to 65535, not '65536'"),
    (["run", "--http", "--port", "http"], "the port must be a whole number from 1 to 65535, not 'http'"),
])
def test_cli_integers_out_of_range(args: list[str], answer: str, demo_env: dict[str, str]) -> None:
    before = cli("effects", "list", "--all", env=demo_env).stdout
    result = cli(*args, env=demo_env)
    assert result.returncode == 2 and answer in result.stderr and "Traceback" not in result.stderr
    assert len(result.stderr.splitlines()) == 2 and result.stderr.startswith("usage: service-orders ")
    assert cli("effects", "list", "--all", env=demo_env).stdout == before


def test_export_into_a_closed_pipe_ends_quietly(demo_env: dict[str, str]) -> None:
    """`service-orders export - | head -1`: the reader is gone before we write; no traceback, no complaint."""
    process = subprocess.Popen([CLI, "export", "-"], env=demo_env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               text=True)
    assert process.stdout is not None
    process.stdout.close()
    _, errors = process.communicate(timeout=60)
    assert process.returncode == 1 and errors == ""


def write_into_fifo(fifo: Path, size: int) -> threading.Thread:
    def write() -> None:
        try:
            with fifo.open("wb") as pipe:
                for _ in range(size // 2**20):
                    pipe.write(b"%PDF-" + bytes(2**20 - 5))
        except BrokenPipeError:
            pass  # the reader stopped at its limit
    writer = threading.Thread(target=write, daemon=True)
    writer.start()
    return writer


VERIFY_INPUTS = [
    ("missing", 2, "service-orders: cannot read {path} (No such file or directory)"),
    ("inside-a-file", 2, "service-orders: cannot read {path} (Not a directory)"),
    ("folder", 2, "service-orders: {path} is a folder; name a PDF file"),
    ("too-big", 2, "service-orders: {path} is larger than 20 MB; it is not one of our PDFs"),
    ("endless-fifo", 2, "service-orders: {path} is larger than 20 MB; it is not one of our PDFs"),
    ("empty", 1, "DOES NOT MATCH: {path} is empty, so not a service-order PDF."),
    ("text", 1, "DOES NOT MATCH: {path} is not a PDF, so not a service-order PDF."),
    ("broken-pdf", 1, "DOES NOT MATCH: {path} is not a service-order PDF (it carries no order stamp)."),
]


@pytest.mark.parametrize(("kind", "status", "answer"), VERIFY_INPUTS, ids=[kind for kind, _, _ in VERIFY_INPUTS])
def test_verify_input_it_cannot_use(kind: str, status: int, answer: str, tmp_path: Path,
                                    env: dict[str, str]) -> None:
    env = {**env, "DATABASE_URL": f"sqlite:///{tmp_path / 'orders.db'}"}
    path = tmp_path / "x.pdf"
    writer = None
    if kind == "inside-a-file":
        (tmp_path / "a.pdf").write_bytes(b"%PDF-1.4")
        path = tmp_path / "a.pdf" / "x.pdf"
    elif kind == "folder":
        path.mkdir()
    elif kind == "too-big":
        with path.open("wb") as sparse:
            sparse.truncate(20 * 2**20 + 1)  # one byte over; stat says so before anything is read
    elif kind == "endless-fifo":
        os.mkfifo(path)  # its size is 0 to stat: only reading tells
        writer = write_into_fifo(path, 64 * 2**20)
    elif kind == "empty":
        path.write_bytes(b"")
    elif kind == "text":
        path.write_text("total: 42\n")
    elif kind == "broken-pdf":  # a header, then nothing a PDF reader can use (pypdf would warn of it)
        path.write_bytes(b"%PDF-1.4\n" + bytes(1000))
    result = cli("verify", str(path), env=env)
    if writer:
        writer.join(timeout=30)
    stream = result.stderr if status == 2 else result.stdout
    assert result.returncode == status and stream == answer.format(path=path) + "\n", result
    assert "Traceback" not in result.stderr and (result.stdout if status == 2 else result.stderr) == ""
    if kind != "broken-pdf":
        assert not (tmp_path / "orders.db").exists()  # refused before the database was opened


BAD_SETTINGS = [
    ({"SLACK_SIGNING_SECRET": "   "}, "missing setting(s): SLACK_SIGNING_SECRET (see the README's settings table)"),
    ({"SLACK_BOT_TOKEN": "\t"}, "missing setting(s): SLACK_BOT_TOKEN (see the README's settings table)"),
    ({"SLACK_BOT_TOKEN": "xoxb-tok-secret\n"}, "SLACK_BOT_TOKEN has a space or a line break in or around it"),
    ({"SLACK_SIGNING_SECRET": "sig secret"}, "SLACK_SIGNING_SECRET has a space or a line break in or around it"),
    ({"SLACK_SIGNING_SECRET": " sig-secret"}, "SLACK_SIGNING_SECRET has a space or a line break in or around it"),
    ({"SLACK_API_URL": "ftp://127.0.0.1/api/"}, "SLACK_API_URL must be an http(s) URL like https://slack.com/api/"),
    ({"SLACK_API_URL": "https://"}, "SLACK_API_URL must be an http(s) URL like https://slack.com/api/, not 'https://'"),
    ({"SLACK_API_URL": "http://127.0.0.1:99999/api/"}, "not 'http://127.0.0.1:99999/api/'"),
    ({"SLACK_API_URL": "http://127.0.0.1:port/api/"}, "not 'http://127.0.0.1:port/api/'"),
    ({"SLACK_API_URL": "http://127.0.0.1 /api/"}, "not 'http://127.0.0.1 /api/'"),
    ({"EFFECT_WORKERS": "１２"}, "EFFECT_WORKERS must be a whole number from 0 to 32, not '１２'"),
    ({"HOME_REFRESH_SECONDS": "0"}, "HOME_REFRESH_SECONDS must be a number of seconds above 0 and at most 60, not '0'"),
    ({"HOME_REFRESH_SECONDS": "61"}, "HOME_REFRESH_SECONDS must be a number of seconds above 0 and at most 60"),
    ({"EFFECT_WORKERS": "1" + "0" * 30}, "EFFECT_WORKERS must be a whole number from 0 to 32"),
    ({"EFFECT_POLL_SECONDS": "0"}, "EFFECT_POLL_SECONDS must be a number of seconds above 0 and at most 60, not '0'"),
    ({"EFFECT_POLL_SECONDS": "soon"}, "EFFECT_POLL_SECONDS must be a number of seconds above 0 and at most 60"),
    ({"EFFECT_RETRY_SECONDS": "nan"}, "EFFECT_RETRY_SECONDS must be a number of seconds above 0 and at most 86400, "
                                      "not 'nan'"),
    ({"EFFECT_RETRY_SECONDS": "inf"}, "EFFECT_RETRY_SECONDS must be a number of seconds above 0 and at most 86400"),
    ({"EFFECT_RETRY_SECONDS": "1e300"}, "EFFECT_RETRY_SECONDS must be a number of seconds above 0 and at most 86400"),
    ({"EFFECT_LEASE_SECONDS": "86401"}, "EFFECT_LEASE_SECONDS must be a number of seconds above 0 and at most 86400"),
    ({"SHUTDOWN_SECONDS": "0"}, "SHUTDOWN_SECONDS must be a number of seconds above 0 and at most 86400, not '0'"),
    ({"REMINDER_SWEEP_SECONDS": "１５"}, "REMINDER_SWEEP_SECONDS must be a number of seconds above 0 and at most"),
    ({"APPROVAL_REMINDER_HOURS": "1e9"}, "APPROVAL_REMINDER_HOURS must be a number of hours from 0 to 8760"),
    ({"COMPLETION_DAYS": "urgent=soon"}, "COMPLETION_DAYS must be a whole number of days from 0 to 3650"),
    ({"URGENT_OVERRIDES_QUIET_HOURS": "yes"}, "URGENT_OVERRIDES_QUIET_HOURS must be off or coordinators, not 'yes'"),
    ({"PROVIDER_TIMEZONE": "Mars/Base"}, "PROVIDER_TIMEZONE 'Mars/Base' is not a time zone (like Europe/Madrid)"),
    ({"PROVIDER_LOGO": "TMP"}, "PROVIDER_LOGO 'TMP' cannot be read (Is a directory)"),
]


@pytest.mark.parametrize(("settings", "answer"), BAD_SETTINGS, ids=[str(s) for s, _ in BAD_SETTINGS])
def test_bad_settings_are_one_line_naming_the_setting(settings: dict[str, str], answer: str, tmp_path: Path,
                                                      env: dict[str, str]) -> None:
    settings = {name: value.replace("TMP", str(tmp_path)) for name, value in settings.items()}
    env = {**env, "DATABASE_URL": f"sqlite:///{tmp_path / 'orders.db'}", "SLACK_BOT_TOKEN": "xoxb-1",
           "SLACK_SIGNING_SECRET": "s", **settings}
    result = cli("run", "--http", "--port", str(free_port()), env=env)
    one_line_refusal(result, answer.replace("TMP", str(tmp_path)))
    assert "secret" not in result.stderr  # a token's or secret's value is never repeated
    assert not (tmp_path / "orders.db").exists()  # refused before the database was touched


def test_an_app_token_with_a_line_break_is_refused_in_socket_mode(tmp_path: Path, env: dict[str, str]) -> None:
    env = {**env, "DATABASE_URL": f"sqlite:///{tmp_path / 'orders.db'}", "SLACK_BOT_TOKEN": "xoxb-1",
           "SLACK_SIGNING_SECRET": "s", "SLACK_APP_TOKEN": "xapp-secret\r\n"}
    result = cli("run", env=env)
    one_line_refusal(result, "SLACK_APP_TOKEN has a space or a line break in or around it (a copy-paste?); "
                             "set it again without them")
    assert "xapp-secret" not in result.stderr and not (tmp_path / "orders.db").exists()


def stored_rows(url: str) -> int:
    """Rows a command could have written (roles, catalog, orders), 0 when the database was never made."""
    from sqlalchemy import inspect, text

    from storage.db import make_engine

    engine = make_engine(url)
    try:
        with engine.connect() as connection:
            tables = set(inspect(connection).get_table_names()) & {"role_grant", "catalog_entry", "service_order"}
            return sum(connection.execute(text(f"SELECT count(*) FROM {table}")).scalar_one() for table in tables)
    finally:
        engine.dispose()


OTHER_BAD_INPUTS = [
    (["roles", "grant", "U0ABC\n", "admin"], {}, "'U0ABC\\n' is not a Slack user id (like U012AB3CD"),
    (["roles", "grant", "U0ABC", ""], {}, "'' is not a role; roles are: requester, supervisor"),
    (["roles", "revoke", "U0ABC", "ädmin"], {}, "'ädmin' is not a role"),
    (["catalog", "import", "TMP"], {}, "Is a directory"),
    (["catalog", "import", "/proc/self/mem"], {}, "Input/output error"),  # a read that fails part-way
    (["export", "TMP/x.csv", "--from", "99999-01-01"], {}, "--from '99999-01-01' is not a date (YYYY-MM-DD)"),
    (["export", "TMP"], {}, "TMP is a folder; give the name of a file to write in it"),
    (["export", "-"], {"PROVIDER_TIMEZONE": "Mars/Base"}, "PROVIDER_TIMEZONE 'Mars/Base' is not a time zone"),
    (["pdf", "SO-000001"], {"PROVIDER_LOGO": "TMP"}, "PROVIDER_LOGO 'TMP' cannot be read (Is a directory)"),
    (["run", "--http", "--host", "bad host"], {"SLACK_BOT_TOKEN": "xoxb-1", "SLACK_SIGNING_SECRET": "s"},
     "--host 'bad host' is not an address to listen on"),
]


@pytest.mark.parametrize(("args", "settings", "answer"), OTHER_BAD_INPUTS,
                         ids=[" ".join(args)[:40] for args, _, _ in OTHER_BAD_INPUTS])
def test_other_bad_input_is_one_line_and_stores_nothing(args: list[str], settings: dict[str, str], answer: str,
                                                       tmp_path: Path, env: dict[str, str]) -> None:
    (tmp_path / "a-file").write_text("mine")
    url = f"sqlite:///{tmp_path / 'orders.db'}"
    args = [arg.replace("TMP", str(tmp_path)) for arg in args]
    settings = {name: value.replace("TMP", str(tmp_path)) for name, value in settings.items()}
    before = sorted(tmp_path.iterdir())
    result = cli(*args, env={**env, "DATABASE_URL": url, **settings})
    one_line_refusal(result, answer.replace("TMP", str(tmp_path)))
    assert sorted(p for p in tmp_path.iterdir() if not p.name.startswith("orders.db")) == before
    assert stored_rows(url) == 0 and (tmp_path / "a-file").read_text() == "mine"


def test_run_on_a_port_in_use_is_one_line(env: dict[str, str]) -> None:
    with FakeSlack() as fake, socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = cli("run", "--http", "--host", "127.0.0.1", "--port", str(port), env={
            **env, "SLACK_BOT_TOKEN": fake.bot_token, "SLACK_SIGNING_SECRET": "s", "SLACK_API_URL": fake.api_url})
    one_line_refusal(result, f"cannot listen on 127.0.0.1:{port} (Address already in use)")


@pytest.mark.parametrize(("settings", "args", "answer"), [
    ({"SLACK_BOT_TOKEN": ""}, [], "missing setting(s): SLACK_BOT_TOKEN (see the README's settings table)"),
    ({"EFFECT_POLL_SECONDS": "-1"}, [], "EFFECT_POLL_SECONDS must be a number of seconds above 0 and at most 60"),
    ({"EFFECT_WORKERS": "33"}, [], "EFFECT_WORKERS must be a whole number from 0 to 32, not '33'"),
    ({}, ["--host", "192.0.2.1", "--port", "3000"], "192.0.2.1"),
])
def test_effects_work_refuses_bad_settings_in_one_line(settings: dict[str, str], args: list[str], answer: str,
                                                       tmp_path: Path, env: dict[str, str]) -> None:
    """`effects work` reads the settings `run` reads: the same one-line refusals, before the database is made."""
    env = {**env, "DATABASE_URL": f"sqlite:///{tmp_path / 'orders.db'}", "SLACK_BOT_TOKEN": "xoxb-1",
           "SLACK_SIGNING_SECRET": "s", **settings}
    result = cli("effects", "work", *args, env=env)
    one_line_refusal(result, answer)
    assert not (tmp_path / "orders.db").exists()
