"""The engine, and the schema through migrations (storage/migrations). SQLite is the embedded default;
PostgreSQL (psycopg) serves several bot processes. A DATABASE_URL we cannot use is a DatabaseUrlError."""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import URL, Connection, Engine, Insert, Select, Table, event, insert, make_url, or_, text, true
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import ArgumentError, OperationalError
from sqlmodel import Session, SQLModel, create_engine

from storage import models  # importing it registers the tables on SQLModel.metadata
from storage.request_context import REQUEST_ID
from storage.scope import Scoped, ScopedKey, current

if TYPE_CHECKING:
    from storage.migrations import Outcome

DEFAULT_DATABASE_URL = "sqlite:///data/service-orders.db"
WRITE_OPTION = "service_orders_write"
# A bot process has about 20 threads that may use the database at once: 8 request threads, Bolt's 5 lazy
# listeners, the effect workers (EFFECT_WORKERS, 2 by default) and the scheduler's 2, with room to spare. A
# pool smaller than that opens and closes a server connection (a PostgreSQL backend process) for every
# overflowing session under load.
POOL_SIZE = 20


# the databases this release runs on: SQLAlchemy's dialect+driver names (`postgresql://` means psycopg too)
SUPPORTED_DRIVERS = ("sqlite", "sqlite+pysqlite", "postgresql", "postgresql+psycopg")
EXAMPLES = "like sqlite:///data/service-orders.db or postgresql+psycopg://user:password@host:5432/dbname"


class DatabaseUrlError(Exception):
    """DATABASE_URL names a database this process cannot use. The message names the setting and what to fix;
    it never holds the password."""


def database_url() -> str:
    return os.environ.get("DATABASE_URL") or DEFAULT_DATABASE_URL


def check_url(text: str) -> URL:
    """`text` as a URL of a database we support, or DatabaseUrlError saying what is wrong with it (without
    repeating it: it may hold a password)."""
    try:
        url = make_url(text)
    except (ArgumentError, ValueError):  # ValueError: a port that is not a number
        raise DatabaseUrlError(f"DATABASE_URL is not a database URL ({EXAMPLES})") from None
    if url.drivername not in SUPPORTED_DRIVERS:
        raise DatabaseUrlError(f"DATABASE_URL names {url.drivername}://, which this release does not support: "
                               f"use SQLite or PostgreSQL ({EXAMPLES})")
    if url.host and "@" in url.host:  # make_url split the URL at an @ of the password
        raise DatabaseUrlError("DATABASE_URL has an @ in its password or host: write @ in a password as %40 "
                               "(and : / ? # as %3A %2F %3F %23)")
    if url.port is not None and not 1 <= url.port <= 65535:
        raise DatabaseUrlError(f"DATABASE_URL's port {url.port} is not a port (1 to 65535)")
    # plain postgresql:// means psycopg2 before SQLAlchemy 2.1; we install psycopg (3)
    return url.set(drivername="postgresql+psycopg") if url.drivername == "postgresql" else url


def make_engine(url: str | None = None) -> Engine:
    """The engine for `url` (default: DATABASE_URL). Raises DatabaseUrlError for a URL we cannot use; PostgreSQL
    connects lazily, so a server that cannot be reached shows at the first connection (`init_db`)."""
    parsed = check_url(url or database_url())
    if parsed.get_backend_name() != "sqlite":
        try:
            return create_engine(parsed, pool_pre_ping=True, pool_size=POOL_SIZE, max_overflow=POOL_SIZE // 2)
        except ModuleNotFoundError:
            raise DatabaseUrlError("DATABASE_URL names PostgreSQL, whose driver is not installed: "
                                   "pip install -e '.[postgres]'") from None
    _make_sqlite_folder(parsed)
    engine = create_engine(parsed, connect_args={"check_same_thread": False, "timeout": 30})

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection, _record) -> None:  # type: ignore[no-untyped-def]
        # We issue BEGIN ourselves (below); pysqlite's implicit BEGIN is deferred.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        # WAL lets readers run beside the writer; NORMAL sync is durable across process crashes.
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection) -> None:  # type: ignore[no-untyped-def]
        # A write transaction takes the write lock up front (IMMEDIATE): a deferred one that reads and then
        # writes can fail with "database is locked" without waiting, which would lose a user's step.
        # Reads stay deferred, so they never wait behind a writer (WAL).
        write = connection.get_execution_options().get(WRITE_OPTION, False)
        connection.exec_driver_sql("BEGIN IMMEDIATE" if write else "BEGIN")

    return engine


