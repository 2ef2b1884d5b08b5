"""The summary as GitHub-flavoured Markdown, for CI job summaries (``$GITHUB_STEP_SUMMARY``)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from crawler.report._format import PHASE_LABELS, TOP_HOSTS, ms, percent, share

if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping, Sequence


def _cell(value: Any) -> str:
    text = "" if value is None else str(value)
    return " ".join(text.replace("|", "\\|").split())


def _table(header: Sequence[str], rows: Iterable[Sequence[Any]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(_cell(value) for value in row) + " |" for row in rows]
    return [*lines, ""]


def render_markdown(summary: Mapping[str, Any]) -> str:
    """Headline, outcomes, status classes, timing percentiles, hosts, slowest URLs, failures."""
    rows = summary["rows"]
    source = summary.get("run", {}).get("source")
    lines = [
        "# URL check report",
        "",
        f"**{rows}** rows: **{summary['ok']}** ok, **{summary['not_ok']}** not ok "
        f"(success rate {percent(summary['success_rate'])})"
        + (f", from `{source}`" if source else "")
        + ".",
        "",
        "## Outcomes",
        "",
        *_table(
            ("outcome", "rows", "share"),
            (
                (f"`{name}`", count, share(count, rows))
                for name, count in summary["outcomes"].items()
            ),
        ),
        "## Status classes",
        "",
        *_table(
            ("status", "rows", "share"),
            (
                (name, count, share(count, rows))
                for name, count in summary["status_classes"].items()
            ),
        ),
        "## Timing (ms)",
        "",
        *_table(
            ("phase", "count", "p50", "p90", "p99", "max"),
            (
                (
                    PHASE_LABELS[phase],
                    f["count"],
                    ms(f["p50"]),
                    ms(f["p90"]),
                    ms(f["p99"]),
                    ms(f["max"]),
                )
                for phase, f in summary["phases"].items()
                if f["count"]
            ),
        ),
    ]
    hosts = list(summary["hosts"].items())
    lines += ["## Hosts", ""]
    lines += _table(
        ("host", "rows", "ok", "not ok"),
        ((host, c["rows"], c["ok"], c["not_ok"]) for host, c in hosts[:TOP_HOSTS]),
    )
    if len(hosts) > TOP_HOSTS:
        lines += [f"… and {len(hosts) - TOP_HOSTS} more hosts.", ""]
    if summary["slowest"]:
        lines += ["## Slowest URLs", ""]
        lines += _table(
            ("total ms", "TTFB ms", "outcome", "URL"),
            (
                (ms(s["total_ms"]), ms(s["ttfb_ms"]), f"`{s['outcome']}`", s["url"])
                for s in summary["slowest"]
            ),
        )
    retries = summary["retries"]
    lines += [
        "## Retries",
        "",
        f"{retries['retries']} retries on {retries['retried_urls']} URLs, "
        f"{retries['redirects']} redirects followed"
        + (f", {retries['backoffs']} host backoffs" if retries.get("backoffs") else "")
        + ".",
        "",
    ]
    if summary["failures"]:
        lines += ["## Failures", ""]
        for outcome, group in summary["failures"].items():
            lines += [f"### `{outcome}` ({group['count']})", ""]
            lines += _table(
                ("URL", "status", "error"),
                ((e["url"], e["status"], e["error"]) for e in group["examples"]),
            )
            if group["count"] > len(group["examples"]):
                lines += [f"… and {group['count'] - len(group['examples'])} more.", ""]
    return "\n".join(lines)
