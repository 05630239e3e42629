"""HTTP mode: Slack's requests at POST /slack/events, a health check at GET /healthz, metrics at GET /metrics
(bot/metrics.py; METRICS says who may read them), the client's signing page
under /sign/ (bot/signing_page.py), and, installed from a link, GET /slack/install and Slack's redirect back
(bot/install_flow.py), served by waitress (threaded: one slow request does not hold up the others).
In Socket Mode, `web_app` serves all but Slack's requests on WEB_PORT."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Iterable
from typing import Any
from urllib.parse import parse_qsl

from slack_bolt import App, BoltRequest, BoltResponse
from slack_bolt.adapter.wsgi import SlackRequestHandler
from slack_bolt.adapter.wsgi.http_request import WsgiHttpRequest
from slack_bolt.adapter.wsgi.http_response import WsgiHttpResponse
from slack_sdk.signature import SignatureVerifier
from sqlalchemy import Engine
from waitress import wasyncore
from waitress.server import create_server

from bot.app import Bot
from bot.install_flow import INSTALL_FAILED, NOT_INSTALLED, OPEN_IN_BROWSER, page
from bot.metrics import CONTENT_TYPE, Access, allowed, exposition
from bot.settings import INSTALL_PATH
from bot.signing_page import PREFIX as SIGNING_PREFIX
from i18n import Language, language
from storage.db import ping

log = logging.getLogger(__name__)

EVENTS_PATH = "/slack/events"
MAX_BODY = 1024 * 1024  # Slack's payloads are far smaller; anything larger is not from Slack

WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


def _reply(start_response: Callable[..., Any], status: str, body: dict[str, Any]) -> list[bytes]:
    data = json.dumps(body).encode()
    start_response(status, [("Content-Type", "application/json"), ("Content-Length", str(len(data)))])
    return [data]


class Malformed(Exception):
    """A signed body that is not something Slack sends (Bolt would answer it with a 500)."""


def parse(text: str, content_type: str) -> dict[str, Any]:
    """The body as Bolt reads it: JSON, or form fields whose `payload` is JSON (a slash command's are plain).
    Raises Malformed, saying why, for anything else."""
    try:
        if content_type.startswith("application/json") or text.startswith("{"):
            data = json.loads(text)
        else:
            fields = dict(parse_qsl(text, keep_blank_values=True, strict_parsing=bool(text)))
            if "payload" not in fields:
                # Slack's ssl_check is answered by Bolt; a slash command is plain form fields
                if "command" in fields or "ssl_check" in fields:
                    return fields
                raise Malformed("neither a slash command nor a payload")
            data = json.loads(fields["payload"])
    except ValueError:  # bad JSON, or form data that is not name=value pairs
        raise Malformed("not UTF-8 JSON or form data") from None
    if not isinstance(data, dict) or not isinstance(data.get("type"), str):
        raise Malformed("no request type")
    # what Bolt reads without looking first (slack_bolt.request.payload_utils): it would raise, and answer 500
    if data["type"] == "event_callback" and not _typed(data.get("event")):
        raise Malformed("an event callback without an event")
    if data["type"] in ("view_submission", "view_closed") and not _typed(data.get("view")):
        raise Malformed("a view payload without a view")
    actions = data.get("actions")
    if actions is not None and not (isinstance(actions, list) and all(isinstance(a, dict) for a in actions)):
        raise Malformed("actions that are not a list of actions")
    return data


def _typed(value: object) -> bool:
    return isinstance(value, dict) and isinstance(value.get("type"), str)


def _dispatch(app: App, environ: dict[str, Any], text: str, body: dict[str, Any],
              start_response: Callable[..., Any]) -> Iterable[bytes]:
    """Bolt's WSGI adapter, but with the body parsed once: URL-decoding a form submission (its whole view, 12 KB
    with 2,500 escapes) takes about 1 ms of the GIL, and the adapter would do it again. A BoltRequest takes a
    parsed body only in Socket Mode's form; it is then made an HTTP one, whose signature Bolt checks again
    over the raw text."""
    request = BoltRequest(body=body, query=environ.get("QUERY_STRING", ""),
                          headers=WsgiHttpRequest(environ).get_headers(), mode="socket_mode")
    request.raw_body, request.mode = text, "http"
    answer = app.dispatch(request)
    response = WsgiHttpResponse(status=answer.status, headers=answer.headers, body=answer.body)
    start_response(response.status, response.get_headers())
    return response.get_body()


def _health(engine: Engine, start_response: Callable[..., Any]) -> list[bytes]:
    healthy = ping(engine)
    return _reply(start_response, "200 OK" if healthy else "503 Service Unavailable",
                  {"ok": healthy, "database": "reachable" if healthy else "unreachable"})


def _metrics(engine: Engine, access: Access, environ: dict[str, Any],
             start_response: Callable[..., Any]) -> list[bytes]:
    if access is Access.OFF:
        return _reply(start_response, "404 Not Found", {"error": "not_found"})
    if not allowed(access, environ.get("REMOTE_ADDR")):
        return _reply(start_response, "403 Forbidden", {"error": "metrics are served to this host only (METRICS)"})
    data = exposition(engine)
    start_response("200 OK", [("Content-Type", CONTENT_TYPE), ("Content-Length", str(len(data)))])
    return [data]


def _install(app: App, lang: Language, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
    """The install link and Slack's redirect back, by Bolt's own WSGI adapter (its OAuth flow, bot/install_flow.py);
    what goes wrong is said on the flow's own pages, in the provider's language (a person's browser reads them)."""
    _ = lang._
    if environ.get("REQUEST_METHOD", "") != "GET":
        answer = page(lang, 405, _(NOT_INSTALLED), _(OPEN_IN_BROWSER), INSTALL_PATH)
        answer.headers["allow"] = ["GET"]
        return _page(answer, start_response)
    try:
        return SlackRequestHandler(app)(environ, start_response)
    except Exception:  # the database or Slack failed mid-install: the person tries again, no traceback for them
        log.exception("the install flow failed at %s", environ.get("PATH_INFO"))
        return _page(page(lang, 503, _(NOT_INSTALLED), _(INSTALL_FAILED), INSTALL_PATH), start_response)


def _page(answer: BoltResponse, start_response: Callable[..., Any]) -> list[bytes]:
    response = WsgiHttpResponse(status=answer.status, headers=answer.headers, body=answer.body)
    start_response(response.status, response.get_headers())
    return response.get_body()


def health_app(engine: Engine, metrics: Access = Access.LOOPBACK) -> WSGIApp:
    """`service-orders effects work --port`: the health check and the metrics, nothing of Slack's."""

    def application(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        if path == "/healthz":
            return _health(engine, start_response)
        if path == "/metrics":
            return _metrics(engine, metrics, environ, start_response)
        return _reply(start_response, "404 Not Found", {"error": "not_found"})

    return application


def web_app(bot: Bot, engine: Engine, metrics: Access = Access.LOOPBACK) -> WSGIApp:
    """The health check, the metrics, the signing page and, installed from a link, the install link and Slack's
    redirect back: all that Socket Mode's web listener (WEB_PORT) serves, and every path but EVENTS_PATH in
    HTTP mode."""
    flow = bot.app.oauth_flow
    install_paths = (flow.install_path, flow.redirect_uri_path) if flow is not None else ()
    lang = language(bot.ctx.locale)  # the provider's, as the flow's pages
    health = health_app(engine, metrics)

    def application(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        if path in install_paths:
            return _install(bot.app, lang, environ, start_response)
        if path.startswith(SIGNING_PREFIX) and bot.signing_page is not None:
            return bot.signing_page(environ, start_response)
        return health(environ, start_response)  # /healthz, /metrics, or not found

    return application


def wsgi_app(bot: Bot, engine: Engine, signing_secret: str, metrics: Access = Access.LOOPBACK) -> WSGIApp:
    """HTTP mode: Slack's requests at EVENTS_PATH; every other path as Socket Mode's web listener serves it."""
    verifier = SignatureVerifier(signing_secret)
    web = web_app(bot, engine, metrics)

    def application(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        if environ.get("PATH_INFO", "") != EVENTS_PATH:
            return web(environ, start_response)
        if environ.get("REQUEST_METHOD", "") != "POST":
            return _reply(start_response, "405 Method Not Allowed", {"error": "use POST"})
        try:
            length = int(environ.get("CONTENT_LENGTH") or 0)
        except ValueError:
            length = -1
        if length < 0 or length > MAX_BODY:
            return _reply(start_response, "413 Content Too Large", {"error": "body too large"})
        body = environ["wsgi.input"].read(length)
        try:
            text = body.decode("utf-8")  # Slack signs UTF-8 text; the verifier cannot even read other bytes
        except UnicodeDecodeError:
            return _reply(start_response, "400 Bad Request", {"error": "not UTF-8"})
        # the signature before the shape (Bolt checks it again): unsigned requests learn nothing more
        signature = environ.get("HTTP_X_SLACK_SIGNATURE")
        timestamp = environ.get("HTTP_X_SLACK_REQUEST_TIMESTAMP", "")
        if not (signature and timestamp.isdigit() and verifier.is_valid(body, timestamp, signature)):
            return _reply(start_response, "401 Unauthorized", {"error": "invalid signature"})
        try:
            parsed = parse(text, environ.get("CONTENT_TYPE", ""))
        except Malformed as problem:
            return _reply(start_response, "400 Bad Request", {"error": str(problem)})
        try:
            return _dispatch(bot.app, environ, text, parsed, start_response)
        except Exception:  # Bolt itself failed on a signed body of a shape we did not foresee: not a 500
            log.exception("a signed request Bolt could not handle (%s)", parsed.get("type") or parsed.get("command"))
            return _reply(start_response, "400 Bad Request", {"error": "not a request Slack sends"})

    return application


class WebServer:
    """waitress serving a WSGI app; `run()` until `stop()` (from any thread). Port 0 picks a free port."""

    def __init__(self, app: WSGIApp, host: str = "0.0.0.0", port: int = 3000, threads: int = 8) -> None:
        self._sockets: dict[int, Any] = {}
        self._server = create_server(app, map=self._sockets, host=host, port=port, threads=threads,
                                     ident="service-orders", max_request_body_size=MAX_BODY)
        self.port: int = self._server.effective_port

    def run(self) -> None:
        self._server.run()

    def stop(self) -> None:
        # The request threads end first, here: one finishing its answer wakes the loop through the trigger,
        # which must still be open. Then the sockets are closed from inside waitress's own loop (closing them
        # from another thread races its poll); with no sockets left the loop ends and run() returns.
        self._server.task_dispatcher.shutdown()
        try:
            self._server.trigger.pull_trigger(lambda: wasyncore.close_all(self._sockets))
        except OSError:  # the loop already closed its trigger (it is ending): nothing to wake, close what is left
            wasyncore.close_all(self._sockets)

    def shutdown(self, deadline: float) -> bool:
        """Stop gracefully (from another thread than run()'s): close the listening socket, so new connections
        are refused at once; let the requests in hand finish and their answers go out, up to `deadline`
        seconds; then stop(). False if some were still in hand at the deadline."""
        end = time.monotonic() + deadline
        listener = self._server
        self._server.trigger.pull_trigger(lambda: wasyncore.dispatcher.close(listener))  # not the trigger
        while (busy := self._busy()) and time.monotonic() < end:
            time.sleep(0.02)
        self.stop()
        return not busy

    def _busy(self) -> bool:
        tasks = self._server.task_dispatcher
        # a channel with a request read and not answered, or an answer not yet sent (waitress's loop sends it)
        return bool(tasks.active_count or tasks.queue or any(
            getattr(channel, "requests", None) or getattr(channel, "total_outbufs_len", 0)
            for channel in list(self._sockets.values())))


class HttpServer(WebServer):
    """HTTP mode: the bot's own requests, the health check, the metrics and the signing page."""

    def __init__(self, bot: Bot, engine: Engine, signing_secret: str, host: str = "0.0.0.0", port: int = 3000,
                 threads: int = 8, metrics: Access = Access.LOOPBACK) -> None:
        super().__init__(wsgi_app(bot, engine, signing_secret, metrics), host, port, threads)
