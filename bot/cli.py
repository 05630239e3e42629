"""The `service-orders` command: init, db, run, roles, catalog, pdf, verify, effects, export.

The demo is not one of them: it lives in the sandbox (`scripts/demo`), which the product does not ship.

Every message is in the operator's language: the provider's LOCALE when it is set and valid, else English
(`bot.cli_words.cli_language`). Each command gets it as `args.lang`."""

from __future__ import annotations

import argparse
import gc
import logging
import os
import socket
import sys
import tempfile
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from sqlmodel import Session, select

from bot.cli_words import (
    cli_language,
    import_summary,
    orders_summary,
    people_problem,
    routing_notes,
    sheet_error,
    verdict_text,
)
from bot.progress import ImportProgress
from i18n import N_, Language, language
from storage.db import DatabaseUrlError, database_url, init_db, make_engine, reaching
from storage.models import SlackWorkspace
from storage.scope import UNCLAIMED, WORKSPACE
from workflow.catalog import import_csv
from workflow.errors import FilesBeingRead, NotFound, WorkflowError
from workflow.letterhead import LetterheadError
from workflow.numbers import MAX_ID, parse_id
from workflow.people import PeopleError, grant, parse_role, revoke, roles_by_user
from workflow.sheets import SheetError
from workflow.vocabulary import order_number, parse_order_number

if TYPE_CHECKING:
    from sqlalchemy import Engine

    from bot.gateway import SlackError


def _init(args: argparse.Namespace) -> int:
    url = database_url()
    outcome = init_db(make_engine(url))
    print(args.lang._("Database ready: {url} (schema revision {revision})").format(url=_safe(url),
                                                                                 revision=outcome.after))
    return 0


def _db(args: argparse.Namespace) -> int:
    from storage import migrations

    lang: Language = args.lang
    url = database_url()
    engine = make_engine(url)
    if args.db_command == "current":
        status = migrations.status(engine)
        if status.current is None and status.unversioned_tables:
            said = lang._("{url}: no schema revision: tables made before migrations; `service-orders db upgrade` "
                          "takes them on as {baseline}")
        elif status.current is None:
            said = lang._("{url}: no schema revision: an empty database; `service-orders db upgrade` creates the "
                          "schema")
        elif status.at_head:
            said = lang._("{url}: schema revision {revision} (head)")
        else:
            said = lang._("{url}: schema revision {revision}; this release's is {head}: `service-orders db upgrade` "
                          "migrates it")
        print(said.format(url=_safe(url), baseline=migrations.BASELINE, revision=status.current, head=status.head))
        return 0
    outcome = init_db(engine)
    if not outcome.changed:
        said = lang._("{url}: already at schema revision {revision} (head)")
    elif outcome.adopted:
        said = lang._("{url}: took on the existing tables as revision {baseline}, now at {revision} (head)")
    elif outcome.before is None:
        said = lang._("{url}: created the schema, revision {revision} (head)")
    else:
        said = lang._("{url}: upgraded from schema revision {before} to {revision} (head)")
    print(said.format(url=_safe(url), baseline=migrations.BASELINE, before=outcome.before, revision=outcome.after))
    return 0


def _safe(url: str) -> str:
    """The URL without its password, for printing."""
    if "@" not in url:
        return url
    scheme, rest = url.split("://", 1)
    return f"{scheme}://…@{rest.split('@', 1)[1]}"


def _started(settings: Any, engine: Engine) -> Any | None:
    """The bot built from `settings`, with its database migrated and its background work started (the effects,
    the reminder sweep, SQLite's statistics) when this process runs effects; None on Ctrl-C meanwhile."""
    from bot.app import build_bot

    init_db(engine)
    try:
        bot = build_bot(settings, engine)  # asks Slack who the token is, waiting up to SLACK_STARTUP_WAIT_SECONDS
    except KeyboardInterrupt:  # Ctrl-C while waiting for Slack
        return None
    from pdf.print_fonts import load as load_fonts

    load_fonts()  # parsed once now (~170 ms) rather than during the first PDF upload
    # what start-up built (modules, mappings, fonts) stays out of every full garbage collection, which
    # stops all threads, acks included, while it runs
    gc.freeze()
    if bot.ctx.effects.drains:
        bot.start_background(settings.effect_retry_seconds, settings.reminder_sweep_seconds, settings.reminders)
    else:  # its background work is the worker's, which runs the same timers
        logging.getLogger("bot.effects").info(
            "EFFECT_WORKERS=0: this process serves requests only; `service-orders effects work` runs the Slack "
            "calls its steps owe, the reminders and the statistics")
    return bot