def _make_sqlite_folder(url: URL) -> None:
    path = url.database or ""
    if not path or path == ":memory:" or url.query.get("uri"):  # in memory, or a file: URI sqlite opens itself
        return
    folder = Path(path).parent
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise DatabaseUrlError(f"DATABASE_URL: cannot make the folder {folder} for the SQLite file "
                               f"({error.strerror}); choose a folder you can write to") from None


@contextmanager
def reaching(url: URL | str) -> Iterator[None]:
    """Turns a failure to reach or write the database at `url` into DatabaseUrlError saying what to fix."""
    try:
        yield
    except OperationalError as error:
        try:
            problem = _unreachable(make_url(url), str(error.orig))
        except ArgumentError:  # not a URL at all: make_engine said so before anything could connect
            problem = None
        if problem is None:
            raise
        raise DatabaseUrlError(problem) from None


def _unreachable(url: URL, reason: str) -> str | None:
    """What to fix, from the driver's message (libpq's and sqlite3's carry no SQLSTATE at connection time);
    None for SQLite's other errors (SQL it refused is a bug, not a setting)."""
    if url.get_backend_name() == "sqlite":
        if "readonly" in reason:
            return f"DATABASE_URL: the SQLite file {url.database} is read-only; make it and its folder writable"
        if "unable to open" in reason or "disk I/O" in reason or "not a database" in reason:
            return (f"DATABASE_URL: cannot open the SQLite file {url.database} ({reason}); "
                    "name a database file in a folder you can write to")
        return None
    server = f"{url.host or 'localhost'}:{url.port or 5432}"
    if "Connection refused" in reason:
        return f"DATABASE_URL: cannot connect to PostgreSQL at {server} (connection refused): is the server running?"
    if "password authentication failed" in reason or ("role" in reason and "does not exist" in reason):
        return f"DATABASE_URL: PostgreSQL at {server} refused the user name or password for {url.username}"
    if "database" in reason and "does not exist" in reason:
        return (f"DATABASE_URL: PostgreSQL at {server} has no database {url.database}; "
                f"create it (createdb {url.database}) or fix the name")
    if not any(sign in reason for sign in _NOT_CONNECTED):
        return None  # connected, then something else went wrong (a deadlock, a timeout): not the setting's fault
    first = reason.strip().splitlines()[0]
    if url.password:
        first = first.replace(url.password, "***")
    return f"DATABASE_URL: cannot connect to PostgreSQL at {server}: {first}"


# what libpq says when it could not open a connection at all
_NOT_CONNECTED = ("connection to server", "could not translate host name", "timeout expired",
                  "could not connect to server")


def init_db(engine: Engine) -> Outcome:
    """Bring the schema to this release's: run the migrations it lacks (storage/migrations), taking on tables
    that `create_all` made before there were migrations. Safe to run any number of times, and from several
    processes at once. The first real connection: DatabaseUrlError when the database cannot be reached."""
    from storage.migrations import upgrade

    with reaching(engine.url):
        return upgrade(engine)


def refresh_statistics(engine: Engine) -> None:
    """Let SQLite plan from the data it holds: ANALYZE gathers how many rows each index key has (sqlite_stat1).
    Without them SQLite guesses, and at 100,000 orders reads every open order for an App Home instead of the
    reader's clients' (bench/real_size.py). A write that holds the database for about half a second at that
    size, so the bot runs it a minute after it starts and every few hours. PostgreSQL's autovacuum keeps its own."""
    if engine.dialect.name == "sqlite":
        with engine.begin() as connection:
            connection.exec_driver_sql("ANALYZE")


def ping(engine: Engine) -> bool:
    try:
        with engine.connect() as connection:
            connection.execute(text("SELECT 1"))
        return True
    except Exception:
        return False


@contextmanager
def session_scope(engine: Engine) -> Iterator[Session]:
    """One write transaction: committed when the block ends, rolled back if it raises."""
    with Session(engine.execution_options(**{WRITE_OPTION: True}), expire_on_commit=False) as session:
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise


def dialect_insert(session: Session, model: type[SQLModel]) -> Insert:
    """An INSERT into `model`'s table that takes ON CONFLICT (the same SQL on PostgreSQL and SQLite, but not the
    same SQLAlchemy construct)."""
    insert = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    return insert(model.__table__)  # type: ignore[attr-defined]


