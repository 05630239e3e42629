"""/metrics: what an operator scrapes, read back with prometheus_client's own text parser after real steps
through the running bot (signed HTTP requests, the fake Slack failing on cue, a real database)."""

from __future__ import annotations

import io
import json
import logging
import os
import subprocess
import sys
import threading
import urllib.error
import urllib.request
from collections.abc import Callable
from enum import StrEnum
from pathlib import Path
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import Engine
from sqlmodel import Session, select

from bot.logs import LogFormat, handler
from bot.metrics import Access
from bot.server import WebServer, web_app, wsgi_app
from bot.settings import Settings, SettingsError
from sandbox.local import LocalWorkspace
from sandbox.slackfake.state_values import date as date_value
from sandbox.slackfake.state_values import users
from storage.models import PendingEffect
from tests.conftest import COORDINATOR, SUPERVISOR, WORKER
from tests.test_end_to_end import PEOPLE, SOON, submit

Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


def scrape(url: str) -> tuple[set[str], Samples]:
    """What /metrics reports (`parsed`)."""
    with urllib.request.urlopen(f"{url}/metrics", timeout=10) as response:
        assert response.status == 200 and response.headers["Content-Type"].startswith("text/plain")
        return parsed(response.read().decode())


def parsed(text: str) -> tuple[set[str], Samples]:
    """Prometheus text: the families it reports, and every sample by name and labels."""
    families = list(text_string_to_metric_families(text))
    samples = {(s.name, tuple(sorted(s.labels.items()))): s.value for f in families for s in f.samples}
    return {f.name for f in families}, samples


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


def total(samples: Samples, name: str, **labels: str) -> float:
    """The sum over every sample of `name` carrying `labels` (others free)."""
    return sum(v for (n, have), v in samples.items() if n == name and set(labels.items()) <= set(have))


def test_metrics_after_real_steps_and_slack_errors(seeded: Engine) -> None:
    with LocalWorkspace(seeded, PEOPLE) as ws:
        _, before = scrape(ws.url)
        order_id = submit(ws)
        stale = ws.open_step(COORDINATOR, order_id, "approve")
        # the approval's step message: first rate limited (retried after Retry-After), then refused for good
        ws.fake.fail_next("chat.postMessage", error="ratelimited", status=429, retry_after=1)
        ws.fake.fail_next("chat.postMessage", error="missing_scope", status=200)
        assert ws.approve(SUPERVISOR, order_id, workers=[WORKER], scheduled=SOON).text == ""
        ws.settle()
        # the form opened before the approval is now out of date: refused, nothing stored
        refused = ws.submit(COORDINATOR, stale, {"field_workers": {"field_workers": users([WORKER])},
                                                 "scheduled_date": {"scheduled_date": date_value(SOON)}})
        assert refused.status == 200 and "response_action" in refused.text
        families, after = scrape(ws.url)

    assert {"service_orders_ack_seconds", "service_orders_steps", "service_orders_slack_api_calls",
            "service_orders_slack_api_errors", "service_orders_slack_api_deferred", "service_orders_effects_pending",
            "service_orders_effects_failed"} <= families

    def grew(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    for kind in ("command", "block_actions", "view_submission", "options"):
        assert grew("service_orders_ack_seconds_count", kind=kind) > 0, kind
        assert grew("service_orders_ack_seconds_bucket", kind=kind, le="+Inf") == grew(
            "service_orders_ack_seconds_count", kind=kind)
    assert grew("service_orders_steps_total", action="submit", outcome="stored") == 1
    assert grew("service_orders_steps_total", action="approve", outcome="stored") == 1
    assert grew("service_orders_steps_total", action="approve", outcome="refused") == 1
    assert grew("service_orders_slack_api_calls_total", method="conversations.create") == 1
    assert grew("service_orders_slack_api_errors_total", method="chat.postMessage", code="ratelimited") == 1
    # an effect's 429 puts it back for its Retry-After (bot/pacing.py) rather than waiting in a worker
    assert grew("service_orders_slack_api_deferred_total", method="chat.postMessage", why="ratelimited") == 1
    assert grew("service_orders_slack_api_errors_total", method="chat.postMessage", code="missing_scope") == 1
    # the post Slack refused for good failed (an admin must add the scope; what follows it on the order
    # waits with it); nothing is left pending
    assert value(after, "service_orders_effects_failed", kind="message") == 1
    assert total(after, "service_orders_effects_pending") == 0


def call(app: Callable[..., Any], path: str, remote: str) -> tuple[str, bytes]:
    said: list[str] = []
    body = b"".join(app({"PATH_INFO": path, "REQUEST_METHOD": "GET", "REMOTE_ADDR": remote,
                         "wsgi.input": io.BytesIO()}, lambda status, headers: said.append(status)))
    return said[0], body


@pytest.mark.parametrize(("access", "remote", "status"), [
    (Access.LOOPBACK, "127.0.0.1", "200 OK"), (Access.LOOPBACK, "::1", "200 OK"),
    (Access.LOOPBACK, "203.0.113.9", "403 Forbidden"), (Access.LOOPBACK, "", "403 Forbidden"),
    (Access.ON, "203.0.113.9", "200 OK"), (Access.OFF, "127.0.0.1", "404 Not Found"),
])
def test_who_may_read_the_metrics(seeded: Engine, access: Access, remote: str, status: str) -> None:
    with LocalWorkspace(seeded, PEOPLE) as ws:
        assert ws.bot is not None
        for app in (wsgi_app(ws.bot, seeded, "secret", access), web_app(ws.bot, seeded, access)):
            said, body = call(app, "/metrics", remote)
            assert said == status
            if status == "403 Forbidden":
                assert b"METRICS" in body  # one line that names the setting


def test_socket_modes_web_listener_serves_the_metrics(seeded: Engine) -> None:
    with LocalWorkspace(seeded, PEOPLE) as ws:
        assert ws.bot is not None
        server = WebServer(web_app(ws.bot, seeded), host="127.0.0.1", port=0)
        thread = threading.Thread(target=server.run, daemon=True)
        thread.start()
        try:
            families, _ = scrape(f"http://127.0.0.1:{server.port}")
        finally:
            server.stop()
            thread.join(5)
    assert "service_orders_effects_pending" in families


ENV = {"SLACK_BOT_TOKEN": "xoxb-1", "SLACK_SIGNING_SECRET": "s"}


@pytest.mark.parametrize(("name", "default", "given", "chosen", "wrong", "refusal"), [
    ("METRICS", Access.LOOPBACK, " ON ", Access.ON, "public", "METRICS must be on, loopback or off, not 'public'"),
    ("LOG_FORMAT", LogFormat.TEXT, "JSON", LogFormat.JSON, "xml", "LOG_FORMAT must be text or json, not 'xml'"),
])
def test_the_metrics_and_log_format_settings(name: str, default: StrEnum, given: str, chosen: StrEnum, wrong: str,
                                             refusal: str) -> None:
    assert getattr(Settings.from_env(ENV), name.lower()) is default
    assert getattr(Settings.from_env({**ENV, name: given}), name.lower()) is chosen
    with pytest.raises(SettingsError) as refused:
        Settings.from_env({**ENV, name: wrong})
    assert str(refused.value) == refusal


COUNT_ONE_STEP = "from bot.metrics import STEPS; STEPS.labels('approve', 'stored').inc()"
SCRAPE = ("import sys; from bot.metrics import exposition; from storage.db import make_engine, init_db; "
          "e = make_engine(sys.argv[1]); init_db(e); sys.stdout.write(exposition(e).decode())")


def test_counts_add_up_across_processes(tmp_path: Path) -> None:
    """PROMETHEUS_MULTIPROC_DIR set: two processes count a step each, a third process's scrape sees both."""
    shared = tmp_path / "prometheus"
    shared.mkdir()
    env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(shared), "PYTHONPATH": str(Path(__file__).parents[1])}
    for _ in range(2):
        subprocess.run([sys.executable, "-c", COUNT_ONE_STEP], env=env, check=True, timeout=60)
    url = f"sqlite:///{tmp_path / 'scrape.db'}"
    text = subprocess.run([sys.executable, "-c", SCRAPE, url], env=env, check=True, timeout=60,
                          capture_output=True, text=True).stdout
    _, samples = parsed(text)
    assert value(samples, "service_orders_steps_total", action="approve", outcome="stored") == 2


