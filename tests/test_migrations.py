"""Schema migrations (storage/migrations): an empty database, one made by `create_all` before there were
migrations, running them twice, several processes at once, and the `service-orders db` command. On SQLite, or
on PostgreSQL when TEST_DATABASE_URL is set."""

from __future__ import annotations

import multiprocessing
import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Engine, MetaData, event, inspect, select, text
from sqlalchemy import column as sa_column
from sqlalchemy import table as sa_table
from sqlmodel import Session, SQLModel

from bot.cli import main
from bot.mrkdwn import plain
from bot.render.facts import describe
from i18n import english
from storage import migrations
from storage.db import init_db, make_engine, session_scope
from storage.migrations import SchemaError
from storage.scope import UNCLAIMED, Scoped, ScopedKey, adopt_unclaimed, everywhere, serving
from tests.conftest import REQUESTER, SAMPLE_CATALOG, SUPERVISOR, TEAM, WORKER
from workflow.catalog import import_csv
from workflow.document import Provider
from workflow.facts import StepFacts
from workflow.inputs import Approval, FreeItem, ItemQuantity, OrderDraft
from workflow.issuing import issue
from workflow.letterhead import Letterhead
from workflow.people import grant, roles_by_user
from workflow.queries import audit_trail, order_card, order_id_by_number, search_catalog
from workflow.service import OrderService
from workflow.verification import Finding, verify
from workflow.vocabulary import Action, Role

CLI = str(Path(sys.executable).parent / "service-orders")
NOW = datetime(2026, 11, 26, 15, 0, tzinfo=UTC)
TOMORROW = date(2026, 11, 27)

# the tables whose rows belong to a workspace (migration 0018)
SCOPED = {model.__tablename__ for base in (Scoped, ScopedKey) for model in base.__subclasses__()}


def database_url(tmp_path: Path) -> str:
    """A database with nothing in it: a new SQLite file, or TEST_DATABASE_URL emptied (alembic_version too)."""
    url = os.environ.get("TEST_DATABASE_URL")
    if not url:
        return f"sqlite:///{tmp_path / 'migrations.db'}"
    engine = make_engine(url)
    everything = MetaData()
    everything.reflect(engine)
    everything.drop_all(engine)
    engine.dispose()
    return url


@pytest.fixture
def empty(tmp_path: Path) -> Iterator[Engine]:
    engine = make_engine(database_url(tmp_path))
    yield engine
    engine.dispose()


def create_all_of_old(engine: Engine) -> None:
    """The tables `create_all` made before there were migrations: the baseline's, with no revision recorded."""
    with engine.begin() as connection:
        command.upgrade(migrations.alembic_config(connection), migrations.BASELINE)
        connection.execute(text("DROP TABLE alembic_version"))


def differences(engine: Engine) -> list[Any]:
    """What autogenerate would still write: the database against the models (tables, columns and their types,
    nullability, indexes, unique and foreign keys)."""
    with engine.connect() as connection:
        return compare_metadata(MigrationContext.configure(connection, opts={"compare_type": True}),
                                SQLModel.metadata)


def revision(engine: Engine) -> str | None:
    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def columns_of(engine: Engine) -> dict[str, set[str]]:
    found_in = inspect(engine)
    return {name: {c["name"] for c in found_in.get_columns(name)} for name in found_in.get_table_names()}