def _run(args: argparse.Namespace) -> int:
    from bot.logs import configure
    from bot.settings import Settings

    settings = Settings.from_env(socket_mode=not args.http)
    configure(settings.log_format)
    if args.http:
        _check_listening_address(args.host, args.port)
    engine = make_engine(settings.database_url)
    if (bot := _started(settings, engine)) is None:
        return 130
    from bot.shutdown import Shutdown

    shutdown = Shutdown(settings.shutdown_seconds)
    handler: Any = None
    web: Any = None
    try:
        if args.http:
            from bot.server import HttpServer

            try:
                server = HttpServer(bot, engine, settings.signing_secret, host=args.host, port=args.port,
                                    metrics=settings.metrics)
            except OSError as error:  # the port is taken, or needs privileges
                raise CliError(N_("cannot listen on {host}:{port} ({reason})"), host=args.host, port=args.port,
                               reason=error.strerror) from None
            # waitress's loop keeps running in this thread to send the answers in hand; another one stops it
            shutdown.install(lambda: threading.Thread(target=server.shutdown, args=(shutdown.left(),),
                                                      name="shutdown", daemon=True).start())
            print(args.lang._("Serving Slack's HTTP mode on {url}").format(
                url=f"http://{args.host}:{server.port}/slack/events"), flush=True)
            server.run()
        else:
            from bot.socket_mode import GracefulSocketModeHandler

            if settings.signing.web_port is not None:
                web = _serve_web(args, bot, engine, settings.signing.web_port, settings.metrics)
            shutdown.install(_interrupt)  # ends the handler's wait below
            print(args.lang._("Connecting to Slack in Socket Mode"), flush=True)
            handler = GracefulSocketModeHandler(bot.app, settings.app_token)
            handler.start()
    except (KeyboardInterrupt, SystemExit):
        pass
    finally:
        # the acks in hand go out over the link, then it closes: no more requests
        if handler is not None and not handler.close_gracefully(shutdown.left()):
            logging.getLogger("bot.shutdown").warning(
                "stopping: a Slack request was still in hand at the deadline (SHUTDOWN_SECONDS): its ack is lost")
        if web is not None:  # nor from browsers; a client's answer in hand is finished
            web.shutdown(shutdown.left())
        _stop(bot, shutdown)
    return 0


def _interrupt() -> None:
    raise KeyboardInterrupt


def _work(args: argparse.Namespace) -> int:
    """`effects work`: the Slack calls that steps owe, the reminders and SQLite's statistics, in a process that
    serves no Slack requests (beside `run` processes with EFFECT_WORKERS=0, whose acks then share no interpreter
    and no garbage collection with this work; on SQLite the two still take turns at writing)."""
    import dataclasses

    from bot.effects import WORKERS
    from bot.effects.wake import Listener
    from bot.logs import configure
    from bot.settings import Settings
    from bot.shutdown import Shutdown

    settings = Settings.from_env()
    settings = dataclasses.replace(settings, effect_workers=settings.effect_workers or WORKERS)
    configure(settings.log_format)
    engine = make_engine(settings.database_url)
    # listening before anything starts: a port taken now stops the command before it runs a single effect
    web = _health_server(args, engine, settings.metrics) if args.port is not None else None
    if (bot := _started(settings, engine)) is None:
        return 130
    runner = bot.ctx.effects
    listener = Listener(engine, runner.kick, runner.due, settings.effect_poll_seconds)
    stopping = threading.Event()
    shutdown = Shutdown(settings.shutdown_seconds)
    shutdown.install(stopping.set)
    if web is not None:
        threading.Thread(target=web.run, name="web", daemon=True).start()
        print(args.lang._("Serving /healthz and /metrics on {url}").format(url=f"http://{args.host}:{web.port}/"),
              flush=True)
    listener.start()
    lang: Language = args.lang
    if engine.dialect.name == "postgresql":
        print(lang._("Running the Slack calls steps owe, {workers} at a time, woken by PostgreSQL's NOTIFY").format(
            workers=settings.effect_workers), flush=True)
    else:
        print(lang._("Running the Slack calls steps owe, {workers} at a time, looking for due ones every {seconds} "
                     "s").format(workers=settings.effect_workers, seconds=lang.number(settings.effect_poll_seconds)),
              flush=True)
    try:
        while not stopping.wait(1.0):  # a timeout, so the signal's handler runs in this (the main) thread
            pass
    except KeyboardInterrupt:
        pass
    finally:
        if web is not None:
            web.shutdown(shutdown.left())
        _stop(bot, shutdown)  # the runner first: a wake-up meanwhile claims nothing more
        listener.stop()
    return 0


