"""SLO gates: ``ttfb_ms<500,total_ms<2000`` turns an accepted but slow URL into a ``slow`` row.

Thresholds come from ``CRAWLER_SLO`` (or the spider argument ``-a slo=…``) for the whole run,
and from ``CRAWLER_SLO_HOSTS`` (``{"host": "total_ms<5000"}``) per host; a host's thresholds
replace the run's for the same metric and keep the others.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from crawler.checker.outcomes import Outcome
from crawler.names import SETTINGS
from crawler.urls import authority_of, host_of

if TYPE_CHECKING:
    from collections.abc import Mapping
    from typing import Self

    from scrapy.settings import BaseSettings

    from crawler.items import UrlResult

METRICS = ("queue_ms", "dns_ms", "connect_ms", "tls_ms", "ttfb_ms", "download_ms", "total_ms")
"""The row fields an SLO can bound (milliseconds)."""

_THRESHOLD = re.compile(r"^\s*([a-z_]+)\s*(<=|<)\s*([0-9]+(?:\.[0-9]*)?)\s*(?:ms)?\s*$")
_HINT = "write METRIC<MS pairs like 'ttfb_ms<500,total_ms<2000' (metrics: " + ", ".join(METRICS)


@dataclass(frozen=True, slots=True)
class Threshold:
    """``metric < limit`` (or ``<=`` when ``inclusive``), in milliseconds."""

    metric: str
    limit: float
    inclusive: bool = False

    def met_by(self, value: float) -> bool:
        """Whether ``value`` (ms) keeps within the threshold."""
        return value <= self.limit if self.inclusive else value < self.limit

    def __str__(self) -> str:
        return f"{self.metric}{'<=' if self.inclusive else '<'}{self.limit:g}"


@dataclass(frozen=True, slots=True)
class Slo:
    """Thresholds every accepted row must meet, at most one per metric."""

    thresholds: tuple[Threshold, ...]

    @classmethod
    def parse(cls, text: str, *, name: str = "CRAWLER_SLO") -> Self:
        """Parse ``"ttfb_ms<500,total_ms<=2000"``; ``ValueError`` names ``name`` and the fix."""
        by_metric: dict[str, Threshold] = {}
        for part in text.split(","):
            if not part.strip():
                continue
            match = _THRESHOLD.match(part)
            if match is None:
                raise ValueError(f"{name}: cannot read {part.strip()!r}; {_HINT})")
            metric, operator, limit = match.groups()
            if not metric.endswith("_ms"):
                metric += "_ms"  # ``ttfb<500`` means ``ttfb_ms<500``
            if metric not in METRICS:
                raise ValueError(f"{name}: unknown metric {match.group(1)!r}; {_HINT})")
            by_metric[metric] = Threshold(metric, float(limit), operator == "<=")
        if not by_metric:
            raise ValueError(f"{name} is empty; {_HINT})")
        return cls(tuple(by_metric.values()))

    def merged(self, override: Slo) -> Slo:
        """These thresholds with ``override``'s replacing those of the same metric."""
        by_metric = {t.metric: t for t in self.thresholds}
        by_metric.update({t.metric: t for t in override.thresholds})
        return Slo(tuple(by_metric.values()))

    def breach(self, row: UrlResult) -> str | None:
        """Why ``row`` misses the SLO (one line), or ``None`` when it meets it."""
        for threshold in self.thresholds:
            value = getattr(row, threshold.metric)
            if value is not None and not threshold.met_by(value):
                return f"slow: {threshold.metric} {value:g} ms, SLO {threshold}"
        return None

    def __str__(self) -> str:
        return ",".join(str(t) for t in self.thresholds)


@dataclass(frozen=True, slots=True)
class SloPolicy:
    """The run's SLO and the per-host ones; :meth:`apply` marks rows that miss theirs."""

    default: Slo | None = None
    hosts: Mapping[str, Slo] = field(default_factory=dict)

    @classmethod
    def from_settings(cls, settings: BaseSettings) -> Self:
        """Read ``CRAWLER_SLO`` and ``CRAWLER_SLO_HOSTS``; ``ValueError`` for bad values."""
        text = settings.get("CRAWLER_SLO", SETTINGS["CRAWLER_SLO"]) or ""
        if not isinstance(text, str):
            raise ValueError(f"CRAWLER_SLO must be a string like 'ttfb_ms<500', got {text!r}")
        raw_hosts = settings.getdict("CRAWLER_SLO_HOSTS", SETTINGS["CRAWLER_SLO_HOSTS"])
        hosts = {
            str(host).lower(): Slo.parse(str(value), name=f"CRAWLER_SLO_HOSTS[{host!r}]")
            for host, value in raw_hosts.items()
        }
        return cls(Slo.parse(text) if text.strip() else None, hosts)

    def with_default(self, default: Slo | None) -> SloPolicy:
        """This policy with ``default`` (e.g. the spider's ``slo`` argument) for the run."""
        return self if default is None else SloPolicy(default, self.hosts)

    def for_url(self, url: str) -> Slo | None:
        """The SLO of ``url``: its host's (``host:port`` or ``host``) over the run's."""
        if not self.hosts:
            return self.default
        override = self.hosts.get(authority_of(url) or "") or self.hosts.get(host_of(url) or "")
        if override is None:
            return self.default
        return override if self.default is None else self.default.merged(override)

    def __bool__(self) -> bool:
        return self.default is not None or bool(self.hosts)

    def apply(self, row: UrlResult) -> bool:
        """Turn an accepted ``row`` that misses its SLO into a ``slow`` one; ``True`` if so."""
        if row.ok is not True or not self:
            return False
        slo = self.for_url(row.url)
        reason = slo.breach(row) if slo is not None else None
        if reason is None:
            return False
        row.ok, row.outcome, row.error = False, Outcome.SLOW, reason
        return True
