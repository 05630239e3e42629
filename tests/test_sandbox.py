"""The sandbox (the fake Slack, the local workspace, the demo) stays out of the product: the product's packages
never import it, the built package does not hold it, and the demo runs from the repository as scripts/demo."""

from __future__ import annotations

import ast
import os
import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
from pypdf import PdfReader

ROOT = Path(__file__).resolve().parents[1]
PRODUCT = ("bot", "forms", "workflow", "storage", "pdf", "i18n")
SANDBOX = ("sandbox", "slackfake")  # slackfake: its name before it moved into the sandbox
CLI = str(Path(sys.executable).parent / "service-orders")


def sandbox_imports(source: str, filename: str = "<snippet>") -> list[str]:
    """Each import of a sandbox module in `source`, as `filename:line module`: import statements anywhere
    (in functions too) and importlib.import_module / __import__ of a literal name."""
    found = []
    for node in ast.walk(ast.parse(source, filename)):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [node.module]
        elif isinstance(node, ast.Call) and _is_dynamic_import(node.func) and node.args \
                and isinstance(node.args[0], ast.Constant) and isinstance(node.args[0].value, str):
            names = [node.args[0].value]
        else:
            continue
        found += [f"{filename}:{node.lineno} {name}" for name in names if name.split(".")[0] in SANDBOX]
    return found


def _is_dynamic_import(func: ast.expr) -> bool:
    name = func.attr if isinstance(func, ast.Attribute) else func.id if isinstance(func, ast.Name) else ""
    return name in ("import_module", "__import__")


@pytest.mark.parametrize("snippet", [
    "import sandbox",
    "from sandbox.local import LocalWorkspace",
    "from sandbox import demo",
    "import slackfake.server as fake",
    "def later():\n    from sandbox.slackfake.inbound import SlackDriver\n",
    "import importlib\nimportlib.import_module('sandbox.demo')",
    "__import__('slackfake')",
])
def test_the_scanner_finds_an_import_of_the_sandbox(snippet: str) -> None:
    assert len(sandbox_imports(snippet)) == 1


@pytest.mark.parametrize("snippet", [
    "from bot.app import build_bot",
    "import sandboxing",
    "sandbox = 'sandbox'",
    "# from sandbox.local import LocalWorkspace",
    "from . import local",
])
def test_the_scanner_leaves_other_code_alone(snippet: str) -> None:
    assert sandbox_imports(snippet) == []


def test_the_product_never_imports_the_sandbox() -> None:
    modules = [path for package in PRODUCT for path in sorted((ROOT / package).rglob("*.py"))]
    assert len(modules) > 50  # the packages were found: an empty scan proves nothing
    found = [hit for path in modules
             for hit in sandbox_imports(path.read_text(encoding="utf-8"), str(path.relative_to(ROOT)))]
    assert found == []


