"""Catalogue completeness: every word the code marks for a reader is in every language's catalog, translated,
with the same placeholders; no catalog keeps words the code no longer says."""

from __future__ import annotations

import string
from pathlib import Path

import pytest
from babel.messages.extract import extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.pofile import read_po

from i18n import LOCALES, SOURCE, language, languages

ROOT = Path(__file__).resolve().parent.parent
KEYWORDS = {"_": None, "n_": (1, 2), "p_": ((1, "c"), 2), "N_": None}  # as scripts/catalogs extracts them


def _extracted() -> dict[tuple[str | None, str], tuple[str, ...]]:
    """(context, msgid) → every form, as the code writes them."""
    with (ROOT / "babel.cfg").open() as cfg:
        method_map, options_map = parse_mapping_cfg(cfg)
    found: dict[tuple[str | None, str], tuple[str, ...]] = {}
    for filename, _line, message, _comments, context in extract_from_dir(
            str(ROOT), method_map, options_map, keywords=KEYWORDS):
        forms = message if isinstance(message, tuple) else (message,)
        assert all(forms), f"{filename}: an empty message id"
        found[(context, forms[0])] = forms
    return found


EXTRACTED = _extracted()


def _catalog(name: str):  # type: ignore[no-untyped-def]
    with (LOCALES / name / "LC_MESSAGES" / "messages.po").open("rb") as file:
        return read_po(file, locale=name)


def _fields(text: str) -> set[str]:
    return {field for _, field, _, _ in string.Formatter().parse(text) if field is not None}


def test_we_ship_english_and_spanish() -> None:
    assert {"en", "es"} <= set(languages())


@pytest.mark.parametrize("name", languages())
def test_every_word_is_in_the_catalog_and_nothing_else(name: str) -> None:
    catalog = _catalog(name)
    held = {(m.context, m.id if isinstance(m.id, str) else m.id[0]) for m in catalog if m.id}
    missing = sorted(key[1] for key in EXTRACTED if key not in held)
    stale = sorted(key[1] for key in held if key not in EXTRACTED)
    assert not missing, f"{name}: not in the catalog (run scripts/catalogs, then translate): {missing[:20]}"
    assert not stale, f"{name}: no longer in the code (run scripts/catalogs): {stale[:20]}"


@pytest.mark.parametrize("name", [n for n in languages() if n != SOURCE])
def test_every_word_is_translated_with_its_placeholders(name: str) -> None:
    problems = []
    for message in _catalog(name):
        if not message.id:
            continue
        ids = message.id if isinstance(message.id, tuple) else (message.id,)
        strings = message.string if isinstance(message.string, tuple) else (message.string,)
        if message.fuzzy or not all(strings):
            problems.append(f"untranslated: {ids[0]!r}")
            continue
        wanted = set().union(*(_fields(i) for i in ids))
        for text in strings:
            # a plural form may leave the count out ("un ítem"), never bring in a name the code does not pass
            if _fields(text) - wanted or (len(ids) == 1 and _fields(text) != wanted):
                problems.append(f"placeholders differ: {ids[0]!r} -> {text!r}")
    assert not problems, f"{name}: " + "; ".join(problems[:20])


def test_a_translated_word_reaches_the_reader() -> None:
    # the catalog is compiled on first use: a Spanish reader gets Spanish, an English one the source text
    assert language("es-CL")._("Pending approval") == "Pendiente de aprobación"
    assert language("en-US")._("Pending approval") == "Pending approval"
    assert language("es-LA").code == "es_419"  # Slack's Latin American Spanish, as CLDR names it
