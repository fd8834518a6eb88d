"""The suite's own layout: shared helpers live in tests/support/, and no test module
imports another (or conftest, which is for fixtures), so that a test module can be
changed or deleted without breaking others."""

from __future__ import annotations

import ast
from pathlib import Path

TESTS = Path(__file__).parent


def _imported_modules(path: Path) -> set[str]:
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
    return found


def test_no_test_module_imports_another_or_conftest():
    offending = {}
    for path in sorted([*TESTS.glob("*.py"), *(TESTS / "support").glob("*.py")]):
        bad = {
            module
            for module in _imported_modules(path)
            if module.startswith("tests.test_") or module == "tests.conftest"
        }
        if bad:
            offending[str(path.relative_to(TESTS))] = sorted(bad)
    assert offending == {}


def test_shared_helpers_are_in_support():
    helpers = {p.name for p in TESTS.glob("*.py")} - {"__init__.py", "conftest.py"}
    assert {name for name in helpers if not name.startswith("test_")} == set()


# ARCHITECTURE.md: a module past this says in its docstring why it is whole.
LONG_MODULE = 500
PACKAGES = ("blocks", "bot", "console", "handlers", "jobs", "petition", "storage", "bench")


def test_a_long_module_says_why_it_is_long():
    root = TESTS.parent
    unexplained = []
    for package in PACKAGES:
        for path in sorted((root / package).rglob("*.py")):
            if "versions" in path.parts:  # migrations: written once, never edited
                continue
            source = path.read_text()
            if source.count("\n") <= LONG_MODULE:
                continue
            docstring = ast.get_docstring(ast.parse(source)) or ""
            if "500 lines" not in docstring:
                unexplained.append(str(path.relative_to(root)))
    assert unexplained == []
