"""The workspace being served. Every table that holds a workspace's data has a `workspace` column (the Slack
team id): a row written inside `serving(team)` gets it, and every ORM read, update and delete inside it sees
that workspace's rows alone, so no query needs to remember the filter. Outside any scope a statement on such a
table is refused (NoWorkspace) rather than run over every workspace; `everywhere()` is the explicit exception,
for the work that spans them (the effect runner's claim, the sweeps that list the workspaces).

Core statements run on a connection (`session.connection().execute`) are not the ORM's: those few say
`mine(table)` themselves (the catalog import, the reminder sweep).
"""

from __future__ import annotations

import functools
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

from sqlalchemy import ColumnElement, Table, event
from sqlalchemy.orm import ORMExecuteState, with_loader_criteria
from sqlalchemy.orm.util import LoaderCriteriaOption
from sqlalchemy.sql.util import find_tables
from sqlmodel import Field, Session, SQLModel

# a team id (T…), UNCLAIMED, EVERYWHERE, or None: no workspace chosen
WORKSPACE: ContextVar[str | None] = ContextVar("workspace", default=None)
EVERYWHERE = "*"
# the rows of a database no bot start has claimed yet (the CLI, before the first start): the first start, or
# the first install, makes them its workspace's (adopt_unclaimed)
UNCLAIMED = ""


class NoWorkspace(RuntimeError):
    """A statement on a workspace's table with no workspace chosen: a bug (a path that forgot `serving`)."""


def workspace_default(_context: Any = None) -> str:
    """The `workspace` column's default: rows inserted through Core get the scope's, as ORM objects do."""
    return current()


class Scoped(SQLModel):
    """The base of a table whose rows belong to one workspace. A table keyed by Slack ids (a person, a role)
    has `workspace` in its primary key (`ScopedKey`)."""

    workspace: str = Field(default_factory=workspace_default, max_length=32, index=True,
                           sa_column_kwargs={"default": workspace_default})


class ScopedKey(SQLModel):
    """Scoped, for a table whose primary key starts with the workspace."""

    workspace: str = Field(default_factory=workspace_default, max_length=32, primary_key=True,
                           sa_column_kwargs={"default": workspace_default})


def current() -> str:
    """The workspace being served; NoWorkspace outside `serving` (and inside `everywhere`: a row written there
    would belong to no one)."""
    team = WORKSPACE.get()
    if team is None or team == EVERYWHERE:
        raise NoWorkspace("no Slack workspace is being served here (storage/scope.py: serving)")
    return team


@contextmanager
def serving(team: str) -> Iterator[str]:
    """Everything the ORM reads and writes in the block is `team`'s (a team id, or UNCLAIMED)."""
    if team == EVERYWHERE or not isinstance(team, str):
        raise ValueError(f"not a workspace: {team!r}")
    token = WORKSPACE.set(team)
    try:
        yield team
    finally:
        WORKSPACE.reset(token)


@contextmanager
def everywhere() -> Iterator[None]:
    """Reads in the block see every workspace's rows; writes of new rows are refused (whose would they be?)."""
    token = WORKSPACE.set(EVERYWHERE)
    try:
        yield
    finally:
        WORKSPACE.reset(token)


def mine(table: Table) -> ColumnElement[bool]:
    """`table`'s rows of the workspace being served, for Core statements the ORM does not see."""
    return table.c.workspace == current()


def _scoped_models() -> list[type[SQLModel]]:
    return [model for base in (Scoped, ScopedKey) for model in base.__subclasses__()]


@event.listens_for(Session, "do_orm_execute")
def _only_this_workspace(state: ORMExecuteState) -> None:
    if not (state.is_select or state.is_update or state.is_delete) or state.is_column_load \
            or state.is_relationship_load:
        return
    team = WORKSPACE.get()
    if team == EVERYWHERE:
        return
    if team is None:
        scoped = {model.__tablename__ for model in _scoped_models()}
        if any(table.name in scoped for table in find_tables(state.statement, include_crud=True)):
            raise NoWorkspace("no Slack workspace is being served here (storage/scope.py: serving)")
        return
    # criteria for each scoped table, applied wherever it appears (a join, a subquery, an alias: the lambda is
    # called with each; `team` becomes a bound parameter, so the statement stays cached across workspaces)
    state.statement = state.statement.options(*_criteria(team))


@functools.lru_cache(maxsize=1024)
def _criteria(team: str) -> tuple[LoaderCriteriaOption, ...]:
    """Each scoped table's rows of `team`, wherever the table appears (a join, a subquery, an alias: the lambda
    is called with each). Built once per workspace: building them costs more than the rest of the hook."""
    return tuple(with_loader_criteria(model, lambda cls: cls.workspace == team, include_aliases=True)
                 for model in _scoped_models())


def adopt_unclaimed(session: Session, team: str) -> int:
    """Give `team` the rows no workspace holds: those of a database migrated before any bot start recorded
    whose it is (migration 0018 leaves them as ''). Returns how many rows it took."""
    taken = 0
    for model in _scoped_models():
        table = model.__table__  # type: ignore[attr-defined]
        taken += session.connection().execute(
            table.update().where(table.c.workspace == UNCLAIMED).values(workspace=team)).rowcount
    return taken