def _health_server(args: argparse.Namespace, engine: Engine, metrics: Any) -> Any:
    """`effects work --port`: /healthz and /metrics (as METRICS allows), bound now, served by `run()`."""
    from bot.server import health_app

    return _listening(health_app(engine, metrics), args.host, args.port)


def _listening(app: Any, host: str, port: int) -> Any:
    """A WebServer bound to host:port for `app`, or CliError saying why it cannot listen there."""
    from bot.server import WebServer

    _check_listening_address(host, port)
    try:
        return WebServer(app, host=host, port=port)
    except OSError as error:
        raise CliError(N_("cannot listen on {host}:{port} ({reason})"), host=host, port=port,
                       reason=error.strerror) from None


def _stop(bot: Any, shutdown: Any) -> None:
    """Let the effect runner finish what it is running and release the rest, within the deadline; say so."""
    runner = bot.ctx.effects
    finished = bot.stop(shutdown.left())
    log = logging.getLogger("bot.shutdown")
    log.info("stopping: %d effects finished, %d released", runner.finished, runner.released)
    if not finished:  # a worker is still inside a Slack call: its lease hands the effect on when it ends
        log.warning("stopping: an effect was still running at the deadline (SHUTDOWN_SECONDS); its claim "
                    "ends with its lease")
        logging.shutdown()
        os._exit(0)  # the worker thread would hold the exit past the deadline


def _serve_web(args: argparse.Namespace, bot: Any, engine: Any, port: int, metrics: Any) -> Any:
    """Socket Mode's web listener on WEB_PORT (--host's address): the health check and the client's signing
    page, in a thread of its own, until its `shutdown`. /metrics too, as METRICS allows."""
    from bot.server import web_app

    server = _listening(web_app(bot, engine, metrics), args.host, port)
    threading.Thread(target=server.run, name="web", daemon=True).start()
    print(args.lang._("Serving the signing page and /healthz on {url}").format(
        url=f"http://{args.host}:{server.port}/"), flush=True)
    return server


def _check_listening_address(host: str, port: int) -> None:
    """--host and --port must be an address this machine can listen on, now, before the database and Slack are
    touched (waitress would say only "Invalid host", or fail after start-up has logged its lines)."""
    try:
        family, kind, _, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM,
                                                         flags=socket.AI_PASSIVE)[0]
    except (OSError, UnicodeError) as error:
        if isinstance(error, OSError) and error.strerror:
            raise CliError(N_("--host {host} is not an address to listen on ({reason}); use 0.0.0.0 for every "
                              "interface or 127.0.0.1 for this machine only"),
                           host=repr(host), reason=error.strerror) from None
        raise CliError(N_("--host {host} is not an address to listen on (not a host name); use 0.0.0.0 for every "
                          "interface or 127.0.0.1 for this machine only"), host=repr(host)) from None
    try:
        with socket.socket(family, kind) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as waitress binds
            probe.bind(address)
    except OSError as error:
        raise CliError(N_("cannot listen on {host}:{port} ({reason})"), host=host, port=port,
                       reason=error.strerror) from None


def _roles(args: argparse.Namespace) -> int:
    engine = _database(args)
    if args.roles_command == "list":
        for user, roles in roles_by_user(engine).items():
            print(f"{user}\t{', '.join(roles)}")
        return 0
    lang: Language = args.lang
    if args.roles_command == "grant":
        new = grant(engine, args.user, [parse_role(r) for r in args.role])
        said = (lang._("{user}: granted {roles}") if new else
                lang._("{user}: granted nothing new (already had those roles)"))
        print(said.format(user=args.user, roles=", ".join(new)))
        return 0
    removed = revoke(engine, args.user, parse_role(args.role))
    said = lang._("{user}: revoked {role}") if removed else lang._("{user}: did not have {role}")
    print(said.format(user=args.user, role=args.role))
    return 0


def _catalog(args: argparse.Namespace) -> int:
    from bot.gateway import SlackError  # slack_sdk only for the commands that may call Slack

    engine = _database(args)
    # not in logs, pipes or cron mail
    progress = ImportProgress(sys.stderr, args.lang) if sys.stderr.isatty() else None
    try:
        report = import_csv(engine, Path(args.file), progress, resolve_email=_email_resolver(engine))
    except SlackError as error:  # raised by the resolver, before anything was written
        raise _lookup_failed(error) from None
    except OSError as error:  # a read that fails part-way (the file's own checks are the import's)
        raise CliError(N_("cannot read {path} ({reason})"), path=args.file, reason=error.strerror) from None
    finally:
        if progress:
            progress.close()
    print(import_summary(args.lang, report))
    for note in routing_notes(args.lang, report):
        print(note, file=sys.stderr)
    return 0


