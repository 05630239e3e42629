"""The command on an app installed from a link (several workspaces): it writes nothing before an install, works
in the workspace `--team` names, counts only the workspaces still installed, and looks people up by e-mail with
that workspace's own installation."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest
from sqlmodel import Session, select

from storage.models import RoleGrant, Routing
from storage.scope import everywhere
from tests import test_oauth
from tests.test_cli import CLI
from tests.test_oauth import ACME, CLIENT_ID, CLIENT_SECRET, GLOBEX, Installable, install

# test_oauth's fixtures: the bot installed from a link, on a database no workspace has installed it in yet
engine, setup = test_oauth.engine, test_oauth.setup


@pytest.fixture
def installable(request: pytest.FixtureRequest) -> Installable:
    return request.getfixturevalue("setup")  # type: ignore[no-any-return]


def cli(ws: Installable, *args: str) -> subprocess.CompletedProcess[str]:
    env = {"PATH": os.environ.get("PATH", ""), "LANGUAGE": "en", "SLACK_API_URL": ws.fake.api_url,
           "SLACK_CLIENT_ID": CLIENT_ID, "SLACK_CLIENT_SECRET": CLIENT_SECRET,
           "DATABASE_URL": ws.engine.url.render_as_string(hide_password=False)}
    return subprocess.run([CLI, *args], env=env, capture_output=True, text=True, timeout=60)


def grants(ws: Installable) -> set[tuple[str, str, str]]:
    with everywhere(), Session(ws.engine) as session:
        return {(row.workspace, row.user_id, row.role) for row in session.exec(select(RoleGrant))}


def test_nothing_is_written_before_an_install(installable: Installable) -> None:
    ws = installable
    refused = cli(ws, "roles", "grant", "U0ANA", "supervisor")
    assert (refused.returncode, refused.stdout) == (2, "")
    assert refused.stderr == ("service-orders: No workspace has the app installed yet: install it from "
                              "/slack/install first, then name the workspace with --team.\n")
    assert grants(ws) == set()


def test_each_workspace_by_team_and_only_those_still_installed(installable: Installable, tmp_path: Path) -> None:
    ws = installable
    for team, person in ((ACME, "U0ANA"), (GLOBEX, "U0GUS")):
        assert install(ws, team, person)[0] == 200
    unsure = cli(ws, "roles", "list")
    assert unsure.returncode == 2 and "The app is installed in 2 workspaces" in unsure.stderr
    assert cli(ws, "roles", "grant", "U0ANA", "supervisor", "--team", ACME).returncode == 0
    # a file naming people by e-mail: looked up with Globex's installation, in Globex (the fake's e-mail of U0GUS,
    # named "us" by the ws, is us@example.com; Acme's U0ANA's, na@example.com, is no one's there)
    catalog = tmp_path / "catalog.csv"
    catalog.write_text("kind,code,name,unit,unit_price,parent,address,contact,supervisors,coordinators\n"
                       "client,GLX,Globex Corp.,,,,,,us@example.com,\n", encoding="utf-8")
    imported = cli(ws, "catalog", "import", str(catalog), "--team", GLOBEX)
    assert imported.returncode == 0, imported.stderr
    with everywhere(), Session(ws.engine) as session:
        assert {(r.workspace, r.code, r.user_id) for r in session.exec(select(Routing))} == {(GLOBEX, "GLX", "U0GUS")}
    catalog.write_text(catalog.read_text(encoding="utf-8").replace("us@", "na@"), encoding="utf-8")
    unknown = cli(ws, "catalog", "import", str(catalog), "--team", GLOBEX)
    assert unknown.returncode == 2 and "no one in the Slack workspace has the e-mail na@example.com" in unknown.stderr
    # Globex removes the app: the one still installed needs no --team; Globex's data can still be read by name
    ws.driver(GLOBEX).uninstalled()
    listed = cli(ws, "roles", "list")
    assert listed.returncode == 0 and "U0ANA" in listed.stdout, listed.stderr
    assert cli(ws, "roles", "list", "--team", GLOBEX).returncode == 0
    assert grants(ws) == {(ACME, "U0ANA", "supervisor")}
