"""A run's summary, built row by row in bounded memory: outcomes, hosts, timing percentiles.

Percentiles are exact while a phase holds at most :data:`EXACT_VALUES` values and come from
a DDSketch (``ddsketch``, 1 % relative accuracy) beyond, so memory does not grow with the
number of rows; what grows is one counter per host. The slowest accepted URLs are kept in a
bounded list; every failing row goes to a temporary file, which the reports read back.
"""

from __future__ import annotations

import heapq
import itertools
import json
import math
import operator
import tempfile
from array import array
from bisect import bisect_right
from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from datetime import UTC, datetime
from typing import IO, TYPE_CHECKING, Any, NamedTuple, overload

from crawler.checker.outcomes import UNREACHABLE
from crawler.urls import authority_of

if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Self

    from ddsketch import DDSketch

PHASES = ("queue_ms", "dns_ms", "connect_ms", "tls_ms", "ttfb_ms", "download_ms", "total_ms")
"""Timing fields summarised, in the order of a download."""
PERCENTILES = (50, 90, 99)
RELATIVE_ACCURACY = 0.01
"""Beyond :data:`EXACT_VALUES`, a percentile is within 1 % of a value at that rank."""
EXACT_VALUES = 100_000
"""Up to this many values a phase keeps them all and its percentiles are exact."""
ERROR_CHARS = 1000
"""How much of a failing row's ``error`` the reports show."""


class _Used(NamedTuple):
    """The cells of a row that the summary reads, as the row holds them."""

    url: Any
    source: Any
    line: Any
    outcome: Any
    ok: Any
    status: Any
    error: Any
    attempts: Any
    redirects: Any
    retry_after: Any
    queue_ms: Any
    dns_ms: Any
    connect_ms: Any
    tls_ms: Any
    ttfb_ms: Any
    download_ms: Any
    total_ms: Any

    @classmethod
    def of(cls, row: Any) -> _Used:
        """The cells of ``row``: a :class:`~crawler.items.UrlResult` or a mapping."""
        if isinstance(row, Mapping):
            return cls._make(row.get(name) for name in cls._fields)
        return cls._make(_used_attributes(row))


_used_attributes = operator.attrgetter(*_Used._fields)
_TIMINGS = _Used._fields.index(PHASES[0])
"""Where the phases start among the cells (in the order of :data:`PHASES`)."""
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
    if type(value) is float:  # most cells: what float() would return
        return value
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


class SortedRuns(Sequence[float]):
    """``values`` in ascending order, read by rank, without a sorted copy of them all.

    A list of floats costs four times the values' ``array``: sorted runs of :data:`RUN`
    values each, kept as arrays, make the copy, and a rank is found by bisecting them.
    """

    RUN = 4096

    def __init__(self, values: Sequence[float]) -> None:
        self._runs = [
            array("d", sorted(values[start : start + self.RUN]))
            for start in range(0, len(values), self.RUN)
        ]
        self._length = len(values)

    def __len__(self) -> int:
        return self._length

    def counts(self, key: Callable[[float], int]) -> Counter[int]:
        """How many values give each ``key``, for a ``key`` that never decreases as the value
        grows: a few bisections of each run per key, not a call per value."""
        counts: Counter[int] = Counter()
        for run in self._runs:
            start, end = 0, len(run)
            while start < end:
                group = key(run[start])
                stop = bisect_right(run, group, start, end, key=key)
                counts[group] += stop - start
                start = stop
        return counts

    def _at_or_below(self, value: float) -> int:
        return sum(bisect_right(run, value) for run in self._runs)

    @overload
    def __getitem__(self, rank: int) -> float: ...
    @overload
    def __getitem__(self, rank: slice) -> Sequence[float]: ...
    def __getitem__(self, rank: int | slice) -> float | Sequence[float]:
        if isinstance(rank, slice):
            return [self[index] for index in range(*rank.indices(self._length))]
        if rank < 0:
            rank += self._length
        if not 0 <= rank < self._length:
            raise IndexError(rank)
        if len(self._runs) == 1:
            return self._runs[0][rank]
        found = math.inf  # the least value with more than `rank` values at or below it
        for run in self._runs:
            low, high = 0, len(run)
            while low < high:
                middle = (low + high) // 2
                if self._at_or_below(run[middle]) > rank:
                    high = middle
                else:
                    low = middle + 1
            if low < len(run):
                found = min(found, run[low])
        return found


