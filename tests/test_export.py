"""`service-orders export`: one CSV row per order, as an operator runs it (its own process)."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

from pypdf import PdfReader

from storage.db import make_engine
from storage.scope import UNCLAIMED, serving
from tests.conftest import NO_REAPPROVAL, REQUESTER, SUPERVISOR, WORKER
from tests.test_cli import cli, env  # noqa: F401  (the fixture)
from tests.test_workflow import draft
from workflow.catalog import import_csv
from workflow.inputs import Approval, Closing
from workflow.limits import Limits
from workflow.people import grant, remember
from workflow.service import OrderService
from workflow.vocabulary import Action, Role

NOW = datetime(2026, 11, 20, 10, 0, tzinfo=UTC)


def seed(url: str) -> None:
    """Orders in a database no bot has started on: the CLI's rows, of no workspace yet (UNCLAIMED)."""
    with serving(UNCLAIMED):
        _seed(url)


def _seed(url: str) -> None:
    from tests.conftest import SAMPLE_CATALOG

    engine = make_engine(url)
    from storage.db import init_db
    init_db(engine)
    import_csv(engine, SAMPLE_CATALOG)
    for user, role in ((REQUESTER, Role.REQUESTER), (SUPERVISOR, Role.SUPERVISOR), (WORKER, Role.FIELD_WORKER)):
        grant(engine, user, [role])
    remember(engine, WORKER, "Jürgen Müller", "Europe/Berlin")
    for day, description in ((0, "=HYPERLINK(\"http://evil\")"), (3, "Second"), (6, "Third, with a comma")):
        # as the bot runs with CURRENCY=EUR and TAX_RATE_PERCENT=21
        service = OrderService(engine, clock=lambda d=day: NOW + timedelta(days=d), currency="EUR",
                               limits=Limits(tax_rate=Decimal("0.21")), policy=NO_REAPPROVAL)
        order = service.submit(REQUESTER, draft(description=description,
                                                requested_date=(NOW + timedelta(days=day + 2)).date()))
        if day < 6:
            order = service.apply(SUPERVISOR, order.id, Action.APPROVE, order.revision,
                                  Approval((WORKER,), (NOW + timedelta(days=day + 2)).date(), None))
        if day == 0:
            service.apply(WORKER, order.id, Action.COMPLETE, order.revision, Closing("Done"))
    engine.dispose()


def rows(path: Path) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(path.read_text(encoding="utf-8"))))


def test_export_writes_one_row_per_order(env: dict[str, str], tmp_path: Path) -> None:  # noqa: F811
    seed(env["DATABASE_URL"])
    out = tmp_path / "orders.csv"
    result = cli("export", str(out), env=env | {"CURRENCY": "EUR", "TAX_RATE_PERCENT": "21",
                                                  "PROVIDER_TIMEZONE": "Europe/Madrid"})
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == f"Wrote {out}: 3 orders"
    first, second, third = rows(out)
    assert first["order"] == "SO-000001" and first["state"] == "Completed"
    assert first["description"] == "'=HYPERLINK(\"http://evil\")"  # never a formula in a spreadsheet
    assert first["submitted_at"] == "2026-11-20T11:00+01:00" and first["closed_at"].startswith("2026-11-20T11:00")
    assert first["field_workers"] == f"Jürgen Müller ({WORKER})" and first["versions"] == "2"  # v1 and closing
    assert first["client"] == "Acme Facilities Ltd." and first["currency"] == "EUR"
    assert (first["subtotal"], first["tax"], first["total"]) == ("310.00", "65.10", "375.10")  # 21 % of 310
    assert second["state"] == "Approved, work in progress" and second["scheduled_date"] == "2026-11-25"
    assert third["state"] == "Pending approval" and third["versions"] == "0" and third["approved_by"] == ""
    assert third["description"] == "Third, with a comma"


