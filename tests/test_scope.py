"""Each workspace's rows, through the workflow's own functions: what one workspace writes the other never
reads or changes (storage/scope.py), and a statement outside any workspace is refused, not run over all."""

from __future__ import annotations

import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import Engine, func
from sqlmodel import Session, select

from storage.db import session_scope
from storage.models import Asset, CatalogEntry, PendingEffect, SlackWorkspace
from storage.scope import NoWorkspace, everywhere, serving
from tests.conftest import REQUESTER, SAMPLE_CATALOG, SUPERVISOR, WORKER
from workflow.catalog import import_csv
from workflow.people import grant, revoke, roles_by_user, saw_home, whose_home_to_refresh
from workflow.queries import search_catalog
from workflow.service import OrderService
from workflow.vocabulary import Role

OTHER = "T0OTHER"
NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
CLI = str(Path(sys.executable).parent / "service-orders")


def test_roles_catalog_and_home_viewers_are_each_workspaces_own(engine: Engine, workspace: str) -> None:
    import_csv(engine, SAMPLE_CATALOG)
    grant(engine, SUPERVISOR, [Role.SUPERVISOR])
    saw_home(engine, SUPERVISOR, NOW)
    with serving(OTHER):
        assert roles_by_user(engine) == {}
        with Session(engine) as session:
            assert search_catalog(session, ("client",), "acme") == []
            assert session.exec(select(func.count()).select_from(CatalogEntry)).one() == 0
            assert whose_home_to_refresh(session, [SUPERVISOR]) == []
        # the same person, code and file in another workspace: rows of their own, beside the first's
        grant(engine, SUPERVISOR, [Role.REQUESTER])
        import_csv(engine, SAMPLE_CATALOG)
        assert not revoke(engine, SUPERVISOR, Role.SUPERVISOR)  # the first workspace's grant is not here
        assert roles_by_user(engine) == {SUPERVISOR: ["requester"]}
    assert roles_by_user(engine) == {SUPERVISOR: ["supervisor"]}
    with everywhere(), Session(engine) as session:
        teams = session.exec(select(CatalogEntry.workspace, func.count()).group_by(CatalogEntry.workspace)).all()
    assert dict(teams) == {workspace: 16, OTHER: 16}


def test_an_order_and_its_effects_are_its_workspaces(seeded: Engine, workspace: str) -> None:
    service = OrderService(seeded, clock=lambda: NOW)
    from tests.test_workflow import draft

    order = service.submit(REQUESTER, draft())
    with serving(OTHER):
        with Session(seeded) as session:
            assert session.get(type(order), order.id) is None
            assert session.exec(select(PendingEffect)).all() == []
        # nobody here holds a role, nor is there a catalog: the same person is refused, nothing is written
        with pytest.raises(Exception) as refused:
            OrderService(seeded, clock=lambda: NOW).submit(REQUESTER, draft())
        assert type(refused.value).__name__ == "NotAllowed"
    with everywhere(), Session(seeded) as session:
        kinds = {row.workspace for row in session.exec(select(PendingEffect)).all()}
    assert kinds == {workspace}


def test_outside_any_workspace_a_workspaces_table_is_refused(engine: Engine) -> None:
    with serving(OTHER):
        grant(engine, WORKER, [Role.FIELD_WORKER])
    token_free = [Asset(sha256="0" * 64, media_type="image/png", content=b"x")]
    from storage.scope import WORKSPACE

    reset = WORKSPACE.set(None)
    try:
        with pytest.raises(NoWorkspace):
            roles_by_user(engine)
        with pytest.raises(NoWorkspace), session_scope(engine) as session:
            session.exec(select(func.count()).select_from(CatalogEntry)).one()
        with session_scope(engine) as session:  # a table of no workspace's (bytes by their hash) needs none
            session.add_all(token_free)
        with pytest.raises(NoWorkspace):
            grant(engine, WORKER, [Role.SUPERVISOR])
        with everywhere():
            assert roles_by_user(engine) == {WORKER: ["field_worker"]}
            with pytest.raises(NoWorkspace):  # a new row there would be nobody's
                grant(engine, WORKER, [Role.SUPERVISOR])
    finally:
        WORKSPACE.reset(reset)


def _cli(*args: str, url: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([CLI, *args], env={"DATABASE_URL": url, "PATH": "/usr/bin:/bin", "LANGUAGE": "en"},
                          capture_output=True, text=True, timeout=60)


def test_cli_commands_name_the_workspace_when_there_are_several(engine: Engine, workspace: str) -> None:
    url = engine.url.render_as_string(hide_password=False)  # its one workspace is the fake's (conftest)
    grant(engine, SUPERVISOR, [Role.SUPERVISOR])
    listed = _cli("roles", "list", url=url)  # one workspace: it is the one
    assert listed.returncode == 0 and SUPERVISOR in listed.stdout, listed.stderr
    with session_scope(engine) as session:
        session.add(SlackWorkspace(team_id=OTHER, team_name="Other Co", bot_user_id="U0BOT2", connected_at=NOW))
    unsure = _cli("roles", "list", url=url)
    assert unsure.returncode == 2 and unsure.stdout == ""
    assert unsure.stderr == (f"service-orders: The app is installed in 2 workspaces ({workspace} (Fake Workspace), "
                             f"{OTHER} (Other Co)): say which with --team.\n")
    granted = _cli("roles", "grant", WORKER, "field_worker", "--team", OTHER, url=url)
    assert granted.returncode == 0, granted.stderr
    theirs = _cli("roles", "list", "--team", OTHER, url=url)
    assert WORKER in theirs.stdout and SUPERVISOR not in theirs.stdout
    assert roles_by_user(engine) == {SUPERVISOR: ["supervisor"]}  # ours: unchanged
    unknown = _cli("roles", "list", "--team", "T0NOPE", url=url)
    assert unknown.returncode == 2 and unknown.stderr.startswith(
        "service-orders: The app was never installed in a workspace T0NOPE. Installed: ")