def exact_percentile(ordered: Sequence[float], p: float) -> float:
    """Percentile ``p`` (0-100) of the sorted ``ordered``, linearly interpolated between ranks."""
    position = p / 100 * (len(ordered) - 1)
    below = math.floor(position)
    above = min(below + 1, len(ordered) - 1)
    return ordered[below] + (ordered[above] - ordered[below]) * (position - below)


class PhaseSummary:
    """Count, exact min/max/mean, percentiles and 1-2-5 histogram of one phase.

    The percentiles are exact up to ``exact`` values (all kept) and sketched beyond. While
    the values are kept, every figure comes from them when asked for (:meth:`as_dict`), so
    a row costs an append; the sketch, histogram, min and max are kept only beyond.
    """

    def __init__(self, exact: int = EXACT_VALUES) -> None:
        self._sketch: DDSketch | None = None
        self.values: array[float] | None = array("d")
        self.exact = exact
        self.count = 0
        self._bins: Counter[int] = Counter()
        self._min = math.inf
        self._max = -math.inf

    def add(self, ms: float) -> None:
        """Record one duration in milliseconds."""
        self.count += 1
        values = self.values
        if values is not None:
            if len(values) < self.exact:
                values.append(ms)
                return
            self.values = None  # too many to keep: the sketch answers from now on
            for kept in values:
                self._record(kept)
        self._record(ms)

    @property
    def sketch(self) -> DDSketch:
        """The sketch of a phase with more than ``exact`` values, built when first needed."""
        if self._sketch is None:
            from ddsketch import DDSketch  # a phase with fewer values never imports it

            self._sketch = DDSketch(RELATIVE_ACCURACY)
        return self._sketch

    def _record(self, ms: float) -> None:
        self.sketch.add(ms)
        self._bins[_bin(ms)] += 1
        self._min = min(self._min, ms)
        self._max = max(self._max, ms)

    def percentile(self, p: float) -> float | None:
        """The value at percentile ``p`` (0-100), exact or within 1 %; ``None`` when empty."""
        if not self.count:
            return None
        if self.values is not None:
            return round(exact_percentile(SortedRuns(self.values), p), 3)
        value = self.sketch.get_quantile_value(p / 100)
        return None if value is None else round(float(value), 3)

    @property
    def exact_percentiles(self) -> bool:
        """Whether :meth:`percentile` is exact (every value kept)."""
        return self.values is not None

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready figures; the histogram lists ``{lo, hi, count}`` bins in order."""
        if not self.count:
            return {"count": 0}
        values = self.values
        ordered: SortedRuns | None = None
        if values is not None:
            ordered = SortedRuns(values)
            total = 0.0
            for ms in values:  # added in order, as the sketch would: the same sum
                total += ms
            low, high = min(values), max(values)
            # binned by bisecting the sorted runs (a bin's values are next to each other):
            # a Counter of the values would hold a float and an entry for each distinct one,
            # the run's memory peak at the end of a long run
            bins = ordered.counts(_bin)
        else:
            total, low, high, bins = self.sketch.sum, self._min, self._max, self._bins
        figures: dict[str, Any] = {
            "count": self.count,
            "min": round(low, 3),
            "mean": round(total / self.count, 3),
            "max": round(high, 3),
            "exact": self.exact_percentiles,
        }
        for p in PERCENTILES:
            figures[f"p{p}"] = (
                round(exact_percentile(ordered, p), 3) if ordered else self.percentile(p)
            )
        figures["histogram"] = [
            {
                "lo": 0.0 if index == _LOWEST_BIN else _bin_edge(index),
                "hi": _bin_edge(index + 1),
                "count": bins.get(index, 0),
            }
            for index in range(min(bins), max(bins) + 1)
        ]
        return figures


class RunSummary:
    """Figures of a run, from its rows (items or export rows), in bounded memory.

    ``slowest``: how many of the slowest accepted URLs to keep; ``examples``: how many
    failures per outcome the summary's ``failures`` lists (the counts are always complete,
    and :meth:`failing_rows` gives every failing row). :meth:`close` removes the temporary
    file of the failing rows.
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
        self._phases = tuple(self.phases.values())
        self.retried_urls = 0
        self.retries = 0
        self.redirects = 0
        self.retry_after_rows = 0
        self._slowest: list[tuple[float, int, dict[str, Any]]] = []
        self._failures: dict[str, list[dict[str, Any]]] = {}
        self._failing_counts: Counter[str] = Counter()
        self._failing_file: IO[str] | None = None
        self._order = itertools.count()

    def add(self, row: Any) -> None:
        """Count one row: a :class:`~crawler.items.UrlResult` or a mapping (export row)."""
        data = _Used.of(row)
        url = str(data.url or "")
        outcome = str(data.outcome or "unknown")
        ok = _flag(data.ok)
        status = _number(data.status)
        self.rows += 1
        self.outcomes[outcome] += 1
        self.status_classes[status_class(status)] += 1
        host_name = host_of(url)
        host = self.hosts.get(host_name)
        if host is None:
            host = self.hosts[host_name] = Counter()
        host["rows"] += 1
        if ok is True:
            self.ok += 1
            host["ok"] += 1
        elif ok is False:
            self.not_ok += 1
            host["not_ok"] += 1
            self._keep_failure(data, outcome, url, status)
        timings = [  # a result row's are floats or None already: no call for them
            ms if ms is None or type(ms) is float else _number(ms) for ms in data[_TIMINGS:]
        ]
        for phase, ms in zip(self._phases, timings, strict=True):
            if ms is not None:
                phase.add(ms)
        self._count_retries(data)
        total = timings[-1]
        if total is None or ok is not True or not self.slowest_kept:
            return
        full = len(self._slowest) >= self.slowest_kept
        if full and total <= self._slowest[0][0]:
            return  # most rows: not among the slowest, nothing to build
        slow: dict[str, Any] = {"url": url, "outcome": outcome, "status": _int(status)}
        slow.update(zip(PHASES, timings, strict=True))
        entry = (total, -next(self._order), slow)
        if full:
            heapq.heapreplace(self._slowest, entry)
        else:
            heapq.heappush(self._slowest, entry)

    def _count_retries(self, data: _Used) -> None:
        attempts = _number(data.attempts)
        redirects = _number(data.redirects) or 0
        self.redirects += int(redirects)
        if attempts is not None and attempts - 1 - redirects > 0:
            self.retried_urls += 1
            self.retries += int(attempts - 1 - redirects)
        if _number(data.retry_after) is not None:
            self.retry_after_rows += 1

    def _keep_failure(self, data: _Used, outcome: str, url: str, status: float | None) -> None:
        error = data.error
        failure = {
            "url": url,
            "source": str(data.source or ""),
            "line": _int(_number(data.line)),
            "outcome": outcome,
            "status": _int(status),
            "error": str(error)[:ERROR_CHARS] if error else None,
        }
        self._failing_counts[outcome] += 1
        examples = self._failures.setdefault(outcome, [])
        if len(examples) < self.examples_kept:
            examples.append(failure)
        if self._failing_file is None:
            self._failing_file = tempfile.TemporaryFile(  # noqa: SIM115 (closed in close())
                "w+", encoding="utf-8", errors="surrogatepass", prefix="crawler-failures-"
            )
        self._failing_file.write(json.dumps(failure, ensure_ascii=False) + "\n")

    def failing_rows(self, outcome: str | None = None) -> Iterator[dict[str, Any]]:
        """Every failing row counted so far (of ``outcome``, or all), in the order added.

        Each is ``{url, source, line, outcome, status, error}`` (``error`` cut to
        :data:`ERROR_CHARS`). Read from the temporary file: do not :meth:`add` meanwhile.
        """
        stream = self._failing_file
        if stream is None:
            return
        stream.flush()
        stream.seek(0)
        try:
            for line in stream:
                failure: dict[str, Any] = json.loads(line)
                if outcome is None or failure["outcome"] == outcome:
                    yield failure
        finally:
            stream.seek(0, 2)

    def close(self) -> None:
        """Remove the temporary file of the failing rows."""
        if self._failing_file is not None:
            self._failing_file.close()
            self._failing_file = None

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    @property
    def success_rate(self) -> float | None:
        """Share of judged rows (ok or not; duplicates are neither) that are ok."""
        judged = self.ok + self.not_ok
        return round(self.ok / judged, 4) if judged else None

    def slowest(self) -> list[dict[str, Any]]:
        """The slowest accepted URLs by ``total_ms``, slowest first."""
        return [entry for _, _, entry in sorted(self._slowest, reverse=True)]

    def as_dict(self, stats: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """The summary as JSON-ready data; ``stats`` (a run's) adds Retry-After waits."""
        stats = stats or {}
        failures = {
            outcome: {"count": self._failing_counts[outcome], "examples": examples}
            for outcome, examples in sorted(
                self._failures.items(), key=lambda item: -self._failing_counts[item[0]]
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
