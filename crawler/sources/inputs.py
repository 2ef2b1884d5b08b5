"""Open one input: file checks, gzip sniffing, the binary check, then memory-bounded lines."""

from __future__ import annotations

import gzip
import io
import stat
import zlib
from pathlib import Path
from typing import IO, TYPE_CHECKING, Literal, NamedTuple, Protocol

from crawler.sources.entry import UrlSourceError

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator, Sequence

    from _typeshed import WriteableBuffer

GZIP_MAGIC = b"\x1f\x8b"
MAX_LINE_BYTES = 65536
"""Longer lines yield their first ``MAX_LINE_BYTES`` bytes and an error."""
SNIFF_BYTES = 8192
"""How much of every (decompressed) input is checked for NUL bytes when it is opened."""

_UTF8_BOM = b"\xef\xbb\xbf"
_UTF16_BOMS = (b"\xff\xfe", b"\xfe\xff")
_READ_ERRORS = (OSError, EOFError, zlib.error)  # what a broken file or gzip stream raises

Format = Literal["csv", "jsonl", "text"]


class _Stream(Protocol):
    """What is read from: a file, standard input, a gzip decompressor."""

    def read(self, size: int = ..., /) -> bytes: ...

    def close(self) -> None: ...


def format_of(name: str) -> Format:
    """The format of input ``name``, from its extension once ``.gz`` is stripped."""
    suffixes = [suffix.lower() for suffix in Path(name).suffixes]
    if suffixes[-1:] == [".gz"]:
        suffixes.pop()
    last = suffixes[-1] if suffixes else ""
    if last == ".csv":
        return "csv"
    if last in {".jsonl", ".ndjson", ".json"}:
        return "jsonl"
    return "text"


class Line(NamedTuple):
    """One physical line: its 1-based number and bytes without the line end."""

    number: int
    data: bytes
    too_long: bool = False

    def decode(self) -> tuple[str, str | None]:
        """The line as text (a leading BOM stripped) and why it is unreadable, if it is."""
        data = self.data
        if self.number == 1 and data.startswith(_UTF8_BOM):
            data = data[len(_UTF8_BOM) :]
        try:
            text, error = data.decode("utf-8"), None
        except UnicodeDecodeError:
            text, error = data.decode("utf-8", errors="replace"), "line is not valid UTF-8"
        if self.too_long:
            error = f"line longer than {MAX_LINE_BYTES} bytes"
        return text, error


class Input:
    """One opened and checked input, read as lines; close it when done."""

    def __init__(self, name: str, stream: IO[bytes]) -> None:
        self.name = name
        self.format = format_of(name)
        self._stream = stream

    def lines(self) -> Iterator[Line | None]:
        """Every line in order; a too long line is cut, its rest skipped, never held.

        ``None`` for each block of a too long line skipped, so that a reader can pause.
        """
        number = 0
        while True:
            chunk = self._readline(MAX_LINE_BYTES + 2, number)  # room for "\r\n"
            if not chunk:
                return
            if len(chunk) == MAX_LINE_BYTES + 2 and not chunk.endswith(b"\n"):
                while (rest := self._readline(MAX_LINE_BYTES, number)) and rest[-1:] != b"\n":
                    yield None
                number += 1
                yield Line(number, chunk[:MAX_LINE_BYTES], too_long=True)
                continue
            number += 1
            data = chunk.removesuffix(b"\n").removesuffix(b"\r")
            yield Line(number, data[:MAX_LINE_BYTES], too_long=len(data) > MAX_LINE_BYTES)

    def _readline(self, size: int, number: int) -> bytes:
        try:
            return self._stream.readline(size)
        except _READ_ERRORS as e:
            raise UrlSourceError(
                f"urls file {self.name!r} is unreadable after line {number} ({e}); "
                "check that it is complete"
            ) from e

    def close(self) -> None:
        """Close the input (standard input itself stays open)."""
        self._stream.close()


