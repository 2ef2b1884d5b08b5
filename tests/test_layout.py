"""The house rules the code keeps: imports go one way, and modules say what they are."""

from __future__ import annotations

import ast
from typing import TYPE_CHECKING

from tests._scrapy import PROJECT_ROOT

if TYPE_CHECKING:
    from pathlib import Path

PACKAGE = PROJECT_ROOT / "crawler"
WIRING = {PACKAGE / "addon.py"}
"""The add-on wires the project's Scrapy components into any project: it may name them."""


def _imported(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            names.add(node.module)
    return names


def test_crawler_never_imports_middlewares_but_for_the_add_on() -> None:
    upward = {
        str(path.relative_to(PROJECT_ROOT)): sorted(
            name for name in _imported(path) if name.split(".")[0] in ("middlewares", "spiders")
        )
        for path in PACKAGE.rglob("*.py")
        if path not in WIRING
    }
    assert {path: names for path, names in upward.items() if names} == {}


def test_middlewares_hold_scrapy_components_and_import_only_the_package() -> None:
    for path in (PROJECT_ROOT / "middlewares").glob("*.py"):
        assert not {name for name in _imported(path) if name.split(".")[0] == "spiders"}, path


def test_no_private_module_inside_the_package() -> None:
    private = [
        str(path.relative_to(PROJECT_ROOT))
        for path in PACKAGE.rglob("_*.py")
        if path.name != "__init__.py"
    ]
    assert private == []  # a package's __init__ says what is public, not an underscore


KEPT_WORDS = {
    ("crawler/checker/cache.py", "ok"): "SQLite's PRAGMA quick_check answer",
    ("crawler/checker/hosts.py", "timeout"): "a key of a CRAWLER_HOSTS entry",
    ("crawler/site/extract.py", "robots"): "the name of <meta name=robots>",
    ("crawler/handler/timing_stats.py", "dns"): "a timing phase",
    ("crawler/handler/timing_stats.py", "tls"): "a timing phase",
    ("crawler/handler/body.py", "dataloss"): "Scrapy's response flag",
    ("crawler/output/summary.py", "ok"): "the row's ok field, among the fields read",
    ("crawler/output/report/markdown.py", "ok"): "a column heading",
}
"""Strings that spell an outcome but mean another thing, and what."""


def _field_names(tree: ast.AST) -> set[int]:
    """Ids of constants used as a mapping key: ``row["ok"]``, ``{"ok": …}``, ``.get("ok")``."""
    ids: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Subscript):
            ids.add(id(node.slice))
        elif isinstance(node, ast.Dict):
            ids.update(id(key) for key in node.keys if key is not None)
        elif (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr == "get"
            and node.args
        ):
            ids.add(id(node.args[0]))
    return ids


def test_outcomes_are_named_by_the_outcome_type_not_spelt_out() -> None:
    from crawler.checker.outcomes import Outcome

    values = {str(outcome) for outcome in Outcome}
    spelt = []
    for path in [*PACKAGE.rglob("*.py"), *(PROJECT_ROOT / "middlewares").glob("*.py")]:
        where = str(path.relative_to(PROJECT_ROOT))
        if where == "crawler/checker/outcomes.py":
            continue
        tree = ast.parse(path.read_text(), where)
        keys = _field_names(tree)
        spelt += [
            f"{where}:{node.lineno} {node.value!r}"
            for node in ast.walk(tree)
            if isinstance(node, ast.Constant)
            and node.value in values
            and id(node) not in keys
            and (where, node.value) not in KEPT_WORDS
        ]
    assert spelt == []  # write Outcome.X: one home for every outcome and its decisions