# The not_before of an effect due at once: a moment every clock has passed. The claim compares not_before with the
# clock of the process that claims (the machine's, or one a test injects), which need not be the clock of the
# process that queued or retried the effect: "now" by one clock can be the future by another.
DUE_AT_ONCE = datetime(1970, 1, 1, tzinfo=UTC)


def queue_effects(session: Session, effects: Iterable[tuple[int | None, str, str, dict[str, Any]]],
                  now: datetime) -> None:
    """Write pending effects, each (order id, kind, key, payload), due at once, in `session`'s transaction: one
    bulk INSERT through Core (the ORM's bulk bookkeeping costs more than the rows). Each carries the id of the
    Slack request being handled, if any."""
    request_id = REQUEST_ID.get()
    rows = [{"order_id": order_id, "kind": kind, "key": key, "payload": json.dumps(payload), "status": "pending",
             "attempts": 0, "not_before": DUE_AT_ONCE, "created_at": now, "request_id": request_id}
            for order_id, kind, key, payload in effects]
    if rows:
        session.connection().execute(insert(models.PendingEffect), rows)


def upsert(session: Session, model: type[SQLModel], row: dict[str, Any], key: str) -> None:
    """Insert `row`, or update the one with its `key`: one statement, so two processes writing the same row at
    once both succeed (a read, then an insert, lets one of them fail on the primary key). A workspace's row is
    the served workspace's, keyed within it."""
    keys = [key]
    if issubclass(model, Scoped | ScopedKey):
        row, keys = {"workspace": current(), **row}, ["workspace", key]
    statement = dialect_insert(session, model).values(row)
    session.execute(statement.on_conflict_do_update(
        index_elements=keys, set_={column: statement.excluded[column] for column in row if column not in keys}))


@contextmanager
def scratch_table(connection: Connection, table: Table) -> Iterator[Table]:
    """`table` (declared TEMPORARY) on `connection` for the block: work space no other connection sees, which
    writes nothing to the database's own tables (on SQLite, it takes no write lock), dropped after."""
    with connection.begin():
        table.create(connection)
    try:
        yield table
    finally:
        if connection.in_transaction():
            connection.rollback()
        with connection.begin():
            table.drop(connection, checkfirst=True)


def bulk_insert(connection: Connection, table: Table, rows: list[tuple[Any, ...]]) -> None:
    """Rows, as tuples in `table`'s column order and types the driver takes as they are, straight to the driver:
    COPY on PostgreSQL, executemany on SQLite. For bulk loads, where SQLAlchemy's per-row parameter handling
    costs more than the insert."""
    if not rows:
        return
    names = ", ".join(column.name for column in table.columns)
    if connection.dialect.name == "postgresql":
        with connection.connection.dbapi_connection.cursor() as cursor, \
                cursor.copy(f"COPY {table.name} ({names}) FROM STDIN") as copy:  # type: ignore[union-attr]
            for row in rows:
                copy.write_row(row)
    else:
        marks = ", ".join("?" for _ in table.columns)
        connection.exec_driver_sql(f"INSERT INTO {table.name} ({names}) VALUES ({marks})", rows)


def without_jit(connection: Connection) -> None:
    """Turn PostgreSQL's JIT off for the current transaction. Bulk statements over a freshly loaded table have
    cost estimates that trigger it, and compiling took longer than running them (0.8 s of a 1 s query)."""
    if connection.dialect.name == "postgresql":
        connection.execute(text("SET LOCAL jit = off"))


def upsert_from_select(connection: Connection, model: type[SQLModel], columns: list[str], rows: Select,
                       key: list[str]) -> None:
    """INSERT INTO model's table (columns) SELECT rows, updating the rows whose `key` exists: one statement
    for any number of rows. `rows` must not repeat a key."""
    dialect_insert = pg_insert if connection.dialect.name == "postgresql" else sqlite_insert
    # SQLite needs a WHERE in INSERT … SELECT … ON CONFLICT, or it reads ON CONFLICT as a join's ON
    statement = dialect_insert(model.__table__).from_select(columns, rows.where(true()))  # type: ignore[attr-defined]
    table, values = model.__table__, [column for column in columns if column not in key]  # type: ignore[attr-defined]
    # a row that would not change is left alone: no new row version on PostgreSQL, no index writes on either
    changed = or_(*(table.c[column].is_distinct_from(statement.excluded[column]) for column in values))
    connection.execute(statement.on_conflict_do_update(
        index_elements=key, set_={column: statement.excluded[column] for column in values}, where=changed))
