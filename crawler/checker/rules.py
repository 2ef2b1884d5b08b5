"""Which URLs to check: include and exclude patterns (regular expressions), as lychee has them.

A URL is *excluded* (its row says so, nothing is requested) when it matches no include
pattern and either include patterns are given or an exclude pattern matches it: includes
are an allow-list, excludes a deny-list, and an include wins over an exclude.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

from crawler.names import SETTINGS

if TYPE_CHECKING:
    from typing import Self

    from scrapy.settings import BaseSettings


def compile_patterns(value: object, name: str) -> tuple[re.Pattern[str], ...]:
    """The regular expressions ``value`` holds: one string, or a list of strings.

    A string is one pattern (never split on commas: ``a{1,3}`` is one regex); ``None`` or
    ``""`` is none. Raise ``ValueError`` naming ``name`` for a bad pattern.
    """
    if value is None or value == "":
        return ()
    texts = [value] if isinstance(value, str) else value
    if not isinstance(texts, (list, tuple)) or not all(isinstance(t, str) for t in texts):
        raise ValueError(f"{name} must be a regular expression or a list of them, got {value!r}")
    patterns = []
    for text in texts:
        try:
            patterns.append(re.compile(text))
        except re.error as e:
            raise ValueError(
                f"{name}: {text!r} is not a valid regular expression ({e}); "
                r"escape special characters, e.g. 'example\.com/private'"
            ) from None
    return tuple(patterns)


@dataclass(frozen=True, slots=True)
class UrlFilter:
    """Include and exclude patterns, matched anywhere in the URL as given (``re.search``)."""

    include: tuple[re.Pattern[str], ...] = ()
    exclude: tuple[re.Pattern[str], ...] = ()

    @classmethod
    def from_settings(
        cls, settings: BaseSettings, include: str | None = None, exclude: str | None = None
    ) -> Self:
        """``CRAWLER_INCLUDE``/``CRAWLER_EXCLUDE``, plus one pattern each from the arguments."""
        return cls(
            include=compile_patterns(
                settings.get("CRAWLER_INCLUDE", SETTINGS["CRAWLER_INCLUDE"]), "CRAWLER_INCLUDE"
            )
            + compile_patterns(include, "include"),
            exclude=compile_patterns(
                settings.get("CRAWLER_EXCLUDE", SETTINGS["CRAWLER_EXCLUDE"]), "CRAWLER_EXCLUDE"
            )
            + compile_patterns(exclude, "exclude"),
        )

    def reason(self, url: str) -> str | None:
        """Why ``url`` is excluded, or ``None`` when it is to be checked."""
        if self.include and any(pattern.search(url) for pattern in self.include):
            return None
        for pattern in self.exclude:
            if pattern.search(url):
                return f"excluded: matches exclude pattern '{pattern.pattern}'"
        if self.include:
            return "excluded: matches no include pattern"
        return None