def rows(engine: Engine, only: dict[str, set[str]] | None = None) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table that has rows, in the columns the database has now, or in `only` those it had
    before a migration (tables and columns a later revision adds start empty)."""
    present = columns_of(engine) if only is None else only
    with engine.connect() as connection:
        found = {table.name: [tuple(row) for row in connection.execute(
                    select(*(c for c in table.columns if c.name in columns)).order_by(
                        *(c for c in table.primary_key.columns if c.name in columns)))]
                 for table in SQLModel.metadata.sorted_tables if table.name in present
                 for columns in [present[table.name]]}
    return {name: table_rows for name, table_rows in found.items() if table_rows}


def use(engine: Engine) -> int:
    """Real data through the workflow: catalog, roles, an order submitted and approved (versions, decimal
    line items, assignments, audit, effects)."""
    import_csv(engine, SAMPLE_CATALOG)
    grant(engine, REQUESTER, [Role.REQUESTER])
    grant(engine, SUPERVISOR, [Role.SUPERVISOR])
    grant(engine, WORKER, [Role.FIELD_WORKER])
    service = OrderService(engine, clock=lambda: NOW)
    order = service.submit(REQUESTER, OrderDraft(
        client_code="ACME", site_code="ACME-HQ", requested_date=TOMORROW, priority="high",
        description="Replace the air filters on floor 3.",
        items=(ItemQuantity("service:HVAC-MNT", Decimal("2.5"), 0),),
        free_items=(FreeItem("Skip hire", Decimal(1), "unit", Decimal("80.1234")),)))
    service.apply(SUPERVISOR, order.id, Action.APPROVE, order.revision, Approval((WORKER,), TOMORROW, "Ladder"))
    return order.id


def use_old(engine: Engine, tmp_path: Path, then: Callable[[Engine, int], object] | None = None) -> int:
    """`use()` on a database of an older schema: the workflow runs on a database of this release's, and its
    rows are copied into the older tables, in the columns those have (this release's models write columns a
    later revision adds, so they cannot write into the older tables themselves). `then`: more done on that
    database before the copy (issuing a PDF, say), given it and the order's id."""
    head = make_engine(f"sqlite:///{tmp_path / 'head.db'}")
    init_db(head)
    order_id = use(head)
    if then is not None:
        then(head, order_id)
    found_in = inspect(engine)
    present = {name: {c["name"] for c in found_in.get_columns(name)} for name in found_in.get_table_names()}
    with head.connect() as source, engine.begin() as target:
        for table in SQLModel.metadata.sorted_tables:
            if table.name not in present:
                continue
            columns = [c for c in table.columns if c.name in present[table.name]]
            copied = [dict(row._mapping) for row in source.execute(select(*columns))]
            if copied:  # into the columns alone: the model's defaults (the workspace) would name more
                target.execute(sa_table(table.name, *(sa_column(c.name, c.type) for c in columns)).insert(), copied)
            if engine.dialect.name == "postgresql" and "id" in present[table.name] and copied:
                # ids were written as they were: the table's sequence moves past them
                target.execute(text(f"SELECT setval(pg_get_serial_sequence('{table.name}', 'id'), "
                                    f"(SELECT max(id) FROM {table.name}))"))
    head.dispose()
    return order_id


def test_migrations_on_an_empty_database_make_the_models_schema(empty: Engine) -> None:
    outcome = init_db(empty)
    assert (outcome.before, outcome.after, outcome.adopted) == (None, migrations.head(), False)
    assert revision(empty) == migrations.head()
    assert differences(empty) == []
    order_id = use(empty)  # and the application works on it
    with Session(empty) as session:
        assert order_card(session, order_id).total == Decimal("192.62")  # 2.5 × 45 + 80.1234, to the cent


def test_a_database_made_by_create_all_is_taken_on_in_place(empty: Engine, tmp_path: Path) -> None:
    create_all_of_old(empty)  # how init_db made every database before there were migrations
    order_id = use_old(empty, tmp_path)
    before, old = rows(empty), columns_of(empty)
    assert migrations.status(empty).unversioned_tables
    outcome = init_db(empty)
    assert (outcome.before, outcome.adopted, revision(empty)) == (None, True, migrations.head())
    assert rows(empty, old) == before and before["line_item"] and before["order_version"]
    assert differences(empty) == []
    with session_scope(empty) as session:  # no bot start recorded whose rows they are: the first one takes them
        held = rows(empty)
        assert adopt_unclaimed(session, TEAM) == sum(len(held[t]) for t in SCOPED if t in held) > 0
    service = OrderService(empty, clock=lambda: NOW)
    service.submit(REQUESTER, OrderDraft(  # still writable
        client_code="ACME", site_code="ACME-HQ", requested_date=TOMORROW, priority="low", description="Again",
        items=(ItemQuantity("service:HVAC-MNT", Decimal(1), 0),), free_items=()))
    with Session(empty) as session:
        assert order_card(session, order_id).total == Decimal("192.62")  # 2.5 × 45 + 80.1234, to the cent