def _orders(args: argparse.Namespace) -> int:
    from bot.gateway import SlackError  # slack_sdk only for the commands that may call Slack
    from bot.progress import OrdersImportProgress
    from bot.settings import order_rules
    from workflow.order_import import import_orders
    from workflow.service import OrderService

    engine = _database(args)
    currency, limits, policy = order_rules(os.environ)
    service = OrderService(engine, currency=currency, limits=limits, policy=policy)
    # not in logs, pipes or cron mail
    progress = OrdersImportProgress(sys.stderr, args.lang) if sys.stderr.isatty() else None
    try:
        report = import_orders(service, Path(args.file), progress, resolve_email=_email_resolver(engine))
    except SlackError as error:  # raised by the resolver, before anything was written
        raise _lookup_failed(error) from None
    except OSError as error:  # a read that fails part-way
        raise CliError(N_("cannot read {path} ({reason})"), path=args.file, reason=error.strerror) from None
    finally:
        if progress:
            progress.close()
    print(orders_summary(args.lang, report))
    return 0


def _email_resolver(engine: Engine) -> Callable[[str], str | None] | None:
    """Who has an e-mail, asked of Slack (users.lookupByEmail) in the command's workspace: with its installation's
    token when the app is installed from a link, else with SLACK_BOT_TOKEN; only when the file names someone by
    e-mail (without a token, such a file is refused naming the setting)."""
    from bot.gateway import Gateway, make_client
    from bot.installs import Installations
    from bot.settings import link_client_id, slack_access

    token, api_url = slack_access(os.environ)
    client_id = link_client_id(os.environ)
    if client_id:
        return Gateway(make_client("", api_url), Installations(engine, client_id)).user_by_email
    if token is None:
        return None
    return Gateway(make_client(token, api_url)).user_by_email


def _lookup_failed(error: SlackError) -> CliError:
    """Looking an e-mail up went wrong for a reason no line of the file can fix: one line, nothing imported."""
    from bot.gateway import ErrorCode

    if error.code == ErrorCode.MISSING_SCOPE:
        return CliError(N_("the Slack app lacks the scope users:read.email that looking people up by e-mail needs: "
                           "add it (manifest.yml has it) and reinstall the app; nothing was imported"))
    if error.not_answering:
        return CliError(N_("could not reach Slack at SLACK_API_URL to look people up by e-mail ({code}); try "
                           "again later; nothing was imported"), code=error.code)
    return CliError(N_("Slack refused to look people up by e-mail ({code}); check SLACK_BOT_TOKEN; nothing was "
                       "imported"), code=error.code)


def _pdf(args: argparse.Namespace) -> int:
    from workflow.issuing import issue
    from workflow.letterhead import letterhead_from_env
    from workflow.queries import get_order, order_id_by_number

    lang: Language = args.lang
    typed = parse_order_number(args.order)
    if typed is None:
        raise CliError(N_("{text} is not an order number (like SO-000042)"), text=repr(args.order))
    shown = order_number(typed)
    chosen = Path(args.output) if args.output else None
    if chosen:
        _check_target(chosen, replace=args.force)  # before anything is issued: a bad -o stores nothing
    letterhead = letterhead_from_env()
    engine = _database(args)
    with Session(engine) as session:
        order_id = order_id_by_number(session, typed)
        if order_id is None:
            raise NotFound(shown)
        latest = get_order(session, order_id).current_version
    if latest < 1:
        raise CliError(N_("{number} has no approved version yet"), number=shown)
    number = args.version or latest
    if number > latest:
        raise CliError(N_("{number} has no version {version}: its latest is {latest}"),
                       number=shown, version=number, latest=latest)
    if args.signed:
        return _signed_pdf(args, engine, order_id, shown, number, chosen)
    out = chosen or Path(f"{shown}-v{number}.pdf")
    if not chosen:
        _check_target(out, replace=args.force)
    try:
        issued = issue(engine, order_id, number, letterhead)
    except FilesBeingRead as waiting:
        raise CliError(N_("{number} version {version}'s photos and files are still being read from Slack: try "
                          "again in a moment"), number=waiting.number, version=waiting.version) from waiting
    with _new_file(out, "wb") as handle:
        handle.write(issued.pdf)
    print(lang._("Wrote {path}: {number} version {version}, fingerprint {fingerprint}").format(
        path=out, number=issued.document.order_number, version=number, fingerprint=issued.document.fingerprint))
    if not issued.as_issued:
        print(lang._("Note: this release draws the version slightly differently from when it was issued; the "
                     "document is the same, but `verify` recognises the file first issued (the one posted in "
                     "Slack)."), file=sys.stderr)
    return 0


