"""A run's summary, built row by row in bounded memory: outcomes, hosts, timing percentiles.

Percentiles come from a DDSketch (``ddsketch``, 1 % relative accuracy), so memory does not
grow with the number of rows; what grows is one counter per host. The slowest URLs and a few
failures per outcome are kept as examples, each list bounded.
"""

from __future__ import annotations

import heapq
import itertools
import math
from collections import Counter
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from ddsketch import DDSketch

from crawler.urls import authority_of

PHASES = ("queue_ms", "dns_ms", "connect_ms", "tls_ms", "ttfb_ms", "download_ms", "total_ms")
"""Timing fields summarised, in the order of a download."""
PERCENTILES = (50, 90, 99)
RELATIVE_ACCURACY = 0.01
"""A percentile is within 1 % of a value at that rank."""

UNREACHABLE = ("dns", "refused")
"""Outcomes of a URL whose host could not be reached at all."""

_USED = ("url", "outcome", "ok", "status", "error", "attempts", "redirects", "retry_after", *PHASES)
_STEPS = (1.0, 2.0, 5.0)
_LOWEST_BIN = -9  # 0.001 ms; anything shorter (0.0 included) falls in the first bin


def _bin(ms: float) -> int:
    """Index of the 1-2-5 bin of ``ms``: ... [1, 2), [2, 5), [5, 10), [10, 20) ..."""
    if ms < 0.001:
        return _LOWEST_BIN
    decade = math.floor(math.log10(ms))
    mantissa = ms / 10.0**decade
    step = 0 if mantissa < 2 else 1 if mantissa < 5 else 2
    return max(_LOWEST_BIN, 3 * decade + step)


