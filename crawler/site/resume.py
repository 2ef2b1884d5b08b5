"""Resume a site crawl: the rows an earlier run wrote are the links already done.

A site crawl's rows are keyed by their link (:func:`row_key`), not by ``(source, line)`` as a
list's are: the resumed crawl starts again from the seeds, gives no second row to a link
that has one, and fetches again only the pages that were parsed (:attr:`ResumedLinks.pages`),
to read their links. See ``docs/site.md``, "Stopping and resuming".
"""

from __future__ import annotations

import hashlib
import logging
from typing import TYPE_CHECKING, Any

from crawler.checker.methods import is_html
from crawler.checker.outcomes import Outcome
from crawler.fingerprints import FingerprintSet
from crawler.items import UrlResult
from crawler.output.read import entry_of, is_not_ok
from crawler.output.resume import ResumedEntries, entry_key, output_rows, resume_paths
from crawler.site.places import link_fingerprint

if TYPE_CHECKING:
    from collections.abc import Callable, Collection
    from pathlib import Path

logger = logging.getLogger(__name__)


def row_key(url: str, outcome: str | None = None) -> int:
    """The key of a site crawl's row of ``url`` (as the row shows it, secrets masked): its
    link's fingerprint, or, for a ``missing_fragment`` row, one of the link and its fragment."""
    if outcome == Outcome.MISSING_FRAGMENT and "#" in url:
        page, fragment = url.split("#", 1)
        text = f"{link_fingerprint(page)}#{fragment}"
        return int.from_bytes(hashlib.blake2b(text.encode(), digest_size=8).digest(), "big")
    return link_fingerprint(url)


def duplicate_key(source: str, line: int) -> int:
    """The key of a ``duplicate`` row: a seed given twice is an entry of its own."""
    return entry_key(source, line)


def _parsed(row: dict[str, Any]) -> bool:
    """Whether the row's page may have been parsed: a 2xx answer of an HTML type."""
    status = str(row.get("status") or "")
    return status.isdigit() and 200 <= int(status) < 300 and is_html(row.get("content_type"))


class ResumedLinks(ResumedEntries):
    """The links earlier outputs hold a row for (:func:`row_key`), those not ok, and those
    whose page was fetched and may have been parsed."""

    def __init__(self) -> None:
        super().__init__()
        self.pages = FingerprintSet()
        """Keys of the rows of pages that were parsed: fetched again for their links."""

    def close(self) -> None:
        """Delete the temporary tables."""
        for keys in (self.keys, self.not_ok, self.pages):
            keys.close()


def done_links(
    spec: str, appended: Collection[Path] = (), on_not_ok: Callable[[UrlResult], None] | None = None
) -> ResumedLinks:
    """The links the outputs named by ``spec`` (comma-separated) already hold a row for;
    ``on_not_ok`` gets a row (url, outcome, status) for each row that is not ok.

    Raises :class:`~crawler.output.resume.NotAnOutputError` for a file that is not an output
    of ours. Only the ``appended`` files (resolved paths this run appends to) are ever changed.
    """
    done = ResumedLinks()
    for path in resume_paths(spec):
        if not path.exists():
            logger.info("Nothing to resume from %s: it does not exist yet", path)
            continue
        for row in output_rows(path, appended=path.resolve() in appended):
            if (entry := entry_of(row)) is None or not isinstance(url := row.get("url"), str):
                continue
            outcome = str(row.get("outcome"))
            duplicate = outcome == Outcome.DUPLICATE
            key = duplicate_key(*entry) if duplicate else row_key(url, outcome)
            is_new = key not in done
            done.add(key, ok=not is_not_ok(row))
            if not is_new:
                continue
            if _parsed(row):
                done.pages.add(key)
            if is_not_ok(row) and on_not_ok is not None:
                status = str(row.get("status") or "")
                on_not_ok(
                    UrlResult(
                        url=url,
                        source=entry[0],
                        line=entry[1],
                        outcome=outcome,
                        ok=False,
                        status=int(status) if status.isdigit() else None,
                    )
                )
        logger.info("Resuming: %d links already have a row in %s", len(done), path)
    return done