def test_running_it_again_changes_nothing(empty: Engine) -> None:
    init_db(empty)
    use(empty)
    before = rows(empty)
    statements: list[str] = []
    event.listen(empty, "before_cursor_execute", lambda _c, _r, sql, *_: statements.append(sql))
    for _ in range(2):
        outcome = init_db(empty)
        assert not outcome.changed and outcome.before == outcome.after == migrations.head()
    writes = [s for s in statements if s.split()[0].upper() in {"CREATE", "ALTER", "DROP", "INSERT", "UPDATE",
                                                                 "DELETE"}]
    assert writes == [], writes
    assert rows(empty) == before and differences(empty) == []


def test_tables_dropped_behind_alembics_back_are_made_again(empty: Engine) -> None:
    # SQLModel.metadata.drop_all (as the suite's fixtures empty a PostgreSQL database) leaves alembic_version
    init_db(empty)
    SQLModel.metadata.drop_all(empty)
    assert set(inspect(empty).get_table_names()) == {"alembic_version"}
    outcome = init_db(empty)
    assert outcome.before is None and revision(empty) == migrations.head() and differences(empty) == []


def test_tables_lacking_part_of_the_baseline_are_refused_untouched(empty: Engine) -> None:
    create_all_of_old(empty)  # as an earlier development build made it: no slack_event, one column less
    with empty.begin() as connection:
        connection.execute(text("DROP TABLE slack_event"))
        connection.execute(text("ALTER TABLE pending_effect DROP COLUMN claimed_by"))
    with pytest.raises(SchemaError, match=r"missing: column pending_effect\.claimed_by, table slack_event"):
        init_db(empty)
    assert "alembic_version" not in inspect(empty).get_table_names()


def test_a_revision_this_release_does_not_know_is_refused(empty: Engine) -> None:
    init_db(empty)
    with empty.begin() as connection:
        connection.execute(text("UPDATE alembic_version SET version_num = '9999'"))
    with pytest.raises(SchemaError, match="revision 9999, which this release does not know"):
        init_db(empty)


def _upgrade_when_all_are_ready(url: str, ready: Any, results: Any) -> None:
    engine = make_engine(url)
    ready.wait()
    try:
        outcome = init_db(engine)
        results.put(("ok", outcome.before))
    except Exception as error:  # reported to the test
        results.put(("error", repr(error)))


def test_several_processes_at_once_migrate_once(tmp_path: Path) -> None:
    url = database_url(tmp_path)
    spawn = multiprocessing.get_context("spawn")
    ready, results = spawn.Barrier(3), spawn.Queue()
    processes = [spawn.Process(target=_upgrade_when_all_are_ready, args=(url, ready, results)) for _ in range(3)]
    for process in processes:
        process.start()
    outcomes = sorted((results.get(timeout=120) for _ in processes), key=str)
    for process in processes:
        process.join(timeout=60)
    head = migrations.head()  # one found nothing and migrated; the two that waited found it done
    assert outcomes == sorted([("ok", head), ("ok", head), ("ok", None)], key=str), outcomes
    engine = make_engine(url)
    assert revision(engine) == migrations.head() and differences(engine) == []
    engine.dispose()