def open_input(name: str, stdin: _Stream | None) -> Input:
    """Open input ``name`` (``-``: ``stdin``), check it and decompress it if it is gzip."""
    if name == "-":
        if stdin is None:
            raise UrlSourceError("urls names '-' but there is no standard input; pass a file")
        return Input(name, _checked(name, stdin, owned=()))
    file = _open_file(name)
    try:
        return Input(name, _checked(name, file, owned=(file,)))
    except BaseException:
        file.close()
        raise


def _open_file(name: str) -> IO[bytes]:
    try:
        mode = Path(name).stat().st_mode
    except FileNotFoundError:
        raise UrlSourceError(f"urls file {name!r} does not exist; check the path") from None
    except OSError as e:
        raise UrlSourceError(
            f"cannot open urls file {name!r} ({e.strerror}); check the path"
        ) from e
    if stat.S_ISDIR(mode):
        raise UrlSourceError(f"urls file {name!r} is a directory; name a file inside it")
    if not stat.S_ISREG(mode):
        raise UrlSourceError(
            f"urls file {name!r} is not a regular file; pipe it in with -a urls=- instead"
        )
    try:
        return open(name, "rb", buffering=0)
    except OSError as e:
        raise UrlSourceError(
            f"cannot read urls file {name!r} ({e.strerror}); check its permissions"
        ) from e


def _checked(name: str, raw: _Stream, owned: Sequence[_Stream]) -> IO[bytes]:
    """``raw`` as a buffered, decompressed stream, once its first bytes look like text."""
    body: _Stream = raw
    try:
        magic = _read_up_to(raw, len(GZIP_MAGIC))
        if magic == GZIP_MAGIC:
            body = gzip.GzipFile(fileobj=_Replayed(magic, raw), mode="rb")
            owned = (body, *owned)
            head = _read_up_to(body, SNIFF_BYTES)
        elif magic and name.lower().endswith(".gz"):
            raise UrlSourceError(
                f"urls file {name!r} is not gzip-compressed; remove the .gz from its name"
            )
        else:
            head = magic + _read_up_to(raw, SNIFF_BYTES - len(magic))
    except _READ_ERRORS as e:
        raise UrlSourceError(f"cannot read urls file {name!r} ({e}); check the file") from e
    if problem := _binary_problem(head):
        raise UrlSourceError(f"urls file {name!r} {problem}")
    return io.BufferedReader(_Replayed(head, body, owned))


def _binary_problem(head: bytes) -> str | None:
    if head.startswith(_UTF16_BOMS):
        return "is UTF-16 text; save it as UTF-8"
    if b"\0" in head:
        return "looks binary (it has NUL bytes); give a text, CSV or JSON Lines file"
    return None


def _read_up_to(stream: _Stream, size: int) -> bytes:
    """The next ``size`` bytes of ``stream``, fewer only at its end."""
    read = _reader(stream)
    chunks: list[bytes] = []
    missing = size
    while missing > 0:
        chunk = read(missing)
        if not chunk:
            break
        chunks.append(chunk)
        missing -= len(chunk)
    return b"".join(chunks)


def _reader(stream: _Stream) -> Callable[[int], bytes]:
    """``read1`` when the stream has it (a pipe's bytes as they come), else ``read``."""
    read1: Callable[[int], bytes] | None = getattr(stream, "read1", None)
    return read1 or stream.read


class _Replayed(io.RawIOBase):
    """Raw reads of ``head``, then of ``rest``; closing it closes the ``owned`` streams."""

    def __init__(self, head: bytes, rest: _Stream, owned: Sequence[_Stream] = ()) -> None:
        super().__init__()
        self._head = memoryview(head)
        self._read = _reader(rest)
        self._owned = owned

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: WriteableBuffer, /) -> int:
        out = memoryview(buffer).cast("B")
        if self._head:
            size = min(len(out), len(self._head))
            out[:size] = self._head[:size]
            self._head = self._head[size:]
            return size
        data = self._read(len(out))
        out[: len(data)] = data
        return len(data)

    def close(self) -> None:
        if self.closed:
            return
        try:
            for stream in self._owned:
                stream.close()
        finally:
            super().close()
