"""Schema migrations with Alembic, configured in code: the scripts live beside this file (env.py, versions/), so
an installed package finds them wherever it is, and no alembic.ini is needed.

`upgrade(engine)` (what `init_db` runs) brings a database to the head revision:
- empty: every revision runs;
- tables made by `create_all` before there were migrations (no revision recorded): they must hold the baseline's
  tables and columns; the baseline is stamped, then the later revisions run;
- a revision recorded but none of the tables (`SQLModel.metadata.drop_all` leaves alembic_version behind, and
  the tests drop tables that way): it starts again from nothing;
- already at head: nothing is written.
One process at a time and all or nothing: on PostgreSQL in one transaction under an advisory lock, on SQLite in
one BEGIN IMMEDIATE transaction (SQLite's DDL is transactional too).
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from alembic.util import CommandError
from sqlalchemy import Connection, Engine, create_engine, inspect, text
from sqlmodel import SQLModel

from storage import models  # noqa: F401  (registers the tables on SQLModel.metadata)
from storage.db import WRITE_OPTION, reaching

SCRIPTS = Path(__file__).resolve().parent
BASELINE = "0001"  # the schema as `create_all` made it before there were migrations
VERSION_TABLE = "alembic_version"
# pg_advisory_xact_lock's key: any constant, the same in every process ("SERVORDS" in ASCII)
LOCK_ID = 0x5345_5256_4F52_4453


_IN_PROCESS = threading.Lock()


class SchemaError(Exception):
    """The database cannot be brought to this release's schema without a person deciding something."""


@dataclass(frozen=True)
class Status:
    current: str | None  # the recorded revision; None if there is none
    head: str
    unversioned_tables: bool = False  # tables without a recorded revision: made by `create_all` earlier

    @property
    def at_head(self) -> bool:
        return self.current == self.head


@dataclass(frozen=True)
class Outcome:
    before: str | None  # the revision found (None: an empty database, or tables without one)
    after: str
    adopted: bool = False  # tables made by `create_all` were stamped at the baseline

    @property
    def changed(self) -> bool:
        return self.adopted or self.before != self.after


def alembic_config(connection: Connection | None = None) -> Config:
    config = Config()
    config.set_main_option("script_location", str(SCRIPTS).replace("%", "%%"))
    config.set_main_option("file_template", "%%(rev)s_%%(slug)s")
    config.attributes["connection"] = connection  # env.py migrates this connection
    return config


@functools.cache
def _scripts() -> ScriptDirectory:
    return ScriptDirectory.from_config(alembic_config())


def head() -> str:
    revision = _scripts().get_current_head()
    if revision is None:
        raise SchemaError(f"no migrations found in {SCRIPTS / 'versions'}")
    return revision


def _recorded(connection: Connection) -> str | None:
    revision = MigrationContext.configure(connection).get_current_revision()
    if revision is not None:
        try:
            _scripts().get_revision(revision)
        except CommandError:
            raise SchemaError(f"the database is at schema revision {revision}, which this release does not know "
                              "(a newer release migrated it); run that release or a later one") from None
    return revision


def status(engine: Engine) -> Status:
    """Where the database stands; changes nothing."""
    with reaching(engine.url), engine.connect() as connection:
        tables = set(inspect(connection).get_table_names())
        current = _recorded(connection) if VERSION_TABLE in tables else None
        ours = tables & set(SQLModel.metadata.tables)
    return Status(current, head(), unversioned_tables=current is None and bool(ours))


def upgrade(engine: Engine) -> Outcome:
    """Bring the database to the head revision (see the module's doc); safe to run any number of times, and from
    several processes at once."""
    target = head()
    # Alembic's `context` is global to the process: one migration at a time in it (other processes: below)
    with _IN_PROCESS, _exclusive(engine) as connection:
        tables = set(inspect(connection).get_table_names())
        before = _recorded(connection) if VERSION_TABLE in tables else None
        ours = tables & set(SQLModel.metadata.tables)
        config = alembic_config(connection)
        adopted = False
        if before is None and ours:
            _check_baseline(connection, tables)
            command.stamp(config, BASELINE)
            adopted = True
        elif before is not None and not ours:
            command.stamp(config, "base", purge=True)  # the tables were dropped: the recorded revision is stale
            before = None
        if adopted or before != target:
            command.upgrade(config, "head")
    return Outcome(before, target, adopted)


@contextmanager
def _exclusive(engine: Engine) -> Iterator[Connection]:
    """A connection in a transaction that no other process's migration runs beside; committed at the end."""
    with engine.connect() as connection:
        on_sqlite = connection.dialect.name == "sqlite"
        if on_sqlite:
            # Batch migrations copy a table and drop the old one, which enforced foreign keys would refuse or
            # cascade; the pragma changes only outside a transaction. Checked below before the commit.
            connection.connection.driver_connection.execute("PRAGMA foreign_keys=OFF")  # type: ignore[union-attr]
            connection.execution_options(**{WRITE_OPTION: True})  # BEGIN IMMEDIATE: the write lock up front
        elif connection.dialect.name == "postgresql":
            # held until this transaction ends: a second process waits here, then finds the work done
            connection.execute(text("SELECT pg_advisory_xact_lock(:id)"), {"id": LOCK_ID})
        try:
            yield connection
            if on_sqlite and (broken := connection.exec_driver_sql("PRAGMA foreign_key_check").all()):
                raise SchemaError(f"migrating would break foreign keys: {broken[:5]}")
            connection.commit()
        finally:
            if on_sqlite:
                connection.rollback()  # nothing left after a commit; undoes everything after an error
                connection.connection.driver_connection.execute("PRAGMA foreign_keys=ON")  # type: ignore[union-attr]


@functools.cache
def _baseline_columns() -> dict[str, frozenset[str]]:
    """The baseline revision's tables and their columns, from running it on a scratch in-memory database (not
    from the models, which move on after it)."""
    scratch = create_engine("sqlite://")
    try:
        with scratch.connect() as connection:
            command.upgrade(alembic_config(connection), BASELINE)
            inspector = inspect(connection)
            return {table: frozenset(column["name"] for column in inspector.get_columns(table))
                    for table in inspector.get_table_names() if table != VERSION_TABLE}
    finally:
        scratch.dispose()


def _check_baseline(connection: Connection, tables: set[str]) -> None:
    """Tables made by `create_all` are adopted as the baseline only if they hold all of it."""
    inspector = inspect(connection)
    missing: list[str] = []
    for table, columns in sorted(_baseline_columns().items()):
        if table not in tables:
            missing.append(f"table {table}")
            continue
        present = {column["name"] for column in inspector.get_columns(table)}
        missing.extend(f"column {table}.{name}" for name in sorted(columns - present))
    if missing:
        raise SchemaError(
            f"the database has tables made before there were migrations, but not the whole schema of revision "
            f"{BASELINE} that they would be taken on as (missing: {', '.join(missing)}); it was made by an earlier "
            "development build. Add what is missing by hand, or start from an empty database.")
