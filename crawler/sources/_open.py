"""Open an input as a stream of raw lines: gzip sniffing, size-bounded lines, validation."""

from __future__ import annotations

import gzip
import io
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from crawler.sources._entry import UrlSourceError

if TYPE_CHECKING:
    from collections.abc import Iterator

GZIP_MAGIC = b"\x1f\x8b"
MAX_LINE_BYTES = 65536
_SNIFF_BYTES = 8192


def format_of(name: str) -> str:
    """``"csv"``, ``"jsonl"`` or ``"text"``, from the file name (``.gz`` ignored)."""
    suffixes = [s.lower() for s in Path(name).suffixes]
    if suffixes and suffixes[-1] == ".gz":
        suffixes.pop()
    last = suffixes[-1] if suffixes else ""
    if last == ".csv":
        return "csv"
    if last in (".jsonl", ".ndjson"):
        return "jsonl"
    return "text"


def open_binary(name: str, stdin: IO[bytes]) -> io.BufferedReader[Any]:
    """Open ``name`` (``-``: ``stdin``) for reading, decompressing gzip; check it is text."""
    if name == "-":
        raw: io.BufferedReader[Any] = io.BufferedReader(_Unclosable(stdin))
    else:
        path = Path(name)
        if not path.exists():
            raise UrlSourceError(f"urls file {name!r} does not exist; check the path")
        if path.is_dir():
            raise UrlSourceError(f"urls file {name!r} is a directory; name a file inside it")
        try:
            raw = path.open("rb")
        except OSError as e:
            raise UrlSourceError(f"cannot read urls file {name!r}: {e.strerror}") from None
    try:
        stream = _maybe_gunzip(raw, name)
        head = _peek(stream)
    except (OSError, EOFError) as e:
        raw.close()
        raise UrlSourceError(f"cannot read urls file {name!r}: {e}") from None
    if b"\0" in head:
        stream.close()
        raise UrlSourceError(
            f"urls file {name!r} looks binary (it has NUL bytes); give a text file"
        )
    return stream


class _Unclosable(io.RawIOBase):
    """A raw reader over standard input that never closes it."""

    def __init__(self, stream: IO[bytes]) -> None:
        self._stream = stream

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: bytearray | memoryview) -> int:  # type: ignore[override]
        data = self._stream.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)


def _peek(stream: io.BufferedReader[Any]) -> bytes:
    return stream.peek(_SNIFF_BYTES)[:_SNIFF_BYTES]


class _Gunzipped(io.BufferedReader):
    """Decompressed reading of a gzip stream; closing it closes the compressed stream too."""

    def __init__(self, compressed: io.BufferedReader[Any]) -> None:
        self._compressed = compressed
        super().__init__(gzip.GzipFile(fileobj=compressed, mode="rb"))

    def close(self) -> None:
        try:
            super().close()
        finally:
            self._compressed.close()


def _maybe_gunzip(raw: io.BufferedReader[Any], name: str) -> io.BufferedReader[Any]:
    if raw.peek(2)[:2] == GZIP_MAGIC or name.lower().endswith(".gz"):
        return _Gunzipped(raw)
    return raw


def read_lines(stream: IO[bytes]) -> Iterator[tuple[int, bytes, bool]]:
    """``(line number, bytes without line end, too long)`` for each line, memory-bounded.

    A line longer than ``MAX_LINE_BYTES`` yields its first ``MAX_LINE_BYTES`` bytes once, with
    ``too long`` set; the rest of it is skipped without being held in memory.
    """
    number = 0
    while True:
        chunk = stream.readline(MAX_LINE_BYTES + 1)
        if not chunk:
            return
        number += 1
        too_long = len(chunk) > MAX_LINE_BYTES or (
            len(chunk) == MAX_LINE_BYTES + 1 and not chunk.endswith(b"\n")
        )
        if too_long:
            rest = chunk
            while rest and not rest.endswith(b"\n"):
                rest = stream.readline(MAX_LINE_BYTES)
            yield number, chunk[:MAX_LINE_BYTES], True
            continue
        yield number, chunk.rstrip(b"\r\n"), False


def decode(raw: bytes, number: int) -> tuple[str, str | None]:
    """The line as text (BOM stripped on line 1), and an error if it is not UTF-8."""
    if number == 1 and raw.startswith(b"\xef\xbb\xbf"):
        raw = raw[3:]
    try:
        return raw.decode("utf-8"), None
    except UnicodeDecodeError:
        return raw.decode("utf-8", errors="replace"), "line is not valid UTF-8"