def _bin_edge(index: int) -> float:
    return round(10.0 ** (index // 3) * _STEPS[index % 3], 6)


def _number(value: Any) -> float | None:
    """A number from a row cell: JSON numbers, CSV strings, empty for none."""
    if value is None or value == "" or isinstance(value, bool):
        return None
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def _int(value: float | None) -> int | None:
    return None if value is None else int(value)


def _flag(value: Any) -> bool | None:
    if isinstance(value, bool) or value is None:
        return value
    text = str(value).strip().lower()
    return True if text == "true" else False if text == "false" else None


def host_of(url: str) -> str:
    """``host`` or ``host:port`` of ``url``; ``(none)`` when it has none."""
    return authority_of(url) or "(none)"


def format_ms(value: float) -> str:
    """``12.3``, ``1,234``, ``0.42``: three significant digits or so, never an exponent."""
    if value >= 100:
        return f"{value:,.0f}"
    if value >= 10:
        return f"{value:.1f}"
    return f"{value:.2f}"


def status_class(status: float | None) -> str:
    """``2xx`` … ``5xx``, or ``none`` without a response."""
    return f"{int(status) // 100}xx" if status is not None else "none"


class PhaseSummary:
    """Count, exact min/max/mean, sketched percentiles and 1-2-5 histogram of one phase."""

    def __init__(self) -> None:
        self.sketch = DDSketch(RELATIVE_ACCURACY)
        self.bins: Counter[int] = Counter()
        self.count = 0
        self.min = math.inf
        self.max = -math.inf

    def add(self, ms: float) -> None:
        """Record one duration in milliseconds."""
        self.sketch.add(ms)
        self.bins[_bin(ms)] += 1
        self.count += 1
        self.min = min(self.min, ms)
        self.max = max(self.max, ms)

    def percentile(self, p: float) -> float | None:
        """The value at percentile ``p`` (0-100), within 1 %; ``None`` when empty."""
        value = self.sketch.get_quantile_value(p / 100)
        return None if value is None else round(float(value), 3)

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready figures; the histogram lists ``{lo, hi, count}`` bins in order."""
        if not self.count:
            return {"count": 0}
        figures: dict[str, Any] = {
            "count": self.count,
            "min": round(self.min, 3),
            "mean": round(self.sketch.sum / self.count, 3),
            "max": round(self.max, 3),
        }
        for p in PERCENTILES:
            figures[f"p{p}"] = self.percentile(p)
        low, high = min(self.bins), max(self.bins)
        figures["histogram"] = [
            {
                "lo": 0.0 if index == _LOWEST_BIN else _bin_edge(index),
                "hi": _bin_edge(index + 1),
                "count": self.bins.get(index, 0),
            }
            for index in range(low, high + 1)
        ]
        return figures


class RunSummary:
    """Figures of a run, from its rows (items or export rows), in bounded memory.

    ``slowest``: how many of the slowest URLs to keep; ``examples``: how many failures to
    keep per outcome (the counts are always complete).
    """

    def __init__(self, *, slowest: int = 10, examples: int = 20) -> None:
        self.slowest_kept = slowest
        self.examples_kept = examples
        self.rows = 0
        self.ok = 0
        self.not_ok = 0
        self.outcomes: Counter[str] = Counter()
        self.status_classes: Counter[str] = Counter()
        self.hosts: dict[str, Counter[str]] = {}
        self.phases = {phase: PhaseSummary() for phase in PHASES}
        self.retried_urls = 0
        self.retries = 0
        self.redirects = 0
        self.retry_after_rows = 0
        self._slowest: list[tuple[float, int, dict[str, Any]]] = []
        self._failures: dict[str, list[dict[str, Any]]] = {}
        self._order = itertools.count()

    def add(self, row: Any) -> None:
        """Count one row: a :class:`~crawler.items.UrlResult` or a mapping (export row)."""
        data: Mapping[str, Any] = (
            row if isinstance(row, Mapping) else {name: getattr(row, name) for name in _USED}
        )
        url = str(data.get("url") or "")
        outcome = str(data.get("outcome") or "unknown")
        ok = _flag(data.get("ok"))
        status = _number(data.get("status"))
        self.rows += 1
        self.outcomes[outcome] += 1
        self.status_classes[status_class(status)] += 1
        host = self.hosts.setdefault(host_of(url), Counter())
        host["rows"] += 1
        if ok is True:
            self.ok += 1
            host["ok"] += 1
        elif ok is False:
            self.not_ok += 1
            host["not_ok"] += 1
            self._keep_failure(outcome, url, status, data.get("error"))
        timings = {phase: _number(data.get(phase)) for phase in PHASES}
        for phase, ms in timings.items():
            if ms is not None:
                self.phases[phase].add(ms)
        self._count_retries(data)
        total = timings["total_ms"]
        if total is None or not self.slowest_kept:
            return
        full = len(self._slowest) >= self.slowest_kept
        if full and total <= self._slowest[0][0]:
            return  # most rows: not among the slowest, nothing to build
        slow = {"url": url, "outcome": outcome, "status": _int(status), **timings}
        entry = (total, -next(self._order), slow)
        if full:
            heapq.heapreplace(self._slowest, entry)
        else:
            heapq.heappush(self._slowest, entry)

    def _count_retries(self, data: Mapping[str, Any]) -> None:
        attempts = _number(data.get("attempts"))
        redirects = _number(data.get("redirects")) or 0
        self.redirects += int(redirects)
        if attempts is not None and attempts - 1 - redirects > 0:
            self.retried_urls += 1
            self.retries += int(attempts - 1 - redirects)
        if _number(data.get("retry_after")) is not None:
            self.retry_after_rows += 1

    def _keep_failure(self, outcome: str, url: str, status: float | None, error: Any) -> None:
        examples = self._failures.setdefault(outcome, [])
        if len(examples) < self.examples_kept:
            examples.append({"url": url, "status": _int(status), "error": error or None})

    @property
    def success_rate(self) -> float | None:
        """Share of judged rows (ok or not; duplicates are neither) that are ok."""
        judged = self.ok + self.not_ok
        return round(self.ok / judged, 4) if judged else None

    def slowest(self) -> list[dict[str, Any]]:
        """The slowest URLs by ``total_ms``, slowest first."""
        return [entry for _, _, entry in sorted(self._slowest, reverse=True)]

    def as_dict(self, stats: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """The summary as JSON-ready data; ``stats`` (a run's) adds Retry-After waits."""
        stats = stats or {}
        failures = {
            outcome: {"count": self.outcomes[outcome], "examples": examples}
            for outcome, examples in sorted(
                self._failures.items(), key=lambda item: -self.outcomes[item[0]]
            )
        }
        return {
            "generated_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "rows": self.rows,
            "ok": self.ok,
            "not_ok": self.not_ok,
            "success_rate": self.success_rate,
            "outcomes": dict(self.outcomes.most_common()),
            "status_classes": dict(sorted(self.status_classes.items())),
            "hosts": {
                host: {"rows": c["rows"], "ok": c["ok"], "not_ok": c["not_ok"]}
                for host, c in sorted(self.hosts.items(), key=lambda item: -item[1]["rows"])
            },
            "phases": {phase: summary.as_dict() for phase, summary in self.phases.items()},
            "slowest": self.slowest(),
            "retries": {
                "retried_urls": self.retried_urls,
                "retries": self.retries,
                "redirects": self.redirects,
                "retry_after_rows": self.retry_after_rows,
                "backoffs": stats.get("crawler/politeness/backoff_count"),
                "gave_up": stats.get("retry/max_reached"),
            },
            "failures": failures,
        }


def log_lines(summary: Mapping[str, Any], *, hosts: int = 5) -> list[str]:
    """A few terse lines for the log, from :meth:`RunSummary.as_dict`."""
    rate = summary["success_rate"]
    outcomes = ", ".join(f"{name} {count}" for name, count in summary["outcomes"].items())
    lines = [
        f"Summary: {summary['rows']} rows, {summary['ok']} ok, {summary['not_ok']} not ok"
        + (f" ({rate:.1%} ok)" if rate is not None else "")
        + (f"; {outcomes}" if outcomes else ""),
        "Status classes: "
        + ", ".join(f"{name} {count}" for name, count in summary["status_classes"].items()),
    ]
    reason = (summary.get("run") or {}).get("finish_reason")
    if reason not in (None, "finished"):
        lines.append(f"Stopped before the end: {reason} (finish reason)")
    unreachable = sum(summary["outcomes"].get(outcome, 0) for outcome in UNREACHABLE)
    if summary["rows"] and unreachable == summary["rows"]:
        lines.append(
            "No URL could be reached (DNS or connection refused): "
            "is this machine offline, or does it need a proxy (HTTPS_PROXY)?"
        )
    timed = [
        f"{phase.removesuffix('_ms')} " + "/".join(format_ms(figures[f"p{p}"]) for p in PERCENTILES)
        for phase, figures in summary["phases"].items()
        if figures["count"]
    ]
    if timed:
        lines.append("Timing p50/p90/p99 ms: " + ", ".join(timed))
    top = list(summary["hosts"].items())[:hosts]
    if top:
        more = len(summary["hosts"]) - len(top)
        lines.append(
            "Hosts: "
            + ", ".join(f"{host} {c['rows']} ({c['not_ok']} not ok)" for host, c in top)
            + (f", {more} more" if more > 0 else "")
        )
    if summary["slowest"]:
        slowest = summary["slowest"][0]
        lines.append(f"Slowest: {format_ms(slowest['total_ms'])} ms {slowest['url']}")
    retries = summary["retries"]
    if retries["retries"] or retries["backoffs"]:
        lines.append(
            f"Retries: {retries['retries']} on {retries['retried_urls']} URLs"
            + (f", {retries['backoffs']} host backoffs" if retries["backoffs"] else "")
        )
    return lines
