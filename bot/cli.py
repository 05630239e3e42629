"""The `service-orders` command: init, db, run, roles, catalog, pdf, verify, effects, export.

The demo is not one of them: it lives in the sandbox (`scripts/demo`), which the product does not ship."""

from __future__ import annotations

import argparse
import gc
import logging
import os
import signal
import socket
import sys
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any

from sqlmodel import Session

from bot.progress import ImportProgress
from storage.db import DatabaseUrlError, database_url, init_db, make_engine, reaching
from workflow.catalog import CatalogError, import_csv
from workflow.errors import WorkflowError
from workflow.letterhead import LetterheadError
from workflow.numbers import MAX_ID, parse_id
from workflow.people import PeopleError, grant, parse_role, revoke, roles_by_user
from workflow.vocabulary import order_number, parse_order_number


def _init(args: argparse.Namespace) -> int:
    url = database_url()
    outcome = init_db(make_engine(url))
    print(f"Database ready: {_safe(url)} (schema revision {outcome.after})")
    return 0


def _db(args: argparse.Namespace) -> int:
    from storage import migrations

    url = database_url()
    engine = make_engine(url)
    if args.db_command == "current":
        status = migrations.status(engine)
        if status.current is None:
            print(f"{_safe(url)}: no schema revision: " + (
                f"tables made before migrations; `service-orders db upgrade` takes them on as {migrations.BASELINE}"
                if status.unversioned_tables else "an empty database; `service-orders db upgrade` creates the schema"))
        elif status.at_head:
            print(f"{_safe(url)}: schema revision {status.current} (head)")
        else:
            print(f"{_safe(url)}: schema revision {status.current}; this release's is {status.head}: "
                  "`service-orders db upgrade` migrates it")
        return 0
    outcome = init_db(engine)
    if not outcome.changed:
        print(f"{_safe(url)}: already at schema revision {outcome.after} (head)")
    elif outcome.adopted:
        print(f"{_safe(url)}: took on the existing tables as revision {migrations.BASELINE}, "
              f"now at {outcome.after} (head)")
    elif outcome.before is None:
        print(f"{_safe(url)}: created the schema, revision {outcome.after} (head)")
    else:
        print(f"{_safe(url)}: upgraded from schema revision {outcome.before} to {outcome.after} (head)")
    return 0


def _safe(url: str) -> str:
    """The URL without its password, for printing."""
    if "@" not in url:
        return url
    scheme, rest = url.split("://", 1)
    return f"{scheme}://…@{rest.split('@', 1)[1]}"


def _run(args: argparse.Namespace) -> int:
    from bot.app import build_bot
    from bot.settings import Settings

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    settings = Settings.from_env(socket_mode=not args.http)
    if args.http:
        _check_listening_address(args.host, args.port)
    engine = make_engine(settings.database_url)
    init_db(engine)
    try:
        bot = build_bot(settings, engine)  # asks Slack who the token is, waiting up to SLACK_STARTUP_WAIT_SECONDS
    except KeyboardInterrupt:  # Ctrl-C while waiting for Slack
        return 130
    from pdf.print_fonts import load as load_fonts

    load_fonts()  # parsed once now (~170 ms) rather than during the first PDF upload
    # what start-up built (modules, mappings, fonts) stays out of every full garbage collection, which
    # stops all threads, acks included, while it runs
    gc.freeze()
    bot.start_background(settings.effect_retry_seconds, settings.reminder_sweep_seconds, settings.reminders)
    # SIGTERM (a process manager stopping us) ends as cleanly as Ctrl-C: the effect runner finishes its call
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    try:
        if args.http:
            from bot.server import HttpServer

            try:
                server = HttpServer(bot, engine, settings.signing_secret, host=args.host, port=args.port)
            except OSError as error:  # the port is taken, or needs privileges
                raise CliError(f"cannot listen on {args.host}:{args.port} ({error.strerror})") from None
            print(f"Serving Slack's HTTP mode on http://{args.host}:{server.port}/slack/events", flush=True)
            server.run()
        else:
            from slack_bolt.adapter.socket_mode import SocketModeHandler

            print("Connecting to Slack in Socket Mode", flush=True)
            SocketModeHandler(bot.app, settings.app_token).start()
    except (KeyboardInterrupt, SystemExit):
        pass
    finally:
        bot.stop()
    return 0