def test_json_log_lines_name_their_request(seeded: Engine) -> None:
    """LOG_FORMAT=json: a JSON object a line; what a Slack request logs carries that request's id."""
    stream = io.StringIO()
    out, root = handler(LogFormat.JSON, stream), logging.getLogger()
    level = root.level
    root.addHandler(out)
    root.setLevel(logging.INFO)
    try:
        with LocalWorkspace(seeded, PEOPLE) as ws:
            # the first order's channel cannot be made: its effect fails for good, and says so in a log line
            ws.fake.fail_next("conversations.create", error="missing_scope", status=200)
            submit(ws)
            submit(ws)
    finally:
        root.removeHandler(out)
        root.setLevel(level)
    lines = [json.loads(line) for line in stream.getvalue().splitlines()]
    assert all({"time", "level", "logger", "message", "request_id"} <= line.keys() for line in lines)
    submitted = [line for line in lines if "submitted order" in line["message"]]
    assert len(submitted) == 2 and all(line["logger"] == "bot.listeners.views" for line in submitted)
    ids = {line["request_id"] for line in submitted}
    assert len(ids) == 2 and None not in ids  # one id per request, a new one each time
    # the effects each submission queued carry its request's id
    with Session(seeded) as session:
        queued = {(e.order_id, e.request_id) for e in session.exec(select(PendingEffect))}
    assert {request for _, request in queued} == ids
    assert len({order for order, _ in queued}) == 2
    first = next(line["request_id"] for line in submitted if line["message"].endswith("order 1"))
    failed = [line for line in lines if "failed for good" in line["message"]]
    assert failed and all(line["request_id"] == first for line in failed)


def test_socket_mode_acks_are_timed_too(seeded: Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    for proxy in ("HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy"):
        monkeypatch.delenv(proxy, raising=False)  # slack_sdk's Socket Mode client would tunnel loopback
    with LocalWorkspace(seeded, PEOPLE, transport="socket_mode") as ws:
        _, before = scrape(ws.url)
        submit(ws)
        _, after = scrape(ws.url)
    for kind in ("command", "options", "view_submission"):
        assert value(after, "service_orders_ack_seconds_count", kind=kind) > value(
            before, "service_orders_ack_seconds_count", kind=kind), kind
