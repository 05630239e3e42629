"""Who reads which language: what one person sees (App Home, `/order list|status|help`) follows their Slack
locale (users.info include_locale, learnt after the ack and asked again a day later), else the provider's
LOCALE; and the "who sees what" policy those surfaces ask."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

from sqlmodel import Session

from bot.readers import reader_language, reader_locale
from sandbox.local import LocalWorkspace
from storage.models import Person
from tests.conftest import COORDINATOR, OUTSIDER, REQUESTER, SUPERVISOR, TEAM, WORKER
from tests.test_app_home import open_home, text
from tests.test_end_to_end import PEOPLE
from tests.test_tracking import answer
from workflow.overview import Listing
from workflow.people import remember
from workflow.visibility import home_sections, may_list, may_open, sees_counts
from workflow.vocabulary import Role

SOON = (datetime.now(UTC) + timedelta(days=3)).date().isoformat()


def locale_of(ws: LocalWorkspace, user: str) -> str | None:
    with Session(ws.engine) as session:
        person = session.get(Person, (TEAM, user))
        return person.locale if person else None


def asked_about(ws: LocalWorkspace, user: str) -> int:
    return len([c for c in ws.fake.calls_to("users.info") if c.args.get("user") == user])


def test_two_readers_of_one_order_each_read_their_own_language(seeded) -> None:  # type: ignore[no-untyped-def]
    # the workspace's LOCALE is en (the default letterhead); the requester's Slack is in Latin American Spanish
    with LocalWorkspace(seeded, PEOPLE, locales={REQUESTER: "es-LA", SUPERVISOR: "en-US"}) as ws:
        ws.submit_order(REQUESTER, client="acme", site="hq", items=[("hvac", "1")], requested=SOON,
                        description="Two readers")
        ws.settle()
        order_id = ws.latest_order_id()
        ws.approve(SUPERVISOR, order_id, workers=[WORKER], scheduled=SOON)
        ws.settle()
        assert (locale_of(ws, REQUESTER), locale_of(ws, SUPERVISOR)) == ("es_419", "en_US")
        # Slack was asked for the locale, and only asked once each (the form's opening learnt them)
        assert all(c.args.get("include_locale") in (True, "1", "true") for c in ws.fake.calls_to("users.info"))

        spanish = text(open_home(ws, REQUESTER))
        assert "Órdenes de servicio" in spanish and "*Solicitadas por ti* (1)" in spanish
        assert "Aprobada, en ejecución" in spanish and "Tus roles: *solicitante*" in spanish
        assert "hace " in spanish and "programada para el " in spanish
        for english_word in ("Service orders", "You requested", "Your roles", "scheduled", " old"):
            assert english_word not in spanish
        english = text(open_home(ws, SUPERVISOR))
        assert "Service orders" in english and "*Waiting for approval* (0)" in english
        assert "Your roles: *supervisor*" in english and "Órdenes" not in english

        status_es = answer(ws, REQUESTER, f"status SO-{order_id}")["text"]
        assert f"solicitada por <@{REQUESTER}>, aprobada por <@{SUPERVISOR}>" in status_es
        assert "Aprobada, en ejecución · versión 1" in status_es and "*Últimos pasos*" in status_es
        assert f"<@{REQUESTER}> envió la orden" in status_es and f"<@{SUPERVISOR}> aprobó la orden" in status_es
        assert "Último PDF: SO-000001-v1.pdf en" in status_es
        status_en = answer(ws, SUPERVISOR, f"status SO-{order_id}")["text"]
        assert f"requested by <@{REQUESTER}>, approved by <@{SUPERVISOR}>" in status_en
        assert f"<@{SUPERVISOR}> approved the order" in status_en and "*Last steps*" in status_en

        # the lists and the help, too
        assert answer(ws, REQUESTER, "list")["text"].startswith("Tus órdenes abiertas: 1–1 de 1")
        assert answer(ws, SUPERVISOR, "list")["text"] == "*Your open orders* (0): none."
        assert "lista órdenes, 10 a la vez" in answer(ws, REQUESTER, "help")["text"]
        assert answer(ws, REQUESTER, "lsit")["text"] == (
            "No conozco `/order lsit`. Prueba `/order list`, `/order status SO-000042` o `/order help`.")


def test_a_newcomer_is_learnt_after_the_ack_and_an_unshipped_language_reads_the_providers(seeded) -> None:  # type: ignore[no-untyped-def]
    with LocalWorkspace(seeded, PEOPLE, locales={WORKER: "es-LA", OUTSIDER: "pt-BR"}) as ws:
        # never seen: the ack answers in the provider's language, and Slack is asked after it
        assert answer(ws, WORKER, "list")["text"] == "*Your open orders* (0): none."
        ws.wait(lambda: locale_of(ws, WORKER) == "es_419", "the worker's locale")
        assert answer(ws, WORKER, "list")["text"] == "*Tus órdenes abiertas* (0): ninguna."
        assert answer(ws, WORKER, "")["text"].startswith("Solo un solicitante puede ")  # no form for them
        # Portuguese is not shipped: learnt, stored as none, read in the provider's language
        assert "Service orders" in text(open_home(ws, OUTSIDER))
        assert asked_about(ws, OUTSIDER) == 1 and locale_of(ws, OUTSIDER) is None


def test_a_persons_language_is_asked_again_when_a_day_old(seeded) -> None:  # type: ignore[no-untyped-def]
    now = [datetime.now(UTC)]
    with LocalWorkspace(seeded, PEOPLE, clock=lambda: now[0], locales={COORDINATOR: "es-LA"}) as ws:
        assert "Órdenes de servicio" in text(open_home(ws, COORDINATOR))
        assert asked_about(ws, COORDINATOR) == 1
        ws.set_locale(COORDINATOR, "en-US")  # they switch Slack to English
        now[0] += timedelta(hours=23)
        assert "Órdenes de servicio" in text(open_home(ws, COORDINATOR))  # learnt within the day: not asked
        assert asked_about(ws, COORDINATOR) == 1
        now[0] += timedelta(hours=2)
        assert "Service orders" in text(open_home(ws, COORDINATOR))
        assert asked_about(ws, COORDINATOR) == 2 and locale_of(ws, COORDINATOR) == "en_US"


def test_who_sees_what() -> None:
    requester, supervisor, coordinator, worker, admin = ({role} for role in (
        Role.REQUESTER, Role.SUPERVISOR, Role.COORDINATOR, Role.FIELD_WORKER, Role.ADMIN))
    assert may_list(requester, Listing.MINE) and not may_list(requester, Listing.PENDING)
    assert all(may_list(staff, which) for staff in (supervisor, coordinator, admin) for which in Listing)
    assert not may_list(worker, Listing.ALL) and not may_list(set(), Listing.OVERDUE)
    assert home_sections(supervisor) == [Listing.PENDING]
    assert home_sections(coordinator) == [Listing.PENDING, Listing.ASSIGNED, Listing.OVERDUE]
    assert home_sections(worker) == [Listing.ASSIGNED] and home_sections(requester) == [Listing.REQUESTED]
    assert home_sections(set()) == [] and sees_counts(admin) and not sees_counts(supervisor)
    assert may_open(requester, "U1", "U1", assigned=False) and not may_open(requester, "U1", "U2", assigned=False)
    assert may_open(worker, "U1", "U2", assigned=True) and not may_open(worker, "U1", "U2", assigned=False)
    assert may_open(supervisor, "U1", "U2", assigned=False)


def test_a_reader_of_the_providers_language_with_no_country_reads_the_providers_figures(seeded) -> None:  # type: ignore[no-untyped-def]
    # Slack's es-LA is CLDR's es_419, which writes 2.5; a Chilean provider's crew types and reads 2,5
    for user, slack_locale in ((REQUESTER, "es_419"), (SUPERVISOR, "es"), (WORKER, "es_MX"), (COORDINATOR, "en_US")):
        remember(seeded, user, user, None, slack_locale)
    assert reader_locale(seeded, REQUESTER, "es_CL") == "es_CL"
    assert reader_locale(seeded, SUPERVISOR, "es_CL") == "es_CL"
    assert reader_locale(seeded, WORKER, "es_CL") == "es_MX"  # a country of their own: theirs
    assert reader_locale(seeded, COORDINATOR, "es_CL") == "en_US"  # another language: theirs
    assert reader_locale(seeded, REQUESTER, "en") == "es_419"  # an English provider says nothing of Spanish
    assert reader_locale(seeded, OUTSIDER, "es_CL") == "es_CL"  # Slack never said: the provider's
    assert reader_language(seeded, REQUESTER, "es_CL").number(Decimal("2.5")) == "2,5"
