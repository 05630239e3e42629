"""The container, as far as it can be checked without a container engine: compose.yaml against the Compose
Specification's schema, and the Dockerfile's install, start and health check run in a fresh virtual environment."""

from __future__ import annotations

import fnmatch
import json
import os
import shutil
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import jsonschema
import pytest
import yaml

from sandbox.slackfake.server import FakeSlack
from tests.container_files import command, environment, healthcheck_command, instructions
from tests.test_cli import free_port

ROOT = Path(__file__).resolve().parents[1]
SCHEMA = ROOT / "tests" / "reference" / "compose" / "compose-spec.json"


def compose() -> dict:
    return yaml.safe_load((ROOT / "compose.yaml").read_text())


def test_compose_file_follows_the_compose_specification() -> None:
    jsonschema.Draft7Validator(json.loads(SCHEMA.read_text())).validate(compose())


def test_the_schema_refuses_what_compose_would() -> None:
    """The check above can fail: a misspelt key is refused."""
    broken = compose()
    broken["services"]["bot"]["depends"] = broken["services"]["bot"].pop("depends_on")
    with pytest.raises(jsonschema.ValidationError, match="depends"):
        jsonschema.Draft7Validator(json.loads(SCHEMA.read_text())).validate(broken)


def test_compose_runs_the_image_in_http_mode_next_to_postgres() -> None:
    services = compose()["services"]
    bot, db = services["bot"], services["db"]
    assert db["image"].startswith("postgres:") and "pg_isready" in " ".join(db["healthcheck"]["test"])
    assert any(volume.endswith(":/var/lib/postgresql/data") for volume in db["volumes"])
    assert bot["depends_on"] == {"db": {"condition": "service_healthy"}}
    assert bot["build"] == "." and "command" not in bot  # the Dockerfile's CMD: `run --http`
    assert bot["environment"]["DATABASE_URL"].startswith("postgresql+psycopg://")
    assert "@db:5432/" in bot["environment"]["DATABASE_URL"]
    assert bot["env_file"] == ".env" and bot["ports"] == ["3000:3000"] and bot["environment"]["PORT"] == "3000"
    assert "/healthz" in " ".join(bot["healthcheck"]["test"])
    # the Slack calls steps owe are the effects service's: the bot's acks never wait behind them
    effects = services["effects"]
    assert bot["environment"]["EFFECT_WORKERS"] == "0" and "EFFECT_WORKERS" not in effects["environment"]
    assert effects["command"][:3] == ["service-orders", "effects", "work"]
    port = effects["command"][effects["command"].index("--port") + 1]
    assert effects["environment"]["PORT"] == port and f":{port}/healthz" in " ".join(effects["healthcheck"]["test"])
    assert effects["environment"]["DATABASE_URL"] == bot["environment"]["DATABASE_URL"]
    assert effects["depends_on"] == bot["depends_on"] and effects["env_file"] == ".env" and "ports" not in effects
    example = (ROOT / ".env.example").read_text()
    assert "SLACK_BOT_TOKEN=" in example and "SLACK_SIGNING_SECRET=" in example


def test_dockerfile_runs_as_a_user_and_serves_http_mode() -> None:
    found = instructions(ROOT / "Dockerfile")
    keywords = [instruction.keyword for instruction in found]
    assert keywords[0] == "FROM" and found[0].arguments.startswith("python:3.12-slim")
    assert "USER" in keywords and keywords.index("USER") > keywords.index("RUN")  # installs as root, runs as app
    (cmd,) = [instruction for instruction in found if instruction.keyword == "CMD"]
    assert "service-orders run --http" in " ".join(command(cmd.arguments))
    assert any(instruction.keyword == "HEALTHCHECK" for instruction in found)


def test_dockerignore_keeps_out_nothing_the_dockerfile_copies() -> None:
    ignored = [line.strip() for line in (ROOT / ".dockerignore").read_text().splitlines()
               if line.strip() and not line.startswith("#")]
    copies = [i.arguments.split()[:-1] for i in instructions(ROOT / "Dockerfile") if i.keyword == "COPY"]
    copied = [source for sources in copies for source in sources]
    assert "pyproject.toml" in copied and "bot" in copied
    assert not [source for source in copied if any(fnmatch.fnmatch(source, pattern) for pattern in ignored)]
    assert ".env" in ignored and ".git" in ignored  # the tokens and the history stay out of the image


