"""Where each link of a site crawl was found, for the fix list "broken links by page".

Every place (page, line, element, text) a link is found at is appended, in batches, to a private
temporary file as the pages are parsed (unlinked as soon as it is created), so a crawl of a
large site does not hold its edges in memory; the rows that are not ok are noted, as they are
scraped, in a private temporary SQLite table (its page cache capped, its file unlinked by SQLite
itself). When the crawl closes, the places of those links are read back into that database and
written, sorted by page then line, to the places file (``CRAWLER_SITE_PLACES_FILE``, by default
``<export>.places.csv`` beside the first export) and streamed to the reports. See
``docs/site.md``.
"""

from __future__ import annotations

import csv
import json
import logging
import marshal
import struct
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urldefrag

from scrapy import signals

from crawler.checker.outcomes import Outcome
from crawler.fingerprints import url_fingerprint
from crawler.items import UrlResult
from crawler.names import SETTINGS
from crawler.output.cells import CsvConfig, csv_cell, exportable_text
from crawler.output.feeds import local_path
from crawler.scratch import scratch_database

if TYPE_CHECKING:
    import sqlite3
    from collections.abc import Iterator
    from typing import IO, Self

    from scrapy.crawler import Crawler
    from scrapy.settings import BaseSettings

logger = logging.getLogger(__name__)

PLACES_FILE_SETTING = "CRAWLER_SITE_PLACES_FILE"
PLACES_STAT = "crawler/site/broken_places_count"
"""Stats key: places (page, element) of the links that are not ok, as in the places file."""
FIELDS = ("page", "line", "element", "text", "url", "outcome", "status", "found_count")
"""The columns of the places file, in order."""
SUFFIXES = (".csv", ".jsonl")
BUFFER_SIZE = 1000
"""Places kept in memory before they are written to the file."""
MAX_FILTERED = 100_000
"""Links not ok up to which only their places are read back from the file (above, all are)."""
CACHE_KIB = 512
"""SQLite page cache of the table, in KiB."""

_SIGN = 1 << 63  # SQLite integers are signed
_LENGTH = struct.Struct("<I")  # the size of each batch of places in the file


def link_fingerprint(url: str) -> int:
    """:func:`~crawler.scale.shard.url_fingerprint` (fragment aside), or one of the text itself
    for a URL that cannot be canonicalised (as the site spider keys its links)."""
    try:
        return url_fingerprint(url)
    except ValueError:
        return url_fingerprint(repr(url))


def places_path(settings: BaseSettings) -> Path | None:
    """``CRAWLER_SITE_PLACES_FILE``, else ``<stem>.places.csv`` beside the first local export;
    ``None`` when there is neither (or the setting is empty). ``ValueError`` for a suffix other
    than ``.csv`` or ``.jsonl``."""
    given = settings.get(PLACES_FILE_SETTING, SETTINGS[PLACES_FILE_SETTING])
    if given is not None:
        if not str(given).strip():
            return None
        path = Path(str(given))
        if path.suffix.lower() not in SUFFIXES:
            raise ValueError(
                f"{PLACES_FILE_SETTING}={str(given)!r} must name a .csv or .jsonl file"
            )
        return path
    for uri in settings.getdict("FEEDS"):
        if (export := local_path(str(uri))) is not None and export.name not in ("-", ""):
            return export.with_name(f"{export.name.rsplit('.', 1)[0]}.places.csv")
    return None