def _check_listening_address(host: str, port: int) -> None:
    """--host and --port must be an address this machine can listen on, now, before the database and Slack are
    touched (waitress would say only "Invalid host", or fail after start-up has logged its lines)."""
    advice = "use 0.0.0.0 for every interface or 127.0.0.1 for this machine only"
    try:
        family, kind, _, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM,
                                                         flags=socket.AI_PASSIVE)[0]
    except (OSError, UnicodeError) as error:
        reason = error.strerror if isinstance(error, OSError) and error.strerror else "not a host name"
        raise CliError(f"--host {host!r} is not an address to listen on ({reason}); {advice}") from None
    try:
        with socket.socket(family, kind) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as waitress binds
            probe.bind(address)
    except OSError as error:
        raise CliError(f"cannot listen on {host}:{port} ({error.strerror})") from None


def _roles(args: argparse.Namespace) -> int:
    engine = make_engine()
    init_db(engine)
    if args.roles_command == "list":
        for user, roles in roles_by_user(engine).items():
            print(f"{user}\t{', '.join(roles)}")
        return 0
    if args.roles_command == "grant":
        new = grant(engine, args.user, [parse_role(r) for r in args.role])
        print(f"{args.user}: granted {', '.join(new) if new else 'nothing new (already had those roles)'}")
        return 0
    removed = revoke(engine, args.user, parse_role(args.role))
    print(f"{args.user}: {'revoked' if removed else 'did not have'} {args.role}")
    return 0


def _catalog(args: argparse.Namespace) -> int:
    engine = make_engine()
    init_db(engine)
    progress = ImportProgress(sys.stderr) if sys.stderr.isatty() else None  # not in logs, pipes or cron mail
    try:
        report = import_csv(engine, Path(args.file), progress)
    except OSError as error:  # a read that fails part-way (the file's own checks are the import's)
        raise CliError(f"cannot read {args.file} ({error.strerror})") from None
    finally:
        if progress:
            progress.close()
    print(report.summary())
    return 0


def _pdf(args: argparse.Namespace) -> int:
    from workflow.issuing import issue
    from workflow.letterhead import letterhead_from_env
    from workflow.queries import get_order

    order_id = parse_order_number(args.order)
    if order_id is None:
        raise CliError(f"{args.order!r} is not an order number (like SO-000042)")
    chosen = Path(args.output) if args.output else None
    if chosen:
        _check_target(chosen, replace=args.force)  # before anything is issued: a bad -o stores nothing
    letterhead = letterhead_from_env()
    engine = make_engine()
    init_db(engine)
    with Session(engine) as session:
        latest = get_order(session, order_id).current_version
    if latest < 1:
        raise CliError(f"{order_number(order_id)} has no approved version yet")
    number = args.version or latest
    if number > latest:
        raise CliError(f"{order_number(order_id)} has no version {number}: its latest is {latest}")
    out = chosen or Path(f"{order_number(order_id)}-v{number}.pdf")
    if not chosen:
        _check_target(out, replace=args.force)
    issued = issue(engine, order_id, number, letterhead)
    with _new_file(out, "wb") as handle:
        handle.write(issued.pdf)
    print(f"Wrote {out}: {issued.document.order_number} version {number}, fingerprint {issued.document.fingerprint}")
    if not issued.as_issued:
        print("Note: this release draws the version slightly differently from when it was issued; the document is "
              "the same, but `verify` recognises the file first issued (the one posted in Slack).", file=sys.stderr)
    return 0


def _check_target(path: Path, *, replace: bool) -> None:
    """A file we may write: not a folder, in a folder that exists, and new unless `replace`."""
    if path.is_dir():
        raise CliError(f"{path} is a folder; give the name of a file to write in it")
    if not path.parent.is_dir():
        raise CliError(f"cannot write {path}: there is no folder {path.parent}")
    if path.exists() and not replace:
        raise CliError(f"{path} exists; add --force to replace it")


