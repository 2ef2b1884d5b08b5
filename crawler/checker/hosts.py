"""Per-host settings (``CRAWLER_HOSTS``): headers, concurrency, interval, timeout, accepted
statuses and check method for a host or a host pattern, lychee's ``[hosts]`` in Scrapy terms.

```python
CRAWLER_HOSTS = {
    "api.example.com": {"concurrency": 1, "interval": 2.0, "headers": {"Authorization": "..."}},
    "*.example.org": {"timeout": 10, "accept": "200..=299,403", "method": "head"},
}
```
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from fnmatch import fnmatchcase
from typing import TYPE_CHECKING, Any, Final

from scrapy.settings import SETTINGS_PRIORITIES

from crawler.checker.accept import StatusRanges
from crawler.checker.methods import CheckMethod, check_method

if TYPE_CHECKING:
    from typing import Self

    from scrapy.settings import BaseSettings

SETTING: Final = "CRAWLER_HOSTS"
KEYS: Final = ("concurrency", "interval", "timeout", "headers", "accept", "method")
_WILDCARDS: Final = frozenset("*?[")


def is_pattern(key: str) -> bool:
    """Whether ``key`` is a host pattern (``*``, ``?``, ``[...]``) rather than a host name."""
    return not _WILDCARDS.isdisjoint(key)


def _number(value: object, where: str, *, minimum: float, strict: bool) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValueError(f"{where} must be a number, got {value!r}")
    if value < minimum or (strict and value == minimum):
        raise ValueError(f"{where} must be {'>' if strict else '>='} {minimum:g}, got {value!r}")
    return float(value)


def _headers(value: object, where: str) -> tuple[tuple[str, str], ...]:
    if not isinstance(value, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in value.items()
    ):
        raise ValueError(f'{where} must map header names to strings, e.g. {{"User-Agent": "x"}}')
    return tuple(value.items())


@dataclass(frozen=True, slots=True)
class HostRule:
    """The settings of one ``CRAWLER_HOSTS`` entry; ``None`` leaves the global one."""

    key: str
    """The host name or pattern, lower case."""
    concurrency: int | None = None
    interval: float | None = None
    timeout: float | None = None
    headers: tuple[tuple[str, str], ...] = ()
    accept: StatusRanges | None = None
    method: CheckMethod | None = None

    @classmethod
    def parse(cls, key: object, value: object) -> Self:
        """One entry; ``ValueError`` naming the entry, the key and the fix."""
        if not isinstance(key, str) or not key.strip():
            raise ValueError(f"{SETTING}: {key!r} is not a host name or pattern")
        host = key.strip().lower()
        where = f"{SETTING}[{host!r}]"
        if not isinstance(value, dict):
            raise ValueError(f"{where} must be a dict of settings ({', '.join(KEYS)})")
        if unknown := sorted(set(value) - set(KEYS)):
            raise ValueError(f"{where}: unknown key {unknown[0]!r}; use {', '.join(KEYS)}")
        concurrency = value.get("concurrency")
        if concurrency is not None and (
            isinstance(concurrency, bool) or not isinstance(concurrency, int) or concurrency < 1
        ):
            raise ValueError(f"{where}['concurrency'] must be an integer >= 1, got {concurrency!r}")
        get = value.get
        return cls(
            key=host,
            concurrency=concurrency,
            interval=None
            if get("interval") is None
            else _number(get("interval"), f"{where}['interval']", minimum=0, strict=False),
            timeout=None
            if get("timeout") is None
            else _number(get("timeout"), f"{where}['timeout']", minimum=0, strict=True),
            headers=_headers(get("headers", {}), f"{where}['headers']"),
            accept=None
            if get("accept") is None
            else StatusRanges.parse(str(get("accept")), name=f"{where}['accept']"),
            method=None
            if get("method") is None
            else check_method(get("method"), name=f"{where}['method']"),
        )

    @property
    def slot(self) -> str | None:
        """The downloader slot of the hosts it matches, when it sets concurrency or interval.

        A host name's slot is the host (Scrapy's default slot); the hosts a pattern matches
        share the pattern's slot.
        """
        if self.concurrency is None and self.interval is None:
            return None
        return self.key

    def slot_settings(self) -> dict[str, Any]:
        """The ``DOWNLOAD_SLOTS`` entry of :attr:`slot` (an interval is exact: no jitter)."""
        settings: dict[str, Any] = {}
        if self.concurrency is not None:
            settings["concurrency"] = self.concurrency
        if self.interval is not None:
            settings.update(delay=self.interval, jitter=0.0)
        return settings


@dataclass(frozen=True, slots=True)
class HostTable:
    """Every ``CRAWLER_HOSTS`` entry; :meth:`match` finds the most specific one for a host."""

    exact: dict[str, HostRule] = field(default_factory=dict)
    patterns: tuple[HostRule, ...] = ()
    """Most specific (most literal characters) first."""

    @classmethod
    def from_settings(cls, settings: BaseSettings) -> Self:
        """Read ``CRAWLER_HOSTS`` (a dict, or JSON from ``-s``) and check every entry."""
        raw = settings.get(SETTING) or {}
        if isinstance(raw, str):
            try:
                raw = json.loads(raw)
            except ValueError as e:
                raise ValueError(f"{SETTING} is not valid JSON: {e}") from None
        if not isinstance(raw, dict):
            raise ValueError(f"{SETTING} must be a dict of host -> settings, got {raw!r}")
        rules = [HostRule.parse(key, value) for key, value in dict(raw).items()]
        exact = {rule.key: rule for rule in rules if not is_pattern(rule.key)}
        patterns = sorted(
            (rule for rule in rules if is_pattern(rule.key)),
            key=lambda rule: (-sum(c not in _WILDCARDS for c in rule.key), rule.key),
        )
        return cls(exact=exact, patterns=tuple(patterns))

    def __bool__(self) -> bool:
        return bool(self.exact or self.patterns)

    def match(self, host: str | None) -> HostRule | None:
        """The entry for ``host``: its exact entry, else the most specific matching pattern."""
        if not host or not self:
            return None
        host = host.lower()
        if rule := self.exact.get(host):
            return rule
        return next((rule for rule in self.patterns if fnmatchcase(host, rule.key)), None)

    def download_slots(self) -> dict[str, dict[str, Any]]:
        """``DOWNLOAD_SLOTS`` entries for the entries that set concurrency or interval."""
        rules = [*self.exact.values(), *self.patterns]
        return {rule.slot: rule.slot_settings() for rule in rules if rule.slot is not None}


def add_download_slots(settings: BaseSettings) -> None:
    """Add the ``CRAWLER_HOSTS`` slots to ``DOWNLOAD_SLOTS``; the project's own entries win."""
    slots = HostTable.from_settings(settings).download_slots()
    if not slots:
        return
    current = settings.getdict("DOWNLOAD_SLOTS")
    priority = settings.getpriority("DOWNLOAD_SLOTS") or 0
    spider_priority = SETTINGS_PRIORITIES["spider"]
    settings.set("DOWNLOAD_SLOTS", {**slots, **current}, priority=max(priority, spider_priority))