def db_command(*args: str, url: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> str:
    """`service-orders ARGS` in this process (fast); test_cli.py runs the command in its own."""
    monkeypatch.setenv("DATABASE_URL", url)
    assert main(list(args)) == 0
    return capsys.readouterr().out


def test_db_command(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    url, head = database_url(tmp_path), migrations.head()

    def db(*args: str) -> str:
        return db_command(*args, url=url, monkeypatch=monkeypatch, capsys=capsys)

    assert "no schema revision: an empty database; `service-orders db upgrade` creates" in db("db", "current")
    assert f"created the schema, revision {head} (head)" in db("db", "upgrade")
    assert f": schema revision {head} (head)" in db("db", "current")
    assert f"already at schema revision {head} (head)" in db("db", "upgrade")
    assert "Database ready: " in (ready := db("init")) and f"(schema revision {head})" in ready
    engine = make_engine(url)
    with engine.begin() as connection:
        connection.execute(text("UPDATE alembic_version SET version_num = '9999'"))
    engine.dispose()
    assert main(["db", "upgrade"]) == 2
    assert "which this release does not know" in capsys.readouterr().err


def test_init_takes_on_a_database_made_by_create_all(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    url = database_url(tmp_path)
    engine = make_engine(url)
    create_all_of_old(engine)
    use_old(engine, tmp_path)
    before, old = rows(engine), columns_of(engine)
    current = db_command("db", "current", url=url, monkeypatch=monkeypatch, capsys=capsys)
    assert f"tables made before migrations; `service-orders db upgrade` takes them on as {migrations.BASELINE}" in (
        current)
    env = {k: v for k, v in os.environ.items() if not k.startswith("SLACK_")} | {"DATABASE_URL": url}
    result = subprocess.run([CLI, "init"], env=env, capture_output=True, text=True, timeout=60)  # as operators do
    assert result.returncode == 0 and f"(schema revision {migrations.head()})" in result.stdout, result.stderr
    assert rows(engine, old) == before and revision(engine) == migrations.head() and differences(engine) == []
    engine.dispose()


def test_0006_keeps_old_audit_text_readable_as_facts_without_markup(empty: Engine, tmp_path: Path) -> None:
    """Audit rows from before typed facts: their text becomes the facts' `legacy` note, with Slack's markup
    turned into plain ids and text; rows already holding facts are left as they are."""
    with empty.begin() as connection:
        command.upgrade(migrations.alembic_config(connection), "0005")
    order_id = use_old(empty, tmp_path)  # this release's rows: facts already
    with Session(empty) as session:
        kept = [e.detail for e in audit_trail(session, order_id)]
    old = ("Version 2: − Skip hire; added field worker <@U0FW2>. Total +12.00. Why: &lt;!channel&gt; "
           "cable &amp; pipe, see <#C0123|so-000001-acme>")
    with empty.begin() as connection:
        connection.execute(text("INSERT INTO audit_event (order_id, at, actor_id, action, from_state, to_state, "
                                "version, detail) VALUES (:o, :at, 'U0FW1', 'confirm', 'approved', 'approved', 2, "
                                ":d)"), {"o": order_id, "at": NOW, "d": old})
    assert init_db(empty).after == migrations.head()
    with Session(empty) as session:
        events = audit_trail(session, order_id)
    assert [e.detail for e in events[:-1]] == kept
    facts = StepFacts.loads(events[-1].detail)
    assert (facts.action, facts.actor) == (Action.CONFIRM, "U0FW1")
    assert facts.legacy == ("Version 2: − Skip hire; added field worker U0FW2. Total +12.00. Why: <!channel> "
                            "cable & pipe, see C0123")
    assert "<@" not in events[-1].detail and "&amp;" not in events[-1].detail
    assert "U0FW1 filed a confirmation. Version 2: − Skip hire" in describe(events[-1], english(), plain(str))


def test_0009_keeps_each_stint_and_its_downgrade_keeps_each_workers_latest(empty: Engine, tmp_path: Path) -> None:
    """Assignments carry over into one row per stint; a worker may then hold a second stint on the order. Going
    back to 0008 collapses the stints: a worker keeps only their latest, as the old schema's re-add left it."""
    with empty.begin() as connection:
        command.upgrade(migrations.alembic_config(connection), "0008")
    order_id = use_old(empty, tmp_path)
    assignments = "SELECT user_id, added_in_version, removed_in_version FROM assignment ORDER BY 2, 1"
    with empty.connect() as connection:
        before = [tuple(row) for row in connection.execute(text(assignments))]
    assert before == [(WORKER, 1, None)]
    assert init_db(empty).after == migrations.head() and differences(empty) == []
    # downgraded as a migration runs (on SQLite with foreign keys off while later revisions copy tables)
    with migrations._exclusive(empty) as connection:
        assert [tuple(row) for row in connection.execute(text(assignments))] == before
        connection.execute(text("UPDATE assignment SET removed_in_version = 2"))
        connection.execute(text("INSERT INTO assignment (order_id, user_id, added_in_version) VALUES (:o, :u, 3)"),
                           {"o": order_id, "u": WORKER})  # a second stint: the old key refused it
        command.downgrade(migrations.alembic_config(connection), "0008")
    with empty.connect() as connection:
        assert [tuple(row) for row in connection.execute(text(assignments))] == [(WORKER, 3, None)]


def test_0010_starts_every_orders_approval_round_at_its_submission(empty: Engine, tmp_path: Path) -> None:
    """Orders from before approval rounds: pending_since is their created_at and they are in round 1; approval
    and escalation reminders already queued are round 1's, so they are not sent again; a downgrade folds them
    back (later rounds' reminders are dropped) and leaves the other kinds alone."""
    with empty.begin() as connection:
        command.upgrade(migrations.alembic_config(connection), "0009")
    order_id = use_old(empty, tmp_path)
    queued = [("approval", f"approval:{order_id}:24h"), ("escalation", f"escalation:{order_id}:48h"),
              ("overdue", f"overdue:{order_id}:2026-11-27")]
    with empty.begin() as connection:
        for kind, key in queued:
            connection.execute(text("INSERT INTO reminder (key, kind, order_id, due_at, created_at) "
                                    "VALUES (:k, :kind, :o, :at, :at)"), {"k": key, "kind": kind, "o": order_id,
                                                                          "at": NOW})
    assert init_db(empty).after == migrations.head() and differences(empty) == []

    def keys() -> list[str]:
        with empty.connect() as connection:
            return list(connection.execute(text("SELECT key FROM reminder ORDER BY id")).scalars())

    with empty.connect() as connection:
        found = connection.execute(text("SELECT created_at, pending_since, pending_round FROM service_order "
                                        "WHERE id = :o"), {"o": order_id}).one()
    assert (found.pending_since, found.pending_round) == (found.created_at, 1)
    assert keys() == [f"approval:{order_id}:r1:24h", f"escalation:{order_id}:r1:48h", queued[2][1]]
    # a second round's reminder, which one key per order cannot hold; downgraded as a migration runs (on SQLite
    # with foreign keys off while tables are copied)
    with migrations._exclusive(empty) as connection:
        connection.execute(text("INSERT INTO reminder (workspace, key, kind, order_id, due_at, created_at) "
                                "VALUES ('', :k, 'approval', :o, :at, :at)"), {"k": f"approval:{order_id}:r2:24h",
                                                                             "o": order_id, "at": NOW})
        command.downgrade(migrations.alembic_config(connection), "0009")
    assert keys() == [key for _, key in queued]
    assert "pending_since" not in columns_of(empty)["service_order"]


def test_0021_folds_accents_out_of_the_catalogs_search_text_and_its_downgrade_keeps_them(empty: Engine,
                                                                                          tmp_path: Path) -> None:
    """Entries imported when search_text was only casefolded: it is folded again, so "penalolen" finds
    "Peñalolén"; going back to 0020 casefolds it as that release did."""
    with empty.begin() as connection:
        command.upgrade(migrations.alembic_config(connection), "0020")
    use_old(empty, tmp_path)
    search_texts = "SELECT code, search_text FROM catalog_entry WHERE code IN ('PENA', 'ORST-LDZ') ORDER BY code"
    with empty.begin() as connection:
        for entry, code, name in connection.execute(text("SELECT id, code, name FROM catalog_entry")).all():
            connection.execute(text("UPDATE catalog_entry SET search_text = :s WHERE id = :e"),
                               {"s": f"{code} {name}".casefold(), "e": entry})
        before = [tuple(row) for row in connection.execute(text(search_texts))]
    assert before == [("ORST-LDZ", "orst-ldz łódź substation"), ("PENA", "pena constructora peñalolén s.a.")]
    assert init_db(empty).after == migrations.head() and differences(empty) == []
    with Session(empty) as session:
        assert [e.code for e in search_catalog(session, ("client",), "penalolen")] == ["PENA"]
        assert [e.code for e in search_catalog(session, ("site",), "LODZ")] == ["ORST-LDZ"]
    with migrations._exclusive(empty) as connection:
        command.downgrade(migrations.alembic_config(connection), "0020")
    with empty.connect() as connection:
        assert [tuple(row) for row in connection.execute(text(search_texts))] == before


def test_0018_gives_every_row_to_the_workspace_recorded_and_numbers_on_from_its_orders(empty: Engine,
                                                                                       tmp_path: Path) -> None:
    with empty.begin() as connection:
        command.upgrade(migrations.alembic_config(connection), "0017")
    order_id = use_old(empty, tmp_path)
    with empty.begin() as connection:
        connection.execute(text("INSERT INTO slack_workspace (team_id, team_name, bot_user_id, connected_at) "
                                "VALUES (:team, 'Fake Workspace', 'U0BOT', :at)"), {"team": TEAM, "at": NOW})
    assert init_db(empty).after == migrations.head() and differences(empty) == []
    with empty.connect() as connection:
        owners = {table: set(connection.execute(text(f"SELECT DISTINCT workspace FROM {table}")).scalars())
                  for table in sorted(SCOPED)}
        numbers = connection.execute(text("SELECT id, number FROM service_order")).all()
        last = connection.execute(text("SELECT workspace, last FROM order_numbering")).all()
    assert {table: teams for table, teams in owners.items() if teams} == dict.fromkeys(
        ["catalog_entry", "order_numbering", "pending_effect", "role_grant", "service_order"], {TEAM})
    assert numbers == [(order_id, order_id)] and last == [(TEAM, order_id)]
    # the next order counts on from there, in that workspace
    with session_scope(empty) as session:
        assert adopt_unclaimed(session, TEAM) == 0
    order = OrderService(empty, clock=lambda: NOW).submit(REQUESTER, OrderDraft(
        client_code="ACME", site_code="ACME-HQ", requested_date=TOMORROW, priority="low", description="Next",
        items=(ItemQuantity("service:HVAC-MNT", Decimal(1), 0),), free_items=()))
    assert (order.workspace, order.number) == (TEAM, order_id + 1)


def test_0018_numbers_old_orders_by_their_ids_so_their_pdfs_still_verify(empty: Engine, tmp_path: Path) -> None:
    """An order from before per-workspace numbering keeps the number it was shown with (number = id): the PDF
    issued then still verifies, and that number typed finds it."""
    with empty.begin() as connection:
        command.upgrade(migrations.alembic_config(connection), "0017")
    issued: list[bytes] = []
    order_id = use_old(empty, tmp_path, then=lambda head, order: issued.append(
        issue(head, order, 1, Letterhead(Provider(name="Test Provider"))).pdf))
    assert init_db(empty).after == migrations.head()
    with serving(UNCLAIMED):  # no start recorded whose rows these are: they wait for the first start's
        assert verify(empty, issued[0], "old.pdf").finding is Finding.GENUINE
        with Session(empty) as session:
            assert order_id_by_number(session, order_id) == order_id
            assert order_card(session, order_id).number == f"SO-{order_id:06d}"


def test_0018_will_not_downgrade_several_workspaces_into_one(empty: Engine) -> None:
    init_db(empty)
    grant(empty, SUPERVISOR, [Role.SUPERVISOR])
    with serving("T0OTHER"):  # a second workspace with roles and no order yet is a workspace all the same
        grant(empty, SUPERVISOR, [Role.REQUESTER])
    with pytest.raises(RuntimeError, match="several workspaces"), empty.begin() as connection:
        command.downgrade(migrations.alembic_config(connection), "0017")
    assert revision(empty) == migrations.head()
    with everywhere():
        assert roles_by_user(empty) == {SUPERVISOR: ["requester", "supervisor"]}