def test_export_by_period_and_to_standard_output(env: dict[str, str], tmp_path: Path) -> None:  # noqa: F811
    seed(env["DATABASE_URL"])
    result = cli("export", "-", "--from", "2026-11-21", "--to", "2026-11-23", env=env)
    assert result.returncode == 0, result.stderr
    assert [row["order"] for row in csv.DictReader(io.StringIO(result.stdout))] == ["SO-000002"]
    out = tmp_path / "none.csv"
    assert cli("export", str(out), "--from", "2027-01-01", env=env).stdout.strip() == (
        f"Wrote {out}: 0 orders submitted 2027-01-01 to today")
    assert rows(out) == []


def test_export_refuses_bad_input_and_writes_nothing(env: dict[str, str], tmp_path: Path) -> None:  # noqa: F811
    out = tmp_path / "orders.csv"
    for args, message in (
            (["--from", "2026-13-01"], "--from '2026-13-01' is not a date (YYYY-MM-DD)"),
            (["--from", "2026-11-10", "--to", "2026-11-01"], "--from 2026-11-10 is after --to 2026-11-01")):
        result = cli("export", str(out), *args, env=env)
        assert result.returncode == 2 and result.stderr.strip() == f"service-orders: {message}"
    result = cli("export", str(tmp_path / "missing" / "orders.csv"), env=env)
    assert result.returncode == 2 and "no folder" in result.stderr
    assert not out.exists() and not [p for p in tmp_path.iterdir() if p.suffix == ".tmp"]


def test_export_header_and_states_in_the_providers_language(env: dict[str, str], tmp_path: Path) -> None:  # noqa: F811
    seed(env["DATABASE_URL"])
    out = tmp_path / "pedidos.csv"
    result = cli("export", str(out), env=env | {"LOCALE": "es_CL", "CURRENCY": "EUR", "TAX_RATE_PERCENT": "21",
                                                  "PROVIDER_TIMEZONE": "Europe/Madrid"})
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == f"Se escribió {out}: 3 órdenes"
    first, second, third = rows(out)
    assert list(first)[:4] == ["orden", "estado", "código_cliente", "cliente"]
    assert (first["estado"], second["estado"], third["estado"]) == (
        "Completada", "Aprobada, en ejecución", "Pendiente de aprobación")
    # the values stay machine-readable: ISO times, plain decimals with a point, codes
    assert first["enviada_el"] == "2026-11-20T11:00+01:00" and first["prioridad"] == "high"
    assert (first["subtotal"], first["impuesto"], first["total"]) == ("310.00", "65.10", "375.10")


def test_export_keeps_each_orders_issued_currency_and_tax_after_the_settings_change(env: dict[str, str],  # noqa: F811
                                                                                    tmp_path: Path) -> None:
    seed(env["DATABASE_URL"])  # issued in EUR at 21 %
    out = tmp_path / "orders.csv"
    # the provider has since moved to dollars without tax: the orders keep the figures they were issued with
    result = cli("export", str(out), env=env | {"CURRENCY": "USD", "TAX_RATE_PERCENT": "0"})
    assert result.returncode == 0, result.stderr
    first, *_ = rows(out)
    assert (first["subtotal"], first["tax"], first["total"], first["currency"]) == ("310.00", "65.10", "375.10",
                                                                                    "EUR")


def test_a_pdf_first_drawn_after_the_settings_change_keeps_its_versions_money(env: dict[str, str],  # noqa: F811
                                                                             tmp_path: Path) -> None:
    """A version's document is frozen when its PDF is first made (the effect may run later, or be retried): it
    carries the currency and tax the version was made with, as the card and the export do."""
    seed(env["DATABASE_URL"])  # issued in EUR at 21 %, no PDF drawn yet
    out = tmp_path / "v1.pdf"
    result = cli("pdf", "SO-000001", "--version", "1", "-o", str(out),
                 env=env | {"CURRENCY": "USD", "TAX_RATE_PERCENT": "0"})
    assert result.returncode == 0, result.stderr
    text = " ".join(page.extract_text() for page in PdfReader(out).pages)
    assert "Amounts in EUR" in text and "Tax 21% 65.10" in text and "Total EUR 375.10" in text and "USD" not in text
