"""The tests' calendar: TEST_CALENDAR_SHIFT_DAYS shifts the wall clock of every process of the environment
(tests/calendar_shift.py, linked into .venv by scripts/venv.sh), a bad value is refused before anything runs,
and the SQL reads no clock of the database's own, which a shifted (or injected) clock could not move."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine, event
from sqlmodel import SQLModel

from sandbox.local import LocalWorkspace
from storage.db import init_db, make_engine
from tests.conftest import COORDINATOR, REQUESTER, SAMPLE_CATALOG, SUPERVISOR, WORKER, WORKER2
from tests.test_end_to_end import PEOPLE
from tests.test_reminders import START, Timed, submit
from tests.test_workflow import draft
from workflow.catalog import import_csv
from workflow.people import grant
from workflow.service import OrderService
from workflow.vocabulary import Role

VARIABLE = "TEST_CALENDAR_SHIFT_DAYS"
NOW = "import datetime, time; print(datetime.datetime.now(datetime.UTC).isoformat(), time.monotonic())"


def python(code: str, shift: str | None) -> subprocess.CompletedProcess[str]:
    """`code` in a new Python process of this environment, with the variable set to `shift` (None: unset)."""
    env = {k: v for k, v in os.environ.items() if k != VARIABLE}
    if shift is not None:
        env[VARIABLE] = shift
    return subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60)


def clocks(shift: str | None) -> tuple[datetime, float]:
    """A new process's wall clock and monotonic clock."""
    result = python(NOW, shift)
    assert result.returncode == 0 and result.stderr == "", result.stderr
    wall, monotonic = result.stdout.split()
    return datetime.fromisoformat(wall), float(monotonic)


@pytest.mark.parametrize("days", [400, -400, 0])
def test_the_wall_clock_moves_by_the_days_given_and_the_monotonic_clock_does_not(days: int) -> None:
    before = time.monotonic()
    real, _ = clocks(None)
    shifted, monotonic = clocks(str(days))
    after = time.monotonic()
    # the two processes start moments apart: whole days tell the shift from that
    assert round((shifted - real) / timedelta(days=1)) == days
    assert before <= monotonic <= after  # Linux's monotonic clock is the machine's, in every process


def test_without_the_variable_nothing_is_imported() -> None:
    probe = "import sys; print(sorted({'service_orders_calendar_shift', 'time_machine'} & set(sys.modules)))"
    assert python(probe, None).stdout.strip() == "[]"
    assert python(probe, "").stdout.strip() == "[]"  # empty is unset, as shells write it
    assert python(probe, "1").stdout.strip() == "['service_orders_calendar_shift', 'time_machine']"


@pytest.mark.parametrize("value", ["abc", "4.5", "+400", "１２", "10001", "-10001", "--400", "400 days", "1e3",
                                   "9" * 400])
def test_a_bad_shift_is_one_line_and_exit_2_before_anything_runs(value: str) -> None:
    result = python("print('ran')", value)
    assert (result.returncode, result.stdout) == (2, "")
    assert result.stderr == (f"service-orders: {VARIABLE} must be a whole number of days from -10000 to 10000 "
                             f"(e.g. 400 or -400), not {value[:40]!r}\n")


def test_the_hook_is_linked_from_the_repository() -> None:
    """venv.sh links the hook, so the repository's file is the one every process runs."""
    import service_orders_calendar_shift

    assert Path(service_orders_calendar_shift.__file__).resolve() == Path(__file__).parent / "calendar_shift.py"


def test_a_step_stored_by_a_clock_ahead_is_carried_out_at_once_by_a_bot_behind(seeded) -> None:  # type: ignore[no-untyped-def]
    """Two machines' clocks disagree, or a test injects one: the effects a step queued are due for every clock."""
    ahead = datetime.now(UTC) + timedelta(hours=6)
    order = OrderService(seeded, clock=lambda: ahead).submit(REQUESTER, draft(requested_date=ahead.date()))
    with LocalWorkspace(seeded, PEOPLE) as ws:  # the bot on the machine's clock, 6 hours behind
        assert ws.bot is not None
        ws.bot.ctx.effects.kick()
        ws.settle()
        assert ws.order(order.id).card_ts is not None


# the database's own clock, in PostgreSQL's and SQLite's spellings
DATABASE_CLOCK = re.compile(r"\bnow\s*\(|current_(timestamp|date|time)\b|localtime(stamp)?\b|'now'|\bclock_timestamp\b"
                            r"|\bstatement_timestamp\b|\btransaction_timestamp\b|\btimeofday\b", re.IGNORECASE)


@pytest.fixture
def statements(tmp_path: Path) -> Iterator[tuple[Engine, list[str]]]:
    """A fresh database, with every SQL statement sent to it from its migrations on."""
    url = os.environ.get("TEST_DATABASE_URL") or f"sqlite:///{tmp_path / 'test.db'}"
    engine = make_engine(url)
    SQLModel.metadata.drop_all(engine)
    sent: list[str] = []
    event.listen(engine, "before_cursor_execute", lambda _conn, _cursor, statement, *_: sent.append(statement))
    init_db(engine)
    yield engine, sent
    engine.dispose()


def test_the_sql_never_reads_the_databases_clock(statements: tuple[Engine, list[str]]) -> None:
    """The bot's clock is injected (tests) or the machine's (shifted in tests too); the database's is neither,
    so a default, a migration or a query reading it would compare two clocks."""
    engine, sent = statements
    import_csv(engine, SAMPLE_CATALOG)
    for user, role in ((REQUESTER, Role.REQUESTER), (SUPERVISOR, Role.SUPERVISOR), (COORDINATOR, Role.COORDINATOR),
                       (WORKER, Role.FIELD_WORKER), (WORKER2, Role.FIELD_WORKER)):
        grant(engine, user, [role])
    with Timed(engine) as ws:
        order_id = submit(ws, scheduled=(START + timedelta(days=1)).date())
        assert ws.at(START + timedelta(days=3)).sweep()  # the reminders' SQL: the morning, overdue, a digest
        ws.complete(WORKER, order_id, "done")
        ws.settle()
    assert any(s.lstrip().upper().startswith("CREATE TABLE") for s in sent)  # the migrations were seen
    assert any("reminder" in s and s.lstrip().upper().startswith("INSERT") for s in sent)
    assert [s for s in sent if DATABASE_CLOCK.search(s)] == []