@contextmanager
def _new_file(target: Path, mode: str) -> Iterator[IO[Any]]:
    """A file written beside `target`, then renamed onto it: a write that fails leaves no half-written file."""
    try:
        handle, temporary = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    except OSError as error:
        raise CliError(f"cannot write {target} ({error.strerror})") from None
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
    if not data or b"%PDF-" not in data[:1024]:  # where PDF readers look for the header
        print(f"DOES NOT MATCH: {path} is {'empty' if not data else 'not a PDF'}, so not a service-order PDF.")
        return 1
    engine = make_engine()
    init_db(engine)
    logging.getLogger("pypdf").setLevel(logging.ERROR)  # its warnings on a malformed file: the verdict says it
    verdict = verify(engine, data, str(path))
    print(("MATCHES: " if verdict.matches else "DOES NOT MATCH: ") + verdict.message)
    return 0 if verdict.matches else 1


def _read_limited(path: Path, limit: int) -> bytes:
    """The file's bytes, refused when over `limit`: by its size before reading, and by what reading gives
    (a file that grows meanwhile, a FIFO), never holding more than `limit` + 1 bytes."""
    too_big = CliError(f"{path} is larger than {limit // 2**20} MB; it is not one of our PDFs")
    try:
        if path.is_dir():
            raise CliError(f"{path} is a folder; name a PDF file")
        if path.stat().st_size > limit:
            raise too_big
        with path.open("rb") as handle:
            data = handle.read(limit + 1)
    except OSError as error:
        raise CliError(f"cannot read {path} ({error.strerror})") from None
    if len(data) > limit:
        raise too_big
    return data


def _effects(args: argparse.Namespace) -> int:
    from sqlmodel import select

    from storage.db import DUE_AT_ONCE, session_scope
    from storage.models import PendingEffect

    engine = make_engine()
    init_db(engine)
    if args.effects_command == "list":
        statuses = ["pending", "failed", "done"] if args.all else ["pending", "failed"]
        with Session(engine) as session:
            rows = session.exec(select(PendingEffect).where(PendingEffect.status.in_(statuses))
                                .order_by(PendingEffect.id)).all()
        if not rows:
            print("No pending or failed effects." if not args.all else "No effects.")
        for row in rows:
            print(f"{row.id:>6}  {order_number(row.order_id)}  {row.kind:<12} {row.status:<8} "
                  f"attempts {row.attempts}  {(row.last_error or '')[:200]}")
        return 0
    with session_scope(engine) as session:
        query = select(PendingEffect).where(PendingEffect.status == "failed")
        if args.id:
            query = query.where(PendingEffect.id.in_(args.id))
        rows = session.exec(query).all()
        for row in rows:  # due at once for the running bot, whatever its clock reads
            row.status, row.attempts, row.not_before, row.claimed_until = "pending", 0, DUE_AT_ONCE, None
            session.add(row)
    print(f"{len(rows)} failed effect(s) will be tried again by the running bot." if rows else
          "No failed effects to retry" + (f" among {', '.join(map(str, args.id))}." if args.id else "."))
    return 0


def _export(args: argparse.Namespace) -> int:
    from datetime import date

    from workflow.export import Period, export_orders
    from workflow.letterhead import letterhead_from_env

    def day(value: str | None, option: str) -> date | None:
        try:
            return date.fromisoformat(value) if value else None
        except ValueError:
            raise CliError(f"{option} '{value}' is not a date (YYYY-MM-DD)") from None

    period = Period(day(args.start, "--from"), day(args.end, "--to"))
    if period.start and period.end and period.start > period.end:
        raise CliError(f"--from {period.start} is after --to {period.end}")
    provider = letterhead_from_env().provider
    engine = make_engine()
    init_db(engine)

    def progress(done: int, total: int) -> None:
        if total > 2000:
            print(f"  {done:,} of {total:,} orders", file=sys.stderr)

    options = dict(period=period, currency=provider.currency, tax_rate=provider.tax_rate,
                   timezone=provider.timezone, progress=progress)
    if args.file == "-":
        count = export_orders(engine, sys.stdout, **options)  # type: ignore[arg-type]
    else:
        target = Path(args.file)
        _check_target(target, replace=True)
        with _new_file(target, "w") as out:
            count = export_orders(engine, out, **options)  # type: ignore[arg-type]
        span = f" submitted {period.start or 'any time'} to {period.end or 'today'}" if period.start or period.end \
            else ""
        print(f"Wrote {target}: {count:,} orders{span}")
    return 0


def _umask() -> int:
    mask = os.umask(0)  # the only way to read it is to set it (we are one thread here)
    os.umask(mask)
    return mask