def _signed_pdf(args: argparse.Namespace, engine: Engine, order_id: int, shown: str, number: int,
                chosen: Path | None) -> int:
    """`pdf --signed`: the client's signed copy of the version (the latest the client answered). `shown`: the
    order's number, SO-000042."""
    from workflow.document import Outcome
    from workflow.issuing import issue_signed, signed_request

    lang: Language = args.lang
    request = signed_request(engine, order_id, number)
    if request is None:
        raise CliError(N_("{number} version {version} has no signed copy: the client has not signed it"),
                       number=shown, version=number)
    signed = issue_signed(engine, request)
    out = chosen or Path(signed.copy.filename)  # SO-000042-vN-signed.pdf, or -disputed.pdf
    if not chosen:
        _check_target(out, replace=args.force)
    with _new_file(out, "wb") as handle:
        handle.write(signed.pdf)
    said = (lang._("Wrote {path}: {number} version {version}, signed by {signer}, fingerprint {fingerprint}")
            if signed.copy.signature.outcome == Outcome.ACCEPTED else
            lang._("Wrote {path}: {number} version {version}, disputed by {signer}, fingerprint {fingerprint}"))
    print(said.format(path=out, number=shown, version=number, signer=signed.copy.signature.name,
                      fingerprint=signed.copy.fingerprint))
    if not signed.as_issued:
        print(lang._("Note: this release draws the signed copy slightly differently from when it was signed; the "
                     "document is the same, but `verify` recognises the file first made (the one posted in "
                     "Slack)."), file=sys.stderr)
    return 0


def _check_target(path: Path, *, replace: bool) -> None:
    """A file we may write: not a folder, in a folder that exists, and new unless `replace`."""
    if path.is_dir():
        raise CliError(N_("{path} is a folder; give the name of a file to write in it"), path=path)
    if not path.parent.is_dir():
        raise CliError(N_("cannot write {path}: there is no folder {folder}"), path=path, folder=path.parent)
    if path.exists() and not replace:
        raise CliError(N_("{path} exists; add --force to replace it"), path=path)


@contextmanager
def _new_file(target: Path, mode: str) -> Iterator[IO[Any]]:
    """A file written beside `target`, then renamed onto it: a write that fails leaves no half-written file."""
    try:
        handle, temporary = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    except OSError as error:
        raise CliError(N_("cannot write {path} ({reason})"), path=target, reason=error.strerror) from None
    try:
        with os.fdopen(handle, mode, **({} if "b" in mode else {"newline": "", "encoding": "utf-8"})) as out:
            yield out
        os.chmod(temporary, 0o666 & ~_umask())  # as any new file, not mkstemp's owner-only 0600
        os.replace(temporary, target)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


# the largest file `verify` reads: our PDFs are well under 1 MB, and a file is read whole to be hashed
MAX_VERIFY_BYTES = 20 * 1024 * 1024


def _verify(args: argparse.Namespace) -> int:
    from workflow.verification import verify

    path = Path(args.file)
    data = _read_limited(path, MAX_VERIFY_BYTES)
    lang: Language = args.lang
    if not data or b"%PDF-" not in data[:1024]:  # where PDF readers look for the header
        said = (lang._("DOES NOT MATCH: {path} is empty, so not a service-order PDF.") if not data else
                lang._("DOES NOT MATCH: {path} is not a PDF, so not a service-order PDF."))
        print(said.format(path=path))
        return 1
    engine = _database(args)
    logging.getLogger("pypdf").setLevel(logging.ERROR)  # its warnings on a malformed file: the verdict says it
    verdict = verify(engine, data, str(path))
    print(verdict_text(lang, verdict))
    return 0 if verdict.matches else 1