def test_the_built_package_holds_the_product_and_not_the_sandbox(tmp_path: Path) -> None:
    """setuptools lays out what goes into the wheel (build_py: the packages pyproject.toml finds and their
    package data), from a copy of the checkout so that nothing is written into the repository."""
    source = tmp_path / "source"
    ignore = shutil.ignore_patterns(".*", "__pycache__", "*.egg-info", "build", "data", "tests", "bench")
    shutil.copytree(ROOT, source, ignore=ignore)
    result = subprocess.run([sys.executable, "-c", "import setuptools; setuptools.setup()", "-q", "build_py",
                             "--build-lib", str(tmp_path / "lib")], cwd=source, capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 0, result.stderr
    files = {path.relative_to(tmp_path / "lib").as_posix() for path in (tmp_path / "lib").rglob("*")
             if path.is_file()}
    assert {path.split("/")[0] for path in files} == set(PRODUCT)
    assert {"bot/cli.py", "storage/migrations/script.py.mako", "pdf/fonts/LICENSE",
            "i18n/locales/es/LC_MESSAGES/messages.po"} <= files  # the catalogs ship with the product
    assert not [path for path in files if "sandbox" in path or "slackfake" in path or "sample" in path]
    packages = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["setuptools"]
    assert not [name for name in packages["packages"]["find"]["include"] if name.startswith(SANDBOX)]


def test_the_product_command_has_no_demo(tmp_path: Path) -> None:
    result = subprocess.run([CLI, "demo"], env={**os.environ, "DATABASE_URL": f"sqlite:///{tmp_path / 'x.db'}"},
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 2 and "invalid choice: 'demo'" in result.stderr
    assert list(tmp_path.iterdir()) == []


def demo(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    """scripts/demo's command: the sandbox's module, from the repository."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "DATABASE_URL"))}
    return subprocess.run([sys.executable, "-m", "sandbox.demo", *args], env=env, cwd=cwd, capture_output=True,
                          text=True, timeout=120)


@pytest.mark.parametrize(("out", "answer"), [
    ("TMP/a-file", "demo: TMP/a-file is a file; --out names a folder"),
    ("/proc/no/such", "demo: cannot write in the folder /proc/no/such (No such file or directory)"),
    ("TMP/a-file/below", "demo: cannot write in the folder TMP/a-file/below (Not a directory)"),
])
def test_the_demo_refuses_an_out_it_cannot_write_in(out: str, answer: str, tmp_path: Path) -> None:
    (tmp_path / "a-file").write_text("mine")
    result = demo("--out", out.replace("TMP", str(tmp_path)))
    assert result.returncode == 2 and result.stdout == ""
    assert result.stderr == answer.replace("TMP", str(tmp_path)) + "\n"
    assert [path.name for path in tmp_path.iterdir()] == ["a-file"] and (tmp_path / "a-file").read_text() == "mine"


def test_the_demo_in_spanish_writes_spanish_documents(tmp_path: Path) -> None:
    result = demo("--out", str(tmp_path / "out"), "--locale", "es")
    assert result.returncode == 0, result.stdout + result.stderr
    first = PdfReader(tmp_path / "out" / "SO-000001-v1.pdf").pages[0].extract_text()
    assert "Orden de servicio SO-000001" in first and "Service order" not in first
    # the demo's people read Slack in Spanish: their App Home and /order status are in Spanish
    status = (tmp_path / "out" / "status.txt").read_text(encoding="utf-8")
    assert "Completada · versión 7" in status and "Completed" not in status and "*Últimos pasos*" in status
    home = (tmp_path / "out" / "home.txt").read_text(encoding="utf-8")
    assert "Órdenes de servicio" in home and "Service orders" not in home
    # the channel and the audit trail too, with the Spanish sample catalog: nothing English but names and codes
    # (the audit lines start with the step and the states as codes: approve, pending_approval → approved)
    transcript = (tmp_path / "out" / "transcript.txt").read_text(encoding="utf-8")
    audit = (tmp_path / "out" / "audit.txt").read_text(encoding="utf-8")
    assert "por favor revísenla" in transcript and "propuso una confirmación. Propuesto: Filtro de aire" in transcript
    assert "aprobó el cambio. Versión 2, propuesta por @Jürgen Müller: Filtro de aire" in transcript
    assert "cerró la orden como completada. Versión 7, el acta de cierre" in audit
    english = ("submitted", "review", "approved the", "Version", "confirmation.", "closed", "Filter", "Crane", "Why",
               "Total +€", "State", "*Client*", "fingerprint", "the ")
    assert [word for word in english if word in transcript or word in audit] == []
    # and no English word at all in what people read (Slack's own lines included, as its Spanish client shows
    # them), once names and codes are set aside: the bot's name, emoji codes, the /order command and its words
    # ("total" and "roles" are Spanish words too)
    codes = r"service-orders|:[a-z_]+:|`/order[^`]*`|SO-\d+[\w-]*|#so-[\w-]+"
    read = re.sub(codes, " ", "\n".join((transcript, home, status)))
    common = {"the", "and", "by", "of", "for", "to", "is", "joined", "invited", "created", "channel", "private",
              "version", "order", "orders", "please", "items", "item", "field", "workers", "approved",
              "submitted", "updated", "status", "steps", "latest", "requested", "your", "you", "pending",
              "completed", "waiting", "overdue", "assigned", "nothing", "state", "client", "site", "job", "note"}
    assert sorted({w for w in re.findall(r"[A-Za-z]+", read) if w.lower() in common}) == []