def _whole(what: str, most: int = MAX_ID) -> Callable[[str], int]:
    """An argparse type: a whole number from 1 to `most` (workflow.numbers' rule), else argparse's usage error."""
    def parse(text: str) -> int:
        value = parse_id(text, most=most)
        if value is None:
            raise argparse.ArgumentTypeError(f"the {what} must be a whole number from 1 to {most}, not {text!r}")
        return value
    return parse


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(prog="service-orders", description="Service orders run inside Slack.")
    sub = top.add_subparsers(dest="command", required=True)
    sub.add_parser("init", help="create or migrate the database named by DATABASE_URL").set_defaults(func=_init)

    db = sub.add_parser("db", help="the database schema: its revision, upgrading it")
    db_sub = db.add_subparsers(dest="db_command", required=True)
    db_sub.add_parser("upgrade", help="migrate the database to this release's schema (what init and run do too)")
    db_sub.add_parser("current", help="the database's schema revision, and whether it is this release's")
    db.set_defaults(func=_db)

    run = sub.add_parser("run", help="serve Slack: HTTP mode with --http, else Socket Mode (SLACK_APP_TOKEN)")
    run.add_argument("--http", action="store_true", help="serve Slack's HTTP mode at POST /slack/events")
    run.add_argument("--port", type=_whole("port", most=65535), default=3000)
    run.add_argument("--host", default="0.0.0.0")
    run.set_defaults(func=_run)

    roles = sub.add_parser("roles", help="grant, revoke or list people's roles")
    roles_sub = roles.add_subparsers(dest="roles_command", required=True)
    g = roles_sub.add_parser("grant", help="grant USER_ID one or more roles")
    g.add_argument("user")
    g.add_argument("role", nargs="+")
    r = roles_sub.add_parser("revoke", help="revoke a role from USER_ID")
    r.add_argument("user")
    r.add_argument("role")
    roles_sub.add_parser("list", help="everyone with a role")
    roles.set_defaults(func=_roles)

    catalog = sub.add_parser("catalog", help="master data")
    catalog_sub = catalog.add_subparsers(dest="catalog_command", required=True)
    imp = catalog_sub.add_parser("import", help="import clients, sites, services and materials from a CSV file")
    imp.add_argument("file")
    catalog.set_defaults(func=_catalog)

    pdf = sub.add_parser("pdf", help="write the PDF of an order version")
    pdf.add_argument("order", help="the order number, like SO-000042")
    pdf.add_argument("--version", type=_whole("version"), help="the version (default: the latest)")
    pdf.add_argument("-o", "--output", help="the file to write (default: SO-000042-vN.pdf here)")
    pdf.add_argument("--force", action="store_true", help="replace the file if it exists")
    pdf.set_defaults(func=_pdf)

    check = sub.add_parser("verify", help="say which order version a PDF is, and whether it is genuine")
    check.add_argument("file")
    check.set_defaults(func=_verify)

    effects = sub.add_parser("effects", help="the Slack calls steps still owe: list them, retry failed ones")
    effects_sub = effects.add_subparsers(dest="effects_command", required=True)
    listing = effects_sub.add_parser("list", help="pending and failed effects, with their last error")
    listing.add_argument("--all", action="store_true", help="done ones too")
    again = effects_sub.add_parser("retry", help="try failed effects again (all, or the ids given)")
    again.add_argument("id", nargs="*", type=_whole("effect id"))
    effects.set_defaults(func=_effects)

    export = sub.add_parser("export", help="write one CSV row per order (state, dates, people, totals, versions)")
    export.add_argument("file", help="the CSV file to write, or - for standard output")
    export.add_argument("--from", dest="start", metavar="DATE", help="orders submitted on or after DATE (YYYY-MM-DD)")
    export.add_argument("--to", dest="end", metavar="DATE", help="orders submitted on or before DATE (YYYY-MM-DD)")
    export.set_defaults(func=_export)

    return top


class CliError(Exception):
    pass


def main(argv: list[str] | None = None) -> int:
    from bot.settings import SettingsError
    from storage.migrations import SchemaError

    args = parser().parse_args(argv)
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
    except (CatalogError, PeopleError, SettingsError, LetterheadError, WorkflowError, SchemaError,
            DatabaseUrlError, CliError) as error:
        print(f"service-orders: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