class PlaceStore:
    """The places of every link, and the links that are not ok, in a temporary SQLite table."""

    def __init__(
        self,
        buffer_size: int = BUFFER_SIZE,
        cache_kib: int = CACHE_KIB,
        max_filtered: int = MAX_FILTERED,
    ) -> None:
        self._buffer_size = buffer_size
        self._cache_kib = cache_kib
        self._max_filtered = max_filtered
        self._places: list[tuple[int, str | None, str, int, str, str]] = []
        self._broken: list[tuple[int, str | None, str, str, int | None]] = []
        self._spilled: IO[bytes] | None = None
        self._db: sqlite3.Connection | None = None
        self._counted = False

    def add(
        self,
        fingerprint: int,
        fragment: str | None,
        *,
        page: str,
        line: int,
        element: str,
        text: str,
    ) -> None:
        """Note that ``page`` links to the link ``fingerprint`` (:func:`link_fingerprint`),
        ``#fragment``, at ``line`` from ``element``."""
        self._places.append((fingerprint - _SIGN, fragment, page, line, element, text))
        if len(self._places) >= self._buffer_size:
            self._flush()

    def add_page(self, page: str, places: list[tuple[int, str | None, int, str, str]]) -> None:
        """Note the links of ``page``, each as ``(fingerprint, fragment, line, element, text)``
        (as :meth:`add` takes them)."""
        self._places.extend(
            [(fingerprint - _SIGN, fragment, page, line, element, text)
             for fingerprint, fragment, line, element, text in places]
        )  # fmt: skip
        if len(self._places) >= self._buffer_size:
            self._flush()

    def add_row(self, row: UrlResult) -> None:
        """Note a row that is not ok: its link's places go to the fix list (only those with its
        fragment for a ``missing_fragment`` row)."""
        url, after = urldefrag(row.url)
        missing = row.outcome == Outcome.MISSING_FRAGMENT and "#" in row.url
        fragment = after if missing else None
        self._broken.append(
            (link_fingerprint(url) - _SIGN, fragment, row.url, str(row.outcome), row.status)
        )
        if len(self._broken) >= self._buffer_size:
            self._flush()

    def finish(self) -> int:
        """Count the places of each link that is not ok; return the places in the fix list."""
        db = self._flush()
        if not self._counted:
            self._read_back(db)
            with db:
                db.execute("CREATE INDEX places_by_link ON places (fp, fragment)")
                db.execute(
                    "UPDATE broken SET found_count = (SELECT COUNT(*) FROM places p "
                    "WHERE p.fp = broken.fp AND (broken.fragment IS NULL "
                    "OR p.fragment = broken.fragment))"
                )
            self._counted = True
        (count,) = db.execute("SELECT COALESCE(SUM(found_count), 0) FROM broken").fetchone()
        return int(count)

    def broken_places(self) -> Iterator[dict[str, Any]]:
        """Every place of every link that is not ok, by page then line (call :meth:`finish`
        first), streamed from the table."""
        if self._db is None:
            return
        query = (
            "SELECT p.page, p.line, p.element, p.text, b.url, b.outcome, b.status, "
            "b.found_count FROM broken b JOIN places p ON p.fp = b.fp "
            "AND (b.fragment IS NULL OR p.fragment = b.fragment) "
            "ORDER BY p.page, p.line, p.rowid"
        )
        for values in self._db.execute(query):
            yield dict(zip(FIELDS, values, strict=True))

    def write(self, path: Path, *, escape_formulas: bool = True) -> None:
        """Write the fix list to ``path`` (``.csv`` or ``.jsonl``)."""
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("w", newline="", encoding="utf-8", errors="backslashreplace") as out:
            if path.suffix.lower() == ".jsonl":
                for place in self.broken_places():
                    out.write(json.dumps(place, ensure_ascii=False) + "\n")
                return
            writer = csv.writer(out)
            writer.writerow(FIELDS)
            for place in self.broken_places():
                cells = [
                    "" if value is None else exportable_text(str(value)) for value in place.values()
                ]
                writer.writerow([csv_cell(cell) for cell in cells] if escape_formulas else cells)

    def close(self) -> None:
        """Delete the temporary file and table."""
        if self._spilled is not None:
            self._spilled.close()
        if self._db is not None:
            self._db.close()
        self._spilled, self._db = None, None
        self._places, self._broken = [], []
        self._counted = False

    def _flush(self) -> sqlite3.Connection:
        if self._db is None:
            self._db = self._open()
        if self._places:
            if self._spilled is None:
                self._spilled = tempfile.TemporaryFile()  # noqa: SIM115 - close() closes it
            batch = marshal.dumps(self._places)
            self._spilled.write(_LENGTH.pack(len(batch)) + batch)
        with self._db:
            self._db.executemany(
                "INSERT INTO broken (fp, fragment, url, outcome, status) VALUES (?, ?, ?, ?, ?)",
                self._broken,
            )
        self._places, self._broken = [], []
        return self._db

    def _read_back(self, db: sqlite3.Connection) -> None:
        """Move the places from the file to the table: those of the links that are not ok
        (all of them past ``max_filtered`` such links, :data:`MAX_FILTERED` by default)."""
        spilled, self._spilled = self._spilled, None
        if spilled is None:
            return
        with spilled:
            keep: set[int] | None = None
            limit = self._max_filtered
            found = db.execute("SELECT DISTINCT fp FROM broken LIMIT ?", (limit + 1,))
            if len(fingerprints := {fp for (fp,) in found}) <= limit:
                keep = fingerprints
            spilled.seek(0)
            while header := spilled.read(_LENGTH.size):
                (size,) = _LENGTH.unpack(header)
                places = marshal.loads(spilled.read(size))
                if keep is not None:
                    places = [place for place in places if place[0] in keep]
                with db:
                    db.executemany("INSERT INTO places VALUES (?, ?, ?, ?, ?, ?)", places)

    def _open(self) -> sqlite3.Connection:
        db = scratch_database(self._cache_kib)
        db.execute(
            "CREATE TABLE places (fp INTEGER, fragment TEXT, page TEXT, line INTEGER, "
            "element TEXT, text TEXT)"
        )
        db.execute(
            "CREATE TABLE broken (fp INTEGER, fragment TEXT, url TEXT, outcome TEXT, "
            "status INTEGER, found_count INTEGER)"
        )
        return db


class SitePlaces:
    """The places of a site crawl: noted as found and scraped, written when the spider
    closes (before the summary and the reports, which stream them), deleted when the engine
    stops."""

    def __init__(self, crawler: Crawler, path: Path | None, escape_formulas: bool) -> None:
        self.crawler = crawler
        self.path = path
        self.escape_formulas = escape_formulas
        self.store = PlaceStore()
        self.count: int | None = None
        """Places in the fix list, once the spider closed."""

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        """Read the settings (``ValueError`` naming a bad one); connect the signals."""
        settings = crawler.settings
        places = cls(
            crawler, places_path(settings), CsvConfig.from_settings(settings).escape_formulas
        )
        crawler.signals.connect(places.item_scraped, signal=signals.item_scraped)
        crawler.signals.connect(places.spider_closed, signal=signals.spider_closed)
        crawler.signals.connect(places.store.close, signal=signals.engine_stopped)
        return places

    def item_scraped(self, item: Any) -> None:
        """Note a row that is not ok (after the pipelines judged it)."""
        if isinstance(item, UrlResult) and item.ok is False:
            self.store.add_row(item)

    def spider_closed(self) -> None:
        """Count the places and write the places file."""
        self.count = self.store.finish()
        if self.crawler.stats is not None:
            self.crawler.stats.set_value(PLACES_STAT, self.count)
        if self.path is None:
            return
        try:
            self.store.write(self.path, escape_formulas=self.escape_formulas)
        except OSError as e:
            logger.error("Cannot write %s: %s", self.path, e)
        else:
            logger.info("Wrote %s: %d places of links not ok", self.path, self.count)

    def rows(self) -> Iterator[dict[str, Any]]:
        """The fix list, streamed (for the reports)."""
        return self.store.broken_places()
