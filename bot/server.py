"""HTTP mode: Slack's requests at POST /slack/events, a health check at GET /healthz, served by waitress
(threaded: one slow request does not hold up the others)."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from typing import Any

from slack_bolt.adapter.wsgi import SlackRequestHandler
from sqlalchemy import Engine
from waitress.server import create_server

from bot.app import Bot
from storage.db import ping

EVENTS_PATH = "/slack/events"
MAX_BODY = 1024 * 1024  # Slack's payloads are far smaller; anything larger is not from Slack

WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


def _reply(start_response: Callable[..., Any], status: str, body: dict[str, Any]) -> list[bytes]:
    data = json.dumps(body).encode()
    start_response(status, [("Content-Type", "application/json"), ("Content-Length", str(len(data)))])
    return [data]


def wsgi_app(bot: Bot, engine: Engine) -> WSGIApp:
    slack = SlackRequestHandler(bot.app, path=EVENTS_PATH)

    def application(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        path, method = environ.get("PATH_INFO", ""), environ.get("REQUEST_METHOD", "")
        if path == "/healthz":
            healthy = ping(engine)
            return _reply(start_response, "200 OK" if healthy else "503 Service Unavailable",
                          {"ok": healthy, "database": "reachable" if healthy else "unreachable"})
        if path != EVENTS_PATH:
            return _reply(start_response, "404 Not Found", {"error": "not_found"})
        if method != "POST":
            return _reply(start_response, "405 Method Not Allowed", {"error": "use POST"})
        try:
            length = int(environ.get("CONTENT_LENGTH") or 0)
        except ValueError:
            length = -1
        if length < 0 or length > MAX_BODY:
            return _reply(start_response, "413 Content Too Large", {"error": "body too large"})
        return slack(environ, start_response)

    return application


def make_server(bot: Bot, engine: Engine, host: str = "0.0.0.0", port: int = 3000, threads: int = 8):  # type: ignore[no-untyped-def]
    """A waitress server; `.run()` serves until `.close()`. Port 0 picks a free port (`.effective_port`)."""
    return create_server(wsgi_app(bot, engine), host=host, port=port, threads=threads, ident="service-orders",
                         max_request_body_size=MAX_BODY)
