"""Typed facts and effect payloads: declared once, stored as JSON, read back the same (and old payloads too)."""

from __future__ import annotations

import json
from datetime import date
from decimal import Decimal

import pytest

from bot.effects.runner import ASIDE, HANDLERS
from bot.render.facts import step_message
from bot.render.notices import ChannelGone, continues_here, could_not_add
from bot.render.reminders import channel_reminder, direct_message
from i18n import english, language
from workflow.effects import (
    ORDER,
    Card,
    EffectKind,
    Evidence,
    FetchFile,
    Home,
    Invite,
    Kick,
    Message,
    Notify,
    NotifyAbout,
    OpenChannel,
    OverdueLine,
    Reminder,
    ReminderAbout,
    Signing,
    UploadPdf,
    decode,
)
from workflow.facts import FieldChange, ItemFact, StepFacts
from workflow.vocabulary import Action

FACTS = StepFacts(Action.CONFIRM, "U1", version=2, fields=(FieldChange("scheduled_date", None, "2026-12-01"),),
                  items=(ItemFact("material", "FLT", "Filter", "unit", Decimal("4.000"), Decimal(6),
                                  Decimal("95.00"), Decimal("142.50")),
                         ItemFact("free", None, "Skip hire", "unit", Decimal(1), None, Decimal(80), None)),
                  people_added=("U2",), note="clogged", currency="USD", total=Decimal("416.00"),
                  delta=Decimal("-12.50"), scheduled_date=date(2026, 12, 1))


def test_every_kind_has_a_place_a_handler_and_one_aside_flag() -> None:
    # App Home refreshes are run together, by bot/effects/home.refresh, the rest one by one
    assert set(ORDER) == set(EffectKind) == set(HANDLERS) | {EffectKind.HOME} and len(ORDER) == 14
    assert set(ASIDE) == {"home", "reminder", "notify", "fetch_file"}


@pytest.mark.parametrize("kind, payload", [
    (EffectKind.OPEN_CHANNEL, OpenChannel()), (EffectKind.INVITE, Invite(("U1", "U2"))),
    (EffectKind.CARD, Card()), (EffectKind.CARD, Card(overdue=True)), (EffectKind.MESSAGE, Message(FACTS)),
    (EffectKind.UPLOAD_PDF, UploadPdf(3)), (EffectKind.UPLOAD_PDF, UploadPdf(3, "F1")), (EffectKind.HOME, Home()),
    (EffectKind.HOME, Home(("U5",))), (EffectKind.KICK, Kick(("U5", "U6"))),
    (EffectKind.FETCH_FILE, FetchFile(7)), (EffectKind.MESSAGE, Message(None, evidence=Evidence(("a.jpg",), "1.2"))),
    (EffectKind.SIGNATURE_ASKED, Signing(4)), (EffectKind.UPLOAD_SIGNED, Signing(4, "F2")),
    (EffectKind.REMINDER, Reminder(ReminderAbout.ESCALATION, 48, ("U3",), "pending_approval")),
    (EffectKind.NOTIFY, Notify("U1", NotifyAbout.MORNING, "approved", date(2026, 11, 28), "C1")),
    (EffectKind.NOTIFY, Notify("U4", NotifyAbout.DIGEST, count=20,
                               orders=(OverdueLine(1, "C1", date(2026, 11, 27)),
                                       OverdueLine(2, None, date(2026, 11, 26))))),
])
def test_payloads_go_through_json_unchanged(kind: EffectKind, payload: object) -> None:
    stored = json.loads(json.dumps(payload.to_json()))  # type: ignore[attr-defined]
    assert decode(kind, stored) == payload


def test_payloads_of_the_release_before_facts_are_read_as_legacy_text() -> None:
    assert decode("message", {"text": "<@U1> approved the order."}) == Message(None, "<@U1> approved the order.")
    assert decode("reminder", {"text": "late", "state": "pending_approval"}).legacy == "late"  # type: ignore[union-attr]
    assert decode("notify", {"user": "U1", "text": "hi"}) == Notify("U1", None, legacy="hi")


def test_facts_hold_no_words_and_render_per_language() -> None:
    assert StepFacts.loads(FACTS.dumps()) == FACTS
    assert "Version" not in FACTS.dumps() and "<@" not in FACTS.dumps()
    assert step_message(FACTS, "SO-000001", english()) == (
        "<@U1> filed a confirmation. Version 2: Filter 4 → 6; − Skip hire; added field worker <@U2>. "
        "Change before tax: -$12.50. Why: clogged")
    assert step_message(FACTS, "SO-000001", language("es")) == (
        "<@U1> registró una confirmación. Versión 2: Filter 4 → 6; − Skip hire; se agregó al técnico de campo "
        "<@U2>. Cambio antes de impuestos: -12,50\u00a0US$. Motivo: clogged")


def test_reschedule_and_crew_facts_render_per_language() -> None:
    moved = StepFacts(Action.RESCHEDULE, "U1", version=3, scheduled_date=date(2026, 12, 9), note="postponed",
                      fields=(FieldChange("scheduled_date", "2026-12-04", "2026-12-09"),
                              FieldChange("scheduled_start", None, "08:00"),
                              FieldChange("scheduled_end", None, "12:30")))
    crew = StepFacts(Action.CHANGE_CREW, "U1", version=4, people_added=("U2",), people_removed=("U3",))
    assert StepFacts.loads(moved.dumps()) == moved and StepFacts.loads(crew.dumps()) == crew
    assert step_message(moved, "SO-000001", english()) == (
        "<@U1> rescheduled the order. Version 3: scheduled for Dec 9, 2026, 8:00\u202fAM – 12:30\u202fPM "
        "(was Dec 4, 2026). Reason: postponed")
    assert step_message(moved, "SO-000001", language("es")) == (
        "<@U1> reprogramó la orden. Versión 3: programada para 9 dic 2026, 8:00 – 12:30 (antes 4 dic 2026). "
        "Motivo: postponed")
    assert step_message(crew, "SO-000001", language("es")) == (
        "<@U1> cambió el equipo. Versión 4: se agregó al técnico de campo <@U2>; se retiró al técnico de campo <@U3>.")


def test_reminders_and_notices_in_spanish() -> None:
    es = language("es_CL")
    reminder = Reminder(ReminderAbout.ESCALATION, 48, ("U3",), "pending_approval")
    assert channel_reminder(reminder, "SO-000001", es) == (
        "<@U3>: SO-000001 lleva más de 48 h esperando aprobación; nadie la ha aprobado ni rechazado todavía.")
    digest = Notify("U4", NotifyAbout.DIGEST, count=2, orders=(OverdueLine(1, "C1", date(2026, 11, 27)),))
    assert direct_message(digest, es, {1: "SO-000001"}, None) == (
        "*2 órdenes atrasadas* (aprobadas, con la fecha programada vencida, sin cerrar):\n"
        "• SO-000001 <#C1> · programada para el 27-11-2026\n…y 1 más: `/order list overdue`.")
    assert could_not_add([("U5", "cant_invite"), ("U6", "odd")], es) == (
        "No se pudo agregar a este canal:\n• <@U5>: su cuenta de Slack está desactivada\n• <@U6>: Slack respondió "
        "odd\nUn supervisor o coordinador puede asignar a otra persona con una confirmación.")
    assert continues_here("SO-000001", "C1", ChannelGone.ARCHIVED, es).startswith(
        "SO-000001 continúa aquí: su canal <#C1> se archivó.")
