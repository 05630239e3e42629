"""Catalog CSV import and role grants: every bad row is named with its line, and nothing is written."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest
from sqlmodel import Session, select

from bot.cli_words import import_summary, people_problem, sheet_error
from i18n import english, language
from storage.models import CatalogEntry
from tests.conftest import SAMPLE_CATALOG
from workflow import people
from workflow.catalog import BATCH, import_csv
from workflow.people import PeopleError, grant, parse_role, revoke, roles_by_user
from workflow.queries import search_catalog
from workflow.sheets import MAX_PROBLEMS, Problem, SheetError, Trouble
from workflow.vocabulary import Role

HEADER = "kind,code,name,unit,unit_price,parent\n"


def write(tmp_path: Path, body: str, header: str = HEADER) -> Path:
    path = tmp_path / "catalog.csv"
    path.write_text(header + body, encoding="utf-8")
    return path


def said(error: SheetError) -> list[str]:
    """The error as the command line says it in English, one line a problem."""
    return sheet_error(english(), error)


def summary(report) -> str:  # type: ignore[no-untyped-def]
    return import_summary(english(), report)


def entries(engine) -> list[tuple[str, str, str]]:  # type: ignore[no-untyped-def]
    with Session(engine) as session:
        return [(e.kind, e.code, e.name) for e in session.exec(select(CatalogEntry).order_by(CatalogEntry.id))]


def test_sample_imports_and_reimport_updates(engine, tmp_path) -> None:  # type: ignore[no-untyped-def]
    report = import_csv(engine, SAMPLE_CATALOG)
    assert summary(report) == "Imported 3 new clients, 4 new sites, 4 new services, 5 new materials."
    again = import_csv(engine, write(tmp_path, "material,CEM-25,Cement 25 kg (grey),bag,7.90,\n"
                                               "material,PIPE-20,PEX pipe 20 mm,m,2.35,\n"))
    assert again.existing == {"material": 2} and again.created == {} and again.changed == 1
    assert summary(again) == "Imported nothing new; of 2 already in the catalog, 1 updated and 1 unchanged."
    with Session(engine) as session:
        cement = session.exec(select(CatalogEntry).where(CatalogEntry.code == "CEM-25")).one()
        assert cement.name == "Cement 25 kg (grey)" and cement.unit_price == Decimal("7.90")
        assert [e.code for e in search_catalog(session, ("material",), "CEMENT grey")] == ["CEM-25"]
        assert [e.code for e in search_catalog(session, ("site",), "", parent="ACME")] == ["ACME-HQ", "ACME-WH"]
        assert [e.code for e in search_catalog(session, ("client",), "peñalolén")] == ["PENA"]
        assert search_catalog(session, ("service",), "%") == []  # LIKE wildcards are literal


@pytest.mark.parametrize("body, problem", [
    ("vehicle,V1,Van,,,\n", "line 2: kind 'vehicle' is not one of client, site, service, material"),
    ("client,,Nameless,,,\n", "line 2: code '' must be 1-64 letters"),
    ("client,A B,Spaces,,,\n", "line 2: code 'A B' must be"),
    ("client,C1,,,,\n", "line 2: name must be 1-200 characters"),
    ("service,S1,Svc,,10,\n", "line 2: a service needs a unit"),
    ("service,S1,Svc,h,ten,\n", "line 2: unit_price 'ten' is not a number"),
    ("material,M1,Mat,kg,-1,\n", "line 2: unit_price '-1' must be 0 or more"),
    ("material,M1,Mat,kg,1.23456,\n", "line 2: unit_price '1.23456' must be 0 or more, with at most 4 decimals"),
    ("material,M1,Mat,kg,10000000000,\n", "line 2: unit_price '10000000000' must be at most 9999999999.9999"),
    *((f"service,S1,Svc,h,{price},\n", f"line 2: unit_price '{shown}' is not a number (use digits and a dot: "
       "1000 or 12.50)") for price, shown in [("1_000", "1_000"), ("1e6", "1e6"), ("１２", "１２"), ("+5", "+5"),
                                              ('" 1,5"', "1,5"), ("1.2.3", "1.2.3"), ("NaN", "NaN")]),
    ("client,C1,Client,h,,\n", "line 2: a client has no unit or unit_price"),
    ("site,S1,Site,,,\n", "line 2: a site needs its client's code in 'parent'"),
    ("site,S1,Site,,,NOPE\n", "line 2: parent 'NOPE' is not a client code"),
    ("service,S1,Svc,h,1,C1\n", "line 2: only a site has a parent"),
    ("client,C1,One,,,\nclient,C1,Two,,,\n", "line 3: client 'C1' already appears on line 2"),
    ("client,C1,One,,\n", "line 2: 5 fields, expected 6"),
])
def test_bad_rows_are_reported_and_nothing_is_written(engine, tmp_path, body, problem) -> None:  # type: ignore[no-untyped-def]
    good = "client,OK,Fine client,,,\n"
    with pytest.raises(SheetError) as caught:
        import_csv(engine, write(tmp_path, good + body.replace("line 2", "line 3")))
    expected = problem.replace("line 3", "line 4").replace("line 2", "line 3")
    assert any(expected in p for p in said(caught.value)), said(caught.value)
    assert entries(engine) == []


def test_sites_name_a_client_earlier_later_or_already_imported(engine, tmp_path) -> None:  # type: ignore[no-untyped-def]
    import_csv(engine, write(tmp_path, "client,OLD,Imported before,,,\n"))
    body = ("site,S-LATER,Before its client,,,NEW\nclient,NEW,New client,,,\n"
            "site,S-EARLIER,After its client,,,NEW\nsite,S-OLD,Old client's,,,OLD\n")
    report = import_csv(engine, write(tmp_path, body))
    assert report.created == {"site": 3, "client": 1}
    assert entries(engine)[1:] == [("site", "S-LATER", "Before its client"), ("client", "NEW", "New client"),
                                   ("site", "S-EARLIER", "After its client"), ("site", "S-OLD", "Old client's")]


def test_a_bad_last_row_of_a_long_file_leaves_nothing(engine, tmp_path) -> None:  # type: ignore[no-untyped-def]
    import_csv(engine, write(tmp_path, "client,C0,Before,,,\n"))
    rows = "".join(f"service,S{n},Service {n},h,{n}.50,\n" for n in range(3 * BATCH))  # several batches staged
    with pytest.raises(SheetError) as caught:
        import_csv(engine, write(tmp_path, "client,C0,Renamed,,,\n" + rows + "site,LAST,Last,,,NOPE\n"))
    assert said(caught.value) == [f"{tmp_path / 'catalog.csv'}: line {3 * BATCH + 3}: parent 'NOPE' is not a "
                                     "client code (in this file or already imported)"]
    assert entries(engine) == [("client", "C0", "Before")]


def test_problems_are_listed_by_line_up_to_a_cap_and_counted(engine, tmp_path) -> None:  # type: ignore[no-untyped-def]
    bad_rows = "".join(f"site,S{n},Site,,,GONE\nservice,V{n},Svc,h,1e{n},\n" for n in range(MAX_PROBLEMS))
    with pytest.raises(SheetError) as caught:
        import_csv(engine, write(tmp_path, bad_rows))
    listed = [p.split(": ", 1)[1] for p in said(caught.value)[:-1]]
    assert listed == [f"line {2 + n}: " + ("parent 'GONE' is not a client code (in this file or already imported)"
                                           if n % 2 == 0 else f"unit_price '1e{n // 2}' is not a number (use digits "
                                                              "and a dot: 1000 or 12.50)") for n in range(MAX_PROBLEMS)]
    assert caught.value.more == MAX_PROBLEMS
    assert said(caught.value)[-1] == f"and {MAX_PROBLEMS} more problems"
    assert entries(engine) == []


def test_a_repeat_of_a_bad_row_is_named_with_the_line_of_the_first(engine, tmp_path) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(SheetError) as caught:
        import_csv(engine, write(tmp_path, "client,C1,,,,\nclient,C1,Fixed,,,\nsite,C1,Site,,,C1\n"))
    assert [p.split(": ", 1)[1] for p in said(caught.value)] == [
        "line 2: name must be 1-200 characters", "line 3: client 'C1' already appears on line 2"]
    assert entries(engine) == []


def test_reimporting_the_same_file_changes_nothing_and_counts_updates(engine, tmp_path) -> None:  # type: ignore[no-untyped-def]
    import_csv(engine, SAMPLE_CATALOG)
    before = entries(engine)
    report = import_csv(engine, SAMPLE_CATALOG)
    assert report.created == {} and sum(report.existing.values()) == 16 and report.changed == 0
    assert summary(report) == "Imported nothing new; of 16 already in the catalog, 0 updated and 16 unchanged."
    assert entries(engine) == before


def test_a_site_may_name_a_client_already_imported(engine, tmp_path) -> None:  # type: ignore[no-untyped-def]
    import_csv(engine, write(tmp_path, "client,C1,Client,,,\n"))
    import_csv(engine, write(tmp_path, "site,S1,Site,,,C1\n"))
    assert entries(engine)[-1] == ("site", "S1", "Site")


def test_bad_files(engine, tmp_path) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(SheetError) as caught:
        import_csv(engine, write(tmp_path, "client,C1,x,,,\n", header="type,code,name\n"))
    assert caught.value.problems[0].trouble is Trouble.HEADER and "the header must be" in said(caught.value)[0]
    with pytest.raises(SheetError) as caught:
        import_csv(engine, tmp_path / "missing.csv")
    assert caught.value.problems == [Problem(Trouble.CANNOT_READ, None, {"reason": "No such file or directory"})]
    latin1 = tmp_path / "latin1.csv"
    latin1.write_bytes((HEADER + "client,C1,Peñalolén,,,\n").encode("latin-1"))
    with pytest.raises(SheetError) as caught:
        import_csv(engine, latin1)
    assert caught.value.problems[0].trouble is Trouble.NOT_UTF8 and caught.value.problems[0].line == 2
    bom = tmp_path / "bom.csv"
    bom.write_bytes((HEADER + "client,C1,Excel export,,,\n").encode("utf-8-sig"))
    import_csv(engine, bom)
    assert entries(engine) == [("client", "C1", "Excel export")]


def test_roles(engine) -> None:  # type: ignore[no-untyped-def]
    assert grant(engine, "U0A", [Role.SUPERVISOR, Role.COORDINATOR]) == [Role.SUPERVISOR, Role.COORDINATOR]
    assert grant(engine, "U0A", [Role.SUPERVISOR]) == []
    assert revoke(engine, "U0A", Role.SUPERVISOR) is True
    assert revoke(engine, "U0A", Role.SUPERVISOR) is False
    assert roles_by_user(engine) == {"U0A": ["coordinator"]}
    assert parse_role("Field-Worker") is Role.FIELD_WORKER
    with pytest.raises(PeopleError) as role:
        parse_role("boss")
    assert (role.value.trouble, role.value.value) == (people.Trouble.ROLE, "boss")
    assert people_problem(english(), role.value).startswith("'boss' is not a role; roles are: requester, supervisor")
    assert people_problem(language("es_CL"), role.value).startswith(
        "'boss' no es un rol; los roles son: requester, supervisor")
    with pytest.raises(PeopleError) as user:
        grant(engine, "alice", [Role.ADMIN])
    assert people_problem(english(), user.value).startswith("'alice' is not a Slack user id")


def test_problems_and_the_summary_in_spanish(engine, tmp_path) -> None:  # type: ignore[no-untyped-def]
    # typed problems, worded where they are shown: the same error in the provider's Spanish (LOCALE=es_CL)
    spanish = language("es_CL")
    with pytest.raises(SheetError) as caught:
        import_csv(engine, write(tmp_path, "client,C1,,,,\nservice,S1,Svc,,10,\n" +
                                 "".join(f"site,S{n},Sede,,,NADA\n" for n in range(25))))
    lines = sheet_error(spanish, caught.value)
    path = tmp_path / "catalog.csv"
    assert lines[0] == f"{path}: línea 2: el nombre debe tener de 1 a 200 caracteres"
    assert lines[1] == (f"{path}: línea 3: una fila de tipo service necesita una unidad (1 a 32 caracteres), "
                        "p. ej. h, m, saco")
    assert lines[2] == f"{path}: línea 4: parent 'NADA' no es un código de cliente (de este archivo ni ya importado)"
    assert lines[-1] == "y 7 problemas más"
    report = import_csv(engine, SAMPLE_CATALOG)
    assert import_summary(spanish, report) == ("Se importaron 3 clientes nuevos, 4 sedes nuevas, 4 servicios nuevos, "
                                               "5 materiales nuevos.")