def _read_limited(path: Path, limit: int) -> bytes:
    """The file's bytes, refused when over `limit`: by its size before reading, and by what reading gives
    (a file that grows meanwhile, a FIFO), never holding more than `limit` + 1 bytes."""
    too_big = CliError(N_("{path} is larger than {megabytes} MB; it is not one of our PDFs"), path=path,
                       megabytes=limit // 2**20)
    try:
        if path.is_dir():
            raise CliError(N_("{path} is a folder; name a PDF file"), path=path)
        if path.stat().st_size > limit:
            raise too_big
        with path.open("rb") as handle:
            data = handle.read(limit + 1)
    except OSError as error:
        raise CliError(N_("cannot read {path} ({reason})"), path=path, reason=error.strerror) from None
    if len(data) > limit:
        raise too_big
    return data


def _effects(args: argparse.Namespace) -> int:
    from sqlmodel import select

    from storage.db import DUE_AT_ONCE, session_scope
    from storage.models import PendingEffect, ServiceOrder

    lang: Language = args.lang
    engine = _database(args)
    if args.effects_command == "list":
        # cancelled: owed by a workspace that uninstalled the app (bot/installs.py); never run, nor retried
        statuses = ["pending", "failed", "done", "cancelled"] if args.all else ["pending", "failed"]
        with Session(engine) as session:
            # each with its order's number (none for a digest, which is about no one order)
            rows = session.exec(select(PendingEffect, ServiceOrder.number)
                                .outerjoin(ServiceOrder, ServiceOrder.id == PendingEffect.order_id)
                                .where(PendingEffect.status.in_(statuses))
                                .order_by(PendingEffect.id)).all()
        if not rows:
            print(lang._("No pending or failed effects.") if not args.all else lang._("No effects."))
        for row, number in rows:  # kinds and statuses are codes, as `effects retry` and the logs name them
            attempts = lang._("attempts {count}").format(count=row.attempts)  # a column: the label, then the count
            shown = order_number(number) if number is not None else "-" * 9
            print(f"{row.id:>6}  {shown}  {row.kind:<12} {row.status:<8} "
                  f"{attempts}  {(row.last_error or '')[:200]}")
        return 0
    with session_scope(engine) as session:
        query = select(PendingEffect).where(PendingEffect.status == "failed")
        if args.id:
            query = query.where(PendingEffect.id.in_(args.id))
        rows = session.exec(query).all()
        for row in rows:  # due at once for the running bot, whatever its clock reads
            row.status, row.attempts, row.not_before, row.claimed_until = "pending", 0, DUE_AT_ONCE, None
            session.add(row)
    if rows:
        from bot.effects.wake import notify

        notify(engine)  # an `effects work` process runs them now, not at its next retry pass
        print(lang.n_("{count} failed effect will be tried again by the running bot.",
                      "{count} failed effects will be tried again by the running bot.", len(rows)).format(
                          count=lang.number(len(rows))))
    elif args.id:
        print(lang._("No failed effects to retry among {ids}.").format(ids=", ".join(map(str, args.id))))
    else:
        print(lang._("No failed effects to retry."))
    return 0


def _export(args: argparse.Namespace) -> int:
    from datetime import date

    from workflow.export import Period, export_orders
    from workflow.letterhead import letterhead_from_env

    lang: Language = args.lang

    def day(value: str | None, option: str) -> date | None:
        try:
            return date.fromisoformat(value) if value else None
        except ValueError:
            raise CliError(N_("{option} '{value}' is not a date (YYYY-MM-DD)"), option=option, value=value) from None

    period = Period(day(args.start, "--from"), day(args.end, "--to"))
    if period.start and period.end and period.start > period.end:
        raise CliError(N_("--from {start} is after --to {end}"), start=period.start, end=period.end)
    provider = letterhead_from_env().provider
    engine = _database(args)

    def progress(done: int, total: int) -> None:
        if total > 2000:
            print("  " + lang._("{done} of {total} orders").format(done=lang.number(done), total=lang.number(total)),
                  file=sys.stderr)

    # the header and the states in the provider's language (LOCALE, as the documents); the values stay
    # machine-readable
    options = dict(period=period, currency=provider.currency, tax_rate=provider.tax_rate,
                   timezone=provider.timezone, lang=language(provider.locale), progress=progress)
    if args.file == "-":
        count = export_orders(engine, sys.stdout, **options)  # type: ignore[arg-type]
    else:
        target = Path(args.file)
        _check_target(target, replace=True)
        with _new_file(target, "w") as out:
            count = export_orders(engine, out, **options)  # type: ignore[arg-type]
        if period.start or period.end:
            said = lang.n_("Wrote {path}: {count} order submitted {start} to {end}",
                           "Wrote {path}: {count} orders submitted {start} to {end}", count)
        else:
            said = lang.n_("Wrote {path}: {count} order", "Wrote {path}: {count} orders", count)
        print(said.format(path=target, count=lang.number(count), start=period.start or lang._("any time"),
                          end=period.end or lang._("today")))
    return 0


def _umask() -> int:
    mask = os.umask(0)  # the only way to read it is to set it (we are one thread here)
    os.umask(mask)
    return mask


def _whole(lang: Language, what: str, most: int = MAX_ID) -> Callable[[str], int]:
    """An argparse type: a whole number from 1 to `most` (workflow.numbers' rule), else argparse's usage error.
    `what` is already in the operator's language."""
    def parse(text: str) -> int:
        value = parse_id(text, most=most)
        if value is None:
            raise argparse.ArgumentTypeError(lang._("the {what} must be a whole number from 1 to {most}, not {text}")
                                             .format(what=what, most=most, text=repr(text)))
        return value
    return parse


def parser(lang: Language | None = None) -> argparse.ArgumentParser:
    """The commands, their help in the operator's language (argparse's own words, like 'usage', are its)."""
    lang = lang or cli_language()
    _ = lang._
    top = argparse.ArgumentParser(prog="service-orders", description=_("Service orders run inside Slack."))
    sub = top.add_subparsers(dest="command", required=True)
    # the commands that read or change a workspace's data: whose, when the app is installed in several
    team = argparse.ArgumentParser(add_help=False)
    team.add_argument("--team", metavar="TEAM_ID", help=_(
        "the Slack workspace (team id, like T0123ABCD); needed when the app is installed in several"))
    sub.add_parser("init", help=_("create or migrate the database named by DATABASE_URL")).set_defaults(func=_init)

    db = sub.add_parser("db", help=_("the database schema: its revision, upgrading it"))
    db_sub = db.add_subparsers(dest="db_command", required=True)
    db_sub.add_parser("upgrade", help=_("migrate the database to this release's schema (what init and run do too)"))
    db_sub.add_parser("current", help=_("the database's schema revision, and whether it is this release's"))
    db.set_defaults(func=_db)

    run = sub.add_parser("run", help=_("serve Slack: HTTP mode with --http, else Socket Mode (SLACK_APP_TOKEN)"))
    run.add_argument("--http", action="store_true", help=_("serve Slack's HTTP mode at POST /slack/events"))
    run.add_argument("--port", type=_whole(lang, _("port"), most=65535), default=3000)
    run.add_argument("--host", default="0.0.0.0")
    run.set_defaults(func=_run)

    roles = sub.add_parser("roles", help=_("grant, revoke or list people's roles"))
    roles_sub = roles.add_subparsers(dest="roles_command", required=True)
    g = roles_sub.add_parser("grant", help=_("grant USER_ID one or more roles"), parents=[team])
    g.add_argument("user")
    g.add_argument("role", nargs="+")
    r = roles_sub.add_parser("revoke", help=_("revoke a role from USER_ID"), parents=[team])
    r.add_argument("user")
    r.add_argument("role")
    roles_sub.add_parser("list", help=_("everyone with a role"), parents=[team])
    roles.set_defaults(func=_roles)

    catalog = sub.add_parser("catalog", help=_("master data"))
    catalog_sub = catalog.add_subparsers(dest="catalog_command", required=True)
    imp = catalog_sub.add_parser("import", help=_("import clients, sites, services and materials from a CSV file"),
                                  parents=[team])
    imp.add_argument("file")
    catalog.set_defaults(func=_catalog)

    orders = sub.add_parser("orders", help=_("orders in bulk"))
    orders_sub = orders.add_subparsers(dest="orders_command", required=True)
    order_import = orders_sub.add_parser(
        "import", parents=[team],
        help=_("create orders pending approval from a .csv or .xlsx file (one row per order; README: Importing "
               "orders); rows whose reference is already an order are skipped"))
    order_import.add_argument("file")
    orders.set_defaults(func=_orders)

    pdf = sub.add_parser("pdf", help=_("write the PDF of an order version"), parents=[team])
    pdf.add_argument("order", help=_("the order number, like SO-000042"))
    pdf.add_argument("--version", type=_whole(lang, _("version")),
                     help=_("the version (default: the latest)"))
    pdf.add_argument("-o", "--output", help=_("the file to write (default: SO-000042-vN.pdf here)"))
    pdf.add_argument("--force", action="store_true", help=_("replace the file if it exists"))
    pdf.add_argument("--signed", action="store_true",
                     help=_("the client's signed copy of the version (default file: SO-000042-vN-signed.pdf)"))
    pdf.set_defaults(func=_pdf)

    check = sub.add_parser("verify", help=_("say which order version a PDF is, and whether it is genuine"),
                                  parents=[team])
    check.add_argument("file")
    check.set_defaults(func=_verify)

    effects = sub.add_parser("effects", help=_(
        "the Slack calls steps still owe: list them, retry failed ones, run them"))
    effects_sub = effects.add_subparsers(dest="effects_command", required=True)
    listing = effects_sub.add_parser("list", help=_("pending and failed effects, with their last error"),
                                  parents=[team])
    listing.add_argument("--all", action="store_true", help=_("done and cancelled ones too"))
    again = effects_sub.add_parser("retry", help=_("try failed effects again (all, or the ids given)"), parents=[team])
    again.add_argument("id", nargs="*", type=_whole(lang, _("effect id")))
    effects.set_defaults(func=_effects)
    work = effects_sub.add_parser("work", help=_(
        "run the Slack calls steps owe, the reminders and the statistics, beside `run` processes with "
        "EFFECT_WORKERS=0 (their acks then share no interpreter with this work)"))
    work.add_argument("--port", type=_whole(lang, _("port"), most=65535),
                      help=_("serve /healthz and /metrics on this port (default: none)"))
    work.add_argument("--host", default="0.0.0.0", help=_("the address --port listens on (default 0.0.0.0)"))
    work.set_defaults(func=_work)

    export_help = _("write one CSV row per order (state, dates, people, totals, versions). The header and the "
                    "states are in LOCALE's language; the values stay machine-readable in every language (ISO "
                    "dates and times, plain decimals with a point, codes), so the file imports the same anywhere.")
    export = sub.add_parser("export", help=export_help, description=export_help, parents=[team])
    export.add_argument("file", help=_("the CSV file to write, or - for standard output"))
    export.add_argument("--from", dest="start", metavar="DATE",
                        help=_("orders submitted on or after DATE (YYYY-MM-DD)"))
    export.add_argument("--to", dest="end", metavar="DATE", help=_("orders submitted on or before DATE (YYYY-MM-DD)"))
    export.set_defaults(func=_export)

    return top


def _database(args: argparse.Namespace) -> Engine:
    """The database, migrated, for a command on a workspace's data, which from here on works in the workspace
    `--team` names; else the only one; else, before any start recorded one, in the rows that start will claim
    (UNCLAIMED). Chosen once for the process: the command's reads and writes are all that workspace's."""
    from bot.settings import INSTALL_PATH, link_client_id

    engine = make_engine()
    init_db(engine)
    with Session(engine) as session:
        known = session.exec(select(SlackWorkspace).order_by(SlackWorkspace.team_id)).all()
    served = [row for row in known if row.uninstalled_at is None]
    listed = ", ".join(f"{row.team_id} ({row.team_name})" for row in served)
    if args.team is not None:  # one that uninstalled the app keeps its data: it can still be read
        if not any(row.team_id == args.team for row in known):
            raise CliError(N_("The app was never installed in a workspace {team}. Installed: {teams}."),
                           team=args.team[:32], teams=listed or "-")
        team = args.team
    elif len(served) > 1:
        raise CliError(N_("The app is installed in {count} workspaces ({teams}): say which with --team."),
                       count=len(served), teams=listed)
    elif served:
        team = served[0].team_id
    elif link_client_id(os.environ):  # rows of no workspace would go to whoever installs first, from a public link
        raise CliError(N_("No workspace has the app installed yet: install it from {path} first, then name the "
                          "workspace with --team."), path=INSTALL_PATH)
    else:  # SLACK_BOT_TOKEN's workspace, at the bot's first start
        team = UNCLAIMED
    WORKSPACE.set(team)
    return engine


class CliError(Exception):
    """What the operator typed cannot be done: an English message id and its values, said in their language."""

    def __init__(self, message: str, **values: object) -> None:
        super().__init__(message.format(**values))
        self.message, self.values = message, values

    def text(self, lang: Language) -> str:
        return lang._(self.message).format(**self.values)


def main(argv: list[str] | None = None) -> int:
    from bot.settings import SettingsError
    from storage.migrations import SchemaError

    lang = cli_language()
    args = parser(lang).parse_args(argv)
    args.lang = lang
    try:
        with reaching(database_url()):  # the database failing after start-up (a read-only file, say)
            status = int(args.func(args))
        sys.stdout.flush()  # here, so that a closed pipe shows below and not at the interpreter's exit
        return status
    except BrokenPipeError:
        # whoever read our output stopped (`| head -1`): end quietly, as Unix tools do. Standard output goes
        # to devnull so that the interpreter's last flush has nowhere to fail (the Python docs' recipe).
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1
    except (SheetError, PeopleError, SettingsError, LetterheadError, WorkflowError, SchemaError,
            DatabaseUrlError, CliError) as error:
        print(f"service-orders: {_said(lang, error)}", file=sys.stderr)
        return 2


def _said(lang: Language, error: Exception) -> str:
    """An error in the operator's language, where its module gives it as words to translate (the others, from
    modules that still say it in English, as they say it)."""
    from bot.settings import SettingsError, letterhead_problem

    if isinstance(error, SheetError):
        return "\n".join(sheet_error(lang, error))
    if isinstance(error, PeopleError):
        return people_problem(lang, error)
    if isinstance(error, LetterheadError):
        error = letterhead_problem(error)
    if isinstance(error, CliError | SettingsError):
        return error.text(lang)
    if isinstance(error, WorkflowError):  # typed refusals (NotFound…), worded as the bot words them
        from bot.refusals import refusal_text

        return refusal_text(lang, error)
    return str(error)


if __name__ == "__main__":
    sys.exit(main())
