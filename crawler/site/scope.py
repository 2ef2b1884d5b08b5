"""Which pages a site crawl parses: those on the seeds' hosts, widened by ``allow`` and
narrowed by ``deny`` (``docs/site.md``, "Seeds and scope")."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from crawler.checker.rules import compile_patterns
from crawler.urls import host_of

if TYPE_CHECKING:
    import re
    from typing import Self


@dataclass(slots=True)
class Scope:
    """A URL is in scope when it is on a seed's host or matches ``allow``, and does not
    match ``deny`` (patterns searched anywhere in the URL, as ``include``/``exclude``)."""

    allow: tuple[re.Pattern[str], ...] = ()
    deny: tuple[re.Pattern[str], ...] = ()
    hosts: set[str] = field(default_factory=set)
    """The seeds' hosts."""

    @classmethod
    def parse(cls, allow: str | None, deny: str | None) -> Self:
        """``ValueError`` (one line, naming the argument) for a bad regular expression."""
        return cls(compile_patterns(allow, "allow"), compile_patterns(deny, "deny"))

    def add_seed(self, url: str) -> None:
        """Put the host of the seed ``url`` in scope."""
        if host := host_of(url):
            self.hosts.add(host)

    def __contains__(self, url: object) -> bool:
        if not isinstance(url, str):
            return False
        if any(pattern.search(url) for pattern in self.deny):
            return False
        return host_of(url) in self.hosts or any(pattern.search(url) for pattern in self.allow)
