"""The house rules the code keeps: imports go one way, and modules say what they are."""

from __future__ import annotations

import ast
from pathlib import Path

from tests._scrapy import PROJECT_ROOT

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
