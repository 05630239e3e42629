"""Shared fixtures. Every test gets a fresh database: SQLite by default, PostgreSQL when
TEST_DATABASE_URL is set (CI runs the suite both ways)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import Engine, delete
from sqlmodel import SQLModel

from sandbox.local import TEAM  # the workspace of the tests: the fake Slack's
from storage.db import init_db, make_engine, session_scope
from storage.models import SlackWorkspace
from storage.scope import serving
from workflow.catalog import import_csv
from workflow.people import grant
from workflow.policy import ApprovalPolicy, ReapprovalThreshold
from workflow.vocabulary import Role

SAMPLE_CATALOG = Path(__file__).resolve().parents[1] / "sandbox" / "sample" / "catalog.csv"
# Slack's reference data (manifest schema, method docs, the Web API spec): see its README.md
SLACK_REFERENCE = Path(__file__).resolve().parent / "reference" / "slack"

# people of the tests (Slack user ids)
REQUESTER, SUPERVISOR, COORDINATOR, WORKER, WORKER2, OUTSIDER = (
    "U0REQ", "U0SUP", "U0COORD", "U0FW1", "U0FW2", "U0OUT")

# REAPPROVAL_OVER=off: for tests of other steps whose confirmations and prices raise the total past the
# product's 10 % (tests/test_change_approval.py is where a raise waits for approval)
NO_REAPPROVAL = ApprovalPolicy(reapproval=ReapprovalThreshold())


@pytest.fixture(autouse=True)
def workspace() -> Iterator[str]:
    """What a test does itself (seeding, reading back) is the fake workspace's, as the bot's requests are."""
    with serving(TEAM) as team:
        yield team


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Engine]:
    url = os.environ.get("TEST_DATABASE_URL")
    if url:
        engine = make_engine(url)
        SQLModel.metadata.drop_all(engine)
    else:
        engine = make_engine(f"sqlite:///{tmp_path / 'test.db'}")
    init_db(engine)
    with session_scope(engine) as session:  # the fake workspace's, as the bot's first start records it
        session.add(SlackWorkspace(team_id=TEAM, team_name="Fake Workspace", bot_user_id="U0BOT",
                                   connected_at=datetime(2026, 1, 1, tzinfo=UTC)))
    yield engine
    engine.dispose()


def forget_workspaces(engine: Engine) -> Engine:
    """`engine` as no bot start and no install has recorded a workspace in yet (their first one does)."""
    with session_scope(engine) as session:
        session.execute(delete(SlackWorkspace))
    return engine


@pytest.fixture
def seeded(engine: Engine) -> Engine:
    """A database with the sample catalog and one person per role."""
    import_csv(engine, SAMPLE_CATALOG)
    grant(engine, REQUESTER, [Role.REQUESTER])
    grant(engine, SUPERVISOR, [Role.SUPERVISOR])
    grant(engine, COORDINATOR, [Role.COORDINATOR])
    grant(engine, WORKER, [Role.FIELD_WORKER])
    grant(engine, WORKER2, [Role.FIELD_WORKER])
    return engine