def build_context(destination: Path) -> list[str]:
    """The Dockerfile's COPY instructions laid out under destination (its WORKDIR); the pip commands of its RUNs."""
    found = instructions(ROOT / "Dockerfile")
    runs = []
    for instruction in found:
        if instruction.keyword == "COPY":
            *sources, target = instruction.arguments.split()
            into = destination / target if target not in (".", "./") else destination
            for source in sources:
                path = ROOT / source
                if path.is_dir():
                    shutil.copytree(path, into, ignore=shutil.ignore_patterns("__pycache__"))
                else:
                    into.mkdir(parents=True, exist_ok=True)
                    shutil.copy2(path, into / path.name)
        elif instruction.keyword == "RUN" and "pip install" in instruction.arguments:
            runs.append(instruction.arguments)
    return runs


def healthy(check: list[str], env: dict[str, str]) -> bool:
    return subprocess.run(check, env=env, capture_output=True, timeout=30).returncode == 0


@pytest.mark.slow  # ~15 s here, but it installs from a package index (network, cache): CI's run, not the default
def test_dockerfile_install_start_and_health_check_in_a_fresh_venv(tmp_path: Path) -> None:
    """pip installs the app from what the COPYs bring (no dev extras), CMD starts it against the fake Slack, the
    HEALTHCHECK passes while it serves and fails once it has stopped."""
    found = instructions(ROOT / "Dockerfile")
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=120)
    image_env = environment(found)
    image_env.pop("PIP_NO_CACHE_DIR", None)  # the image keeps no cache; here pip's cache only saves downloads
    path = {"PATH": f"{venv / 'bin'}{os.pathsep}{os.environ['PATH']}", "HOME": os.environ.get("HOME", str(tmp_path))}
    source = tmp_path / "src"
    (pip_runs,) = [build_context(source)]
    assert pip_runs, "the Dockerfile installs nothing with pip"
    for run in pip_runs:
        installed = subprocess.run(command(run), cwd=source, env={**image_env, **path}, capture_output=True,
                                   text=True, timeout=900)
        assert installed.returncode == 0, installed.stdout[-2000:] + installed.stderr[-2000:]
    assert (venv / "bin" / "service-orders").exists()
    shown = subprocess.run([str(venv / "bin" / "python"), "-m", "pip", "list", "--format=json"], capture_output=True,
                           text=True, check=True).stdout
    names = {package["name"].lower() for package in json.loads(shown)}
    assert "psycopg" in names and "pytest" not in names and "playwright" not in names  # [postgres], not [dev]

    home = tmp_path / "home"
    home.mkdir()
    port = free_port()
    database = os.environ.get("TEST_DATABASE_URL") or f"sqlite:///{tmp_path / 'container.db'}"
    if os.environ.get("TEST_DATABASE_URL"):
        from sqlmodel import SQLModel

        from storage.db import make_engine
        SQLModel.metadata.drop_all(make_engine(database))
    (cmd,) = [instruction for instruction in found if instruction.keyword == "CMD"]
    (check,) = [healthcheck_command(i.arguments) for i in found if i.keyword == "HEALTHCHECK"]
    with FakeSlack() as fake:
        env = {**image_env, **path, "PORT": str(port), "DATABASE_URL": database, "SLACK_BOT_TOKEN": fake.bot_token,
               "SLACK_SIGNING_SECRET": "container-secret", "SLACK_API_URL": fake.api_url}
        assert not healthy(check, env)  # nothing serves yet: the check can fail
        bot = subprocess.Popen(command(cmd.arguments), cwd=home, env=env, stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, text=True)
        try:
            deadline = time.monotonic() + 60
            while not healthy(check, env) and time.monotonic() < deadline and bot.poll() is None:
                time.sleep(0.5)
            passed = healthy(check, env)
            if passed:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=5) as response:
                    assert json.loads(response.read()) == {"ok": True, "database": "reachable"}
        finally:
            bot.send_signal(signal.SIGTERM)  # what `docker stop` sends PID 1 (the CMD execs the bot)
            output = bot.communicate(timeout=30)[0]
        assert passed, f"the HEALTHCHECK never passed; the bot said:\n{output[-3000:]}"
        assert bot.returncode == 0, output
        assert "Serving Slack's HTTP mode" in output
        assert not healthy(check, env)
