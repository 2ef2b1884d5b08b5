"""The package's public names: sorted, complete, importable."""

from __future__ import annotations

import crawler


def test_all_is_sorted_and_importable() -> None:
    assert crawler.__all__ == sorted(
        crawler.__all__, key=str.casefold
    ) or crawler.__all__ == sorted(crawler.__all__)
    for name in crawler.__all__:
        assert getattr(crawler, name) is not None


def test_public_names_are_exported() -> None:
    public = {name for name in vars(crawler) if not name.startswith("_") and name[0].isupper()}
    assert public <= set(crawler.__all__)
