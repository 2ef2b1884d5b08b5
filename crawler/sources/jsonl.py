"""JSON Lines: one object a line with a ``url`` string; blank lines skipped."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

from crawler.sources.entry import UrlEntry

if TYPE_CHECKING:
    from collections.abc import Iterator

    from crawler.sources.inputs import Input


def jsonl_entries(source: Input) -> Iterator[UrlEntry | None]:
    """An entry for every non-blank line (``None`` for the blank ones); a line without a
    readable URL carries its error."""
    for line in source.lines():
        if line is None:
            yield None
            continue
        text, error = line.decode()
        text = text.strip()
        if not text:
            yield None
            continue
        if error is None:
            url, error = _url_of(text)
        else:
            url = text
        yield UrlEntry(url, source.name, line.number, error)


def _url_of(text: str) -> tuple[str, str | None]:
    """``(url, None)``, or ``(what to show, error)`` for a line without a usable URL."""
    try:
        record = json.loads(text)
    except json.JSONDecodeError as e:
        return text, f"line is not valid JSON: {e.msg}"
    except RecursionError:
        return text, "line is not valid JSON: nested too deeply"
    if not isinstance(record, dict):
        return "", f'line is a JSON {type(record).__name__}, not an object with a "url" string'
    if "url" not in record:
        return "", 'line has no "url" string'
    url = record["url"]
    if not isinstance(url, str):
        return "", f'"url" is not a string: {json.dumps(url)[:100]}'
    url = url.strip()
    return url, None if url else 'empty "url" value'
