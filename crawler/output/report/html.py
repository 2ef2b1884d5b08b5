"""The summary as one self-contained HTML page: every failure first, then tables and charts.

CSS is inline and the SVG charts are drawn by an inline script; nothing is loaded from the
network. The page's script sets ``data-rendered="ok"`` (and
``data-charts``) on ``<html>`` once every chart is drawn; errors land in ``data-errors``.
"""

from __future__ import annotations

import json
from importlib.resources import files
from typing import TYPE_CHECKING, Any

from jinja2 import Environment, PackageLoader, select_autoescape
from markupsafe import Markup

from crawler.output.report.formatting import (
    PHASE_LABELS,
    TOP_HOSTS,
    by_page,
    ms,
    percent,
    share,
    where,
)

if TYPE_CHECKING:
    from collections.abc import Iterator, Mapping

    from crawler.output.report import FailingRows, PlacesRows

_TEMPLATES = files("crawler.output.report") / "templates"
CHART_DATA = ("phases", "slowest")
"""The parts of the summary the page's script draws (embedded as JSON)."""


def _environment() -> Environment:
    environment = Environment(
        loader=PackageLoader("crawler.output.report", "templates"),
        autoescape=select_autoescape(["html", "j2"]),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    environment.globals.update(
        ms=ms, percent=percent, share=share, where=where, labels=PHASE_LABELS
    )
    return environment


def _script_json(data: Mapping[str, Any]) -> Markup:
    """``data`` as JSON that cannot close the ``<script>`` element holding it."""
    text = json.dumps(data, ensure_ascii=False)
    return Markup(text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026"))


def stream_html(
    summary: Mapping[str, Any], failing: FailingRows, places: PlacesRows | None = None
) -> Iterator[str]:
    """The report page for ``summary``, its ``failing`` rows and ``places`` (a site crawl's
    broken links by page), in pieces."""
    hosts = list(summary["hosts"].items())
    template = _environment().get_template("report.html.j2")
    return template.generate(
        s=summary,
        failing=failing,
        pages=None if places is None else by_page(places()),
        run=summary.get("run", {}),
        hosts=hosts[:TOP_HOSTS],
        more_hosts=max(len(hosts) - TOP_HOSTS, 0),
        css=Markup((_TEMPLATES / "report.css").read_text(encoding="utf-8")),
        js=Markup((_TEMPLATES / "report.js").read_text(encoding="utf-8")),
        data_json=_script_json({key: summary[key] for key in CHART_DATA}),
    )
