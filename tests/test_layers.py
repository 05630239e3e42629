"""Only bot/ builds Slack markup: the string literals of workflow/, storage/, pdf/, i18n/ and forms/ hold no
mention (<@…>), channel link (<#…>) or special token (<!…>), and none of them imports Slack's escaping.
Read with `ast`, so comments and docstrings (which may describe the markup) do not count."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
LAYERS = ("workflow", "storage", "pdf", "i18n", "forms")
MARKUP = ("<@", "<#", "<!")
ESCAPING = "bot.mrkdwn"  # Slack's escaping and markup helpers



def sources() -> list[Path]:
    return sorted(p for layer in LAYERS for p in (ROOT / layer).rglob("*.py"))


def literals(tree: ast.AST) -> list[tuple[int, str]]:
    """Every string literal but docstrings, with its line (an f-string's literal parts each count)."""
    docstrings = {id(node.body[0].value) for node in ast.walk(tree)
                  if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef)
                  and node.body and isinstance(node.body[0], ast.Expr)
                  and isinstance(node.body[0].value, ast.Constant) and isinstance(node.body[0].value.value, str)}
    return [(node.lineno, node.value) for node in ast.walk(tree)
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docstrings]


def test_no_module_outside_bot_builds_slack_markup() -> None:
    found = []
    for path in sources():
        name = path.relative_to(ROOT).as_posix()
        for line, text in literals(ast.parse(path.read_text(encoding="utf-8"))):
            found += [f"{name}:{line}: {text!r}" for mark in MARKUP if mark in text]
    assert found == []


def test_no_module_outside_bot_imports_slack_escaping() -> None:
    found = []
    for path in sources():
        name = path.relative_to(ROOT).as_posix()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            modules = ([node.module or ""] if isinstance(node, ast.ImportFrom)
                       else [a.name for a in node.names] if isinstance(node, ast.Import) else [])
            found += [f"{name}:{node.lineno}: {m}" for m in modules if m == ESCAPING or m.startswith("bot.")]
    assert found == []


@pytest.mark.parametrize("text, caught", [('x = f"<@{user}> did it"', True), ('x = "<#C1>"', True),
                                          ('"""Mentions look like <@U1>."""', False), ('x = "a < b"', False)])
def test_the_scan_sees_markup_in_literals_and_not_in_docstrings(text: str, caught: bool) -> None:
    assert any(mark in value for _, value in literals(ast.parse(text)) for mark in MARKUP) is caught
