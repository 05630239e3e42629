"""`scripts/demo` (`python -m sandbox.demo`): the whole workflow of one order, without a Slack workspace.

It runs the production code path: the bot serves HTTP, Slack's side is the loopback stand-in
(slackfake), and every step is a signed request as Slack would send it. At the end it writes the PDFs
that landed in the order's channel, the channel as a readable transcript and the audit trail.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import Engine
from sqlmodel import Session, select

from bot.mrkdwn import plain
from bot.render.facts import describe
from bot.settings import ClientSigning
from i18n import language
from sandbox.client import chromium, posted_link, sign
from sandbox.local import OWN_URL, LocalWorkspace
from storage.db import init_db, make_engine
from storage.models import SignatureRequest
from storage.scope import UNCLAIMED, serving
from workflow.catalog import import_csv
from workflow.letterhead import letterhead_from_env
from workflow.people import grant
from workflow.policy import ApprovalPolicy
from workflow.queries import audit_trail, person_name
from workflow.vocabulary import Role, order_number

SAMPLE = Path(__file__).parent / "sample"
SAMPLE_CATALOG = SAMPLE / "catalog.csv"
# two photos from the site (drawn for the demo), attached to the second confirmation
PHOTOS = [(name, (SAMPLE / name).read_bytes(), "image/jpeg") for name in ("condensate-pipe.jpg", "filter-floor-4.jpg")]


@dataclass(frozen=True)
class Script:
    """What the demo's people pick and type, in the demo's language (the catalog's names are data, in its own)."""

    catalog: Path
    items: list[tuple[str, str]]  # (what is typed in the picker, quantity)
    free_items: str
    description: str
    notes: str
    first_changes: list[tuple[str, str]]
    first_note: str
    second_changes: list[tuple[str, str]]
    second_note: str
    closing_note: str
    send_back_note: str  # the supervisor's, before approving
    resubmitted: str  # the description the requester resubmits with
    reschedule_reason: str
    crew_note: str
    priced: tuple[str, str]  # (the line's description, its new unit price)
    price_reason: str


SCRIPTS = {
    "en": Script(SAMPLE_CATALOG, [("hvac", "6"), ("air filter", "8"), ("cable", "2")],
                 "1 | Night access permit | unit | 35",
                 "Quarterly HVAC maintenance on floors 2–4; replace the F7 filters and re-cable the rooftop unit.",
                 "Gate code 4521. Bring the long ladder.",
                 [("air filter", "12"), ("cable", "0"), ("crane", "3")],
                 "Filters on floor 4 were also clogged; the rooftop cable is fine, but the unit needs a crane to lift "
                 "the new fan.",
                 [("pipe", "6"), ("plumbing", "1")],
                 "Condensate pipe leaking under the unit; repaired while the crane was there.",
                 "All units running; site left clean.",
                 "Please say which floors need new filters, and quote the rooftop cable as its own line.",
                 "Quarterly HVAC maintenance on floors 2–4; replace the F7 filters on floors 2 and 3 and re-cable "
                 "the rooftop unit.",
                 "The client moved the job: the building is closed on the first date.",
                 "Jürgen is needed on another site; Łucja finishes the job.",
                 ("Night access permit", "40"),
                 "The building raised its night access fee."),
    "es": Script(SAMPLE / "catalogo.csv", [("climatización", "6"), ("filtro", "8"), ("cable", "2")],
                 "1 | Permiso de acceso nocturno | unidad | 35",
                 "Mantención trimestral de climatización en los pisos 2 a 4; cambiar los filtros F7 y recablear la "
                 "unidad de la azotea.",
                 "Código del portón: 4521. Traer la escalera larga.",
                 [("filtro", "12"), ("cable", "0"), ("grúa", "3")],
                 "En el piso 4 los filtros también estaban tapados; el cable de la azotea está bien, pero se necesita "
                 "una grúa para subir el ventilador nuevo.",
                 [("tubería", "6"), ("gasfitería", "1")],
                 "Filtración en la tubería de condensado bajo la unidad; se reparó mientras estaba la grúa.",
                 "Todas las unidades funcionando; el sitio quedó limpio.",
                 "Indica en qué pisos hay que cambiar filtros y cotiza el cable de la azotea en una línea aparte.",
                 "Mantención trimestral de climatización en los pisos 2 a 4; cambiar los filtros F7 de los pisos 2 y "
                 "3 y recablear la unidad de la azotea.",
                 "El cliente movió el trabajo: el edificio está cerrado en la primera fecha.",
                 "Jürgen hace falta en otra obra; Łucja termina el trabajo.",
                 ("Permiso de acceso nocturno", "40"),
                 "El edificio subió la tarifa de acceso nocturno."),
}
# the demo provider's letterhead, as its settings would give it
DEMO_SETTINGS = {
    "PROVIDER_NAME": "Técnicos Ñandú S.L.",
    "PROVIDER_ADDRESS": "Calle de Alcalá 123, 28009 Madrid, España",
    "PROVIDER_TAX_ID": "B-12345678",
    "PROVIDER_LOGO": str(SAMPLE / "logo.png"),
    "PROVIDER_TIMEZONE": "Europe/Madrid",
    "CURRENCY": "EUR",
    "TAX_RATE_PERCENT": "21",
}
PEOPLE = {
    "U0DEMOREQ": ("Rosa Martínez", [Role.REQUESTER]),
    "U0DEMOSUP": ("Sam O'Connor", [Role.SUPERVISOR]),
    "U0DEMOCRD": ("Carla Nørgaard", [Role.COORDINATOR]),
    "U0DEMOFW1": ("Jürgen Müller", [Role.FIELD_WORKER]),
    "U0DEMOFW2": ("Łucja Wójcik", [Role.FIELD_WORKER]),
}
REQ, SUP, CRD, FW1, FW2 = PEOPLE
SLACK_LOCALES = {"en": "en-US", "es": "es-ES"}  # what users.info says of the demo's people, per --locale
CLIENT = "Marta Quispe"  # the client's site manager, who signs the closing record on the bot's page
# the signing page is served by the demo's bot at its own loopback address (PUBLIC_URL), links signed with this
SIGNING = ClientSigning(public_url=OWN_URL, secret="the-demo's-own-link-secret-0123456789")


STEPS = 16


def _step(number: int, text: str) -> None:
    print(f"[{number}/{STEPS}] {text}", flush=True)


def _check(ack: object, what: str) -> None:
    text = getattr(ack, "text", "")
    if getattr(ack, "status", 0) != 200 or text:
        raise SystemExit(f"demo: {what} was not accepted: HTTP {getattr(ack, 'status', '?')} {text[:300]}")


def run_demo(out: Path | None = None, locale: str = "en") -> int:
    started = time.monotonic()
    out = out or Path(tempfile.mkdtemp(prefix="service-orders-demo-"))
    out.mkdir(parents=True, exist_ok=True)
    database = out / "demo.db"
    database.unlink(missing_ok=True)
    engine = make_engine(f"sqlite:///{database}")
    init_db(engine)
    script = SCRIPTS[locale]
    with serving(UNCLAIMED):  # as the CLI seeds a database no bot has started on: its first start claims them
        import_csv(engine, script.catalog)
        for user, (_, roles) in PEOPLE.items():
            grant(engine, user, roles)
    soon = (datetime.now(UTC) + timedelta(days=2)).date().isoformat()
    later = (datetime.now(UTC) + timedelta(days=3)).date().isoformat()

    letterhead = letterhead_from_env({**DEMO_SETTINGS, "LOCALE": locale})
    # the demo's people read Slack in the demo's language (Slack's names: en-US, es-ES)
    slack_locale = SLACK_LOCALES[locale]
    # the product's default policy (REAPPROVAL_OVER=10%): the first confirmation raises the total by half, and waits
    # the demo reads as the bot serves it: in the fake Slack's workspace
    with LocalWorkspace(engine, {user: name for user, (name, _) in PEOPLE.items()}, letterhead=letterhead,
                        locales=dict.fromkeys(PEOPLE, slack_locale), policy=ApprovalPolicy(),
                        signing=SIGNING) as ws, serving(ws.fake.team_id):
        _step(1, f"{PEOPLE[REQ][0]} types /order and submits a service order for Constructora Peñalolén")
        _check(ws.submit_order(REQ, client="peñalolén", site="presidentes", requested=soon, priority="high",
                               items=script.items, free_items=script.free_items,
                               description=script.description), "the order")
        ws.settle()
        order_id = ws.latest_order_id()
        number = order_number(ws.order(order_id).number)
        _step(2, f"{number} has its channel #{ws.order(order_id).channel_name}; "
                 f"{PEOPLE[SUP][0]} sends it back for changes")
        _check(ws.send_back(SUP, order_id, script.send_back_note), "the send-back")
        ws.settle()
        _step(3, f"{PEOPLE[REQ][0]} edits the request and resubmits it")
        _check(ws.resubmit(REQ, order_id, description=script.resubmitted), "the resubmission")
        ws.settle()
        _step(4, f"{PEOPLE[SUP][0]} approves it with a field worker")
        _check(ws.approve(SUP, order_id, workers=[FW1], scheduled=soon, notes=script.notes), "the approval")
        ws.settle()
        _step(5, f"{PEOPLE[FW1][0]} files a confirmation: more filters, no rooftop cable, a crane; it raises the "
                 "total by more than 10 %, so it waits for approval")
        _check(ws.confirm(FW1, order_id, changes=script.first_changes, note=script.first_note, workers=[FW2]),
               "the first confirmation")
        ws.settle()
        _step(6, f"{PEOPLE[SUP][0]} approves the change: version 2 and its PDF are issued")
        _check(ws.approve_change(SUP, order_id), "the change's approval")
        ws.settle()
        _step(7, f"{PEOPLE[CRD][0]} files a second confirmation with two photos: pipe repair found on site")
        _check(ws.confirm(CRD, order_id, changes=script.second_changes, note=script.second_note, files=PHOTOS),
               "the second confirmation")
        ws.settle()
        _step(8, f"{PEOPLE[CRD][0]} reschedules it a day later, 08:00–12:00")
        _check(ws.reschedule(CRD, order_id, scheduled=later, start="08:00", end="12:00",
                             reason=script.reschedule_reason), "the reschedule")
        ws.settle()
        _step(9, f"{PEOPLE[CRD][0]} changes the crew: {PEOPLE[FW1][0]} leaves, {PEOPLE[FW2][0]} stays")
        _check(ws.change_crew(CRD, order_id, workers=[FW2], note=script.crew_note), "the crew change")
        ws.settle()
        _step(10, f"{PEOPLE[CRD][0]} sets a price the building raised")
        _check(ws.set_prices(CRD, order_id, prices=dict([script.priced]), reason=script.price_reason),
               "the new price")
        ws.settle()
        _step(11, f"{PEOPLE[FW2][0]} closes the order as completed")
        _check(ws.complete(FW2, order_id, note=script.closing_note), "the closing")
        ws.settle()

        _step(12, f"{PEOPLE[FW2][0]} asks the client to sign the closing record")
        _check(ws.ask_to_sign(FW2, order_id), "the request for a signature")
        ws.wait(lambda: _asked(engine, order_id), "the signing link")  # made after the click's ack
        ws.settle()
        link = _signing_link(ws, order_id)
        browser = chromium()
        how = "in Chromium (headless, a phone's screen), driven by Playwright" if browser else \
            "with the page's HTTP requests (no Chromium and Playwright here)"
        _step(13, f"{CLIENT}, the client, opens the link and signs {how}")
        signed = sign(link, CLIENT)
        if signed.status != 200:
            raise SystemExit(f"demo: the signing page answered HTTP {signed.status}")
        ws.settle()

        _step(14, f"{PEOPLE[CRD][0]} opens the app's Home tab and types /order status {number}")
        ws.slack.event({"type": "app_home_opened", "user": CRD, "tab": "home"})
        ws.wait(lambda: ws.fake.home_view(CRD), "the Home tab")
        home = ws.fake.home_view(CRD)
        (out / "home.txt").write_text(ws.fake.view_text(home["id"]) + "\n", encoding="utf-8")
        asked = len(ws.fake.ephemerals)
        ws.slack.command(CRD, "/order", f"status {number}")
        ws.wait(lambda: len(ws.fake.ephemerals) > asked, "the status")
        (out / "status.txt").write_text(ws.fake.plain_text(ws.fake.ephemerals[-1]["text"]) + "\n",
                                        encoding="utf-8")

        _step(15, "Collecting what landed in the order's channel")
        order = ws.order(order_id)
        pdfs = sorted((f for f in ws.fake.files.values() if order.channel_id in f.channels),
                      key=lambda f: f.name)
        for file in pdfs:
            (out / file.name).write_bytes(file.content)
        (out / "transcript.txt").write_text(ws.fake.transcript(order.channel_id, locale) + "\n", encoding="utf-8")
        with Session(engine) as session:
            # the audit's facts rendered as plain text, people by name: no Slack markup to strip
            marks = plain(lambda user: person_name(session, user))
            lang = language(letterhead.provider.locale)
            lines = [f"{e.at:%Y-%m-%d %H:%M:%S} UTC  {person_name(session, e.actor_id):<16} {e.action:<12} "
                     f"{e.from_state or '—'} → {e.to_state}  (v{e.version})  {describe(e, lang, marks)}"
                     for e in audit_trail(session, order_id)]
        (out / "audit.txt").write_text("\n".join(lines) + "\n", encoding="utf-8")
        calls = len(ws.fake.calls)

    _step(16, f"Done in {time.monotonic() - started:.1f} s: {number} is {order.state}, at version "
             f"{order.current_version}, after {calls} Web API calls")
    print(f"\nWrote to {out}:")
    for path in sorted(out.iterdir()):
        if path.name != "demo.db" and not path.name.startswith("demo.db-"):
            print(f"  {path.name:<22} {path.stat().st_size:>8,} bytes")
    print(f"  demo.db                (the demo's SQLite database: DATABASE_URL=sqlite:///{database})")
    return 0


def _asked(engine: Engine, order_id: int) -> bool:
    with Session(engine) as session:
        asked = session.exec(select(SignatureRequest.id).where(SignatureRequest.order_id == order_id)).first()
    return asked is not None


def _signing_link(ws: LocalWorkspace, order_id: int) -> str:
    """The link the bot posted in the order's channel for the field worker to hand over."""
    channel = ws.order(order_id).channel_id
    assert channel
    link = posted_link(message.text for message in ws.fake.channels[channel].messages)
    if link is None:
        raise SystemExit("demo: the bot posted no signing link")
    return link


def _check_folder(folder: Path) -> str | None:
    """What is wrong with `folder` as the demo's output (made if it does not exist), or None."""
    if folder.exists() and not folder.is_dir():
        return f"{folder} is a file; --out names a folder"
    try:
        folder.mkdir(parents=True, exist_ok=True)
        tempfile.TemporaryFile(dir=folder).close()
    except OSError as error:
        return f"cannot write in the folder {folder} ({error.strerror})"
    return None


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(prog="scripts/demo",
                                  description="Run the whole workflow against a local stand-in for Slack.")
    top.add_argument("--out", help="folder for the PDFs and the channel transcript (default: a new temp folder)")
    top.add_argument("--locale", choices=["en", "es"], default="en", help="the documents' language")
    return top


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    out = Path(args.out) if args.out else None
    problem = _check_folder(out) if out else None
    if problem:
        print(f"demo: {problem}", file=sys.stderr)
        return 2
    return run_demo(out, args.locale)


if __name__ == "__main__":
    sys.exit(main())
