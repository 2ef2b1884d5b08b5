"""URL lists to entries: formats, gzip, stdin, bad lines and bad files."""

from __future__ import annotations

import gzip
import io
import re
from typing import TYPE_CHECKING

import pytest

from crawler.sources import UrlEntry, UrlSourceError, open_sources
from crawler.sources._open import MAX_LINE_BYTES

if TYPE_CHECKING:
    from pathlib import Path


def entries(spec: str, stdin: bytes = b"") -> list[UrlEntry]:
    with open_sources(spec, stdin=io.BytesIO(stdin)) as sources:
        return list(sources)


def test_text_skips_blanks_and_comments_keeps_line_numbers(tmp_path: Path) -> None:
    path = tmp_path / "urls.txt"
    path.write_bytes(b"\xef\xbb\xbfhttp://a/\r\n\r\n  # note\r\n  http://b/ x  \r\nhttp://c/")
    assert entries(str(path)) == [
        UrlEntry("http://a/", str(path), 1),
        UrlEntry("http://b/ x", str(path), 4),
        UrlEntry("http://c/", str(path), 5),
    ]


def test_text_bad_utf8_and_long_lines_become_entries_with_errors(tmp_path: Path) -> None:
    path = tmp_path / "urls"
    long_url = b"http://a/" + b"x" * (MAX_LINE_BYTES * 3)
    path.write_bytes(b"http://caf\xe9/\n" + long_url + b"\nhttp://after/\n")
    first, second, third = entries(str(path))
    assert first == UrlEntry("http://caf\ufffd/", str(path), 1, "line is not valid UTF-8")
    assert (second.line, second.error) == (2, f"line longer than {MAX_LINE_BYTES} bytes")
    assert len(second.url) == MAX_LINE_BYTES
    assert third == UrlEntry("http://after/", str(path), 3)


def test_csv_url_column_any_case_multiline_cells_and_empty_cells(tmp_path: Path) -> None:
    path = tmp_path / "links.csv"
    path.write_text('name, URL \nalpha,http://a/\n"multi\nline",http://b/\n\nempty,\n')
    assert entries(str(path)) == [
        UrlEntry("http://a/", str(path), 2),
        UrlEntry("http://b/", str(path), 3),
        UrlEntry("", str(path), 6, "empty url cell"),
    ]


def test_csv_without_url_column_is_a_file_error(tmp_path: Path) -> None:
    path = tmp_path / "links.csv"
    path.write_text("name,href\na,http://a/\n")
    with pytest.raises(UrlSourceError, match=r"has no 'url' column \(columns: name, href\)"):
        open_sources(str(path))


def test_jsonl_good_broken_and_keyless_lines(tmp_path: Path) -> None:
    path = tmp_path / "links.jsonl"
    path.write_text('{"url": " http://a/ "}\n\n{"url": 3}\nnot json\n[1]\n{"href": "x"}\n')
    assert entries(str(path)) == [
        UrlEntry("http://a/", str(path), 1),
        UrlEntry("", str(path), 3, 'line has no "url" string'),
        UrlEntry("not json", str(path), 4, "line is not valid JSON: Expecting value"),
        UrlEntry("", str(path), 5, 'line has no "url" string'),
        UrlEntry("", str(path), 6, 'line has no "url" string'),
    ]


@pytest.mark.parametrize("name", ["links.csv.gz", "links.csv"])
def test_gzip_by_suffix_or_by_magic_bytes(tmp_path: Path, name: str) -> None:
    path = tmp_path / name
    path.write_bytes(gzip.compress(b"url\nhttp://a/\n"))
    assert entries(str(path)) == [UrlEntry("http://a/", str(path), 2)]


def test_stdin_plain_and_gzip_and_several_inputs(tmp_path: Path) -> None:
    first = tmp_path / "a.txt"
    first.write_text("http://file/\n")
    assert entries(f"{first}, -", b"http://stdin/\n") == [
        UrlEntry("http://file/", str(first), 1),
        UrlEntry("http://stdin/", "-", 1),
    ]
    assert entries("-", gzip.compress(b"# c\nhttp://z/\n")) == [UrlEntry("http://z/", "-", 2)]


def test_default_list_when_no_spec(tmp_path: Path) -> None:
    default = tmp_path / "default.txt"
    default.write_text("http://d/\n")
    with open_sources(None, default=default) as sources:
        assert sources.describe() == f"1 input: {default}"
        assert [e.url for e in sources] == ["http://d/"]


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda p: str(p / "missing.txt"), "does not exist; check the path"),
        (str, "is a directory; name a file inside it"),
        (lambda p: _write(p / "bin.txt", b"http://a/\0\1\2"), "looks binary"),
        (lambda p: _write(p / "bad.gz", b"\x1f\x8bnot really gzip"), "cannot read urls file"),
        (lambda p: "-,-", "standard input ('-') can be read only once"),
        (lambda p: "", "no URL list given"),
    ],
)
def test_file_errors_are_one_clear_line(tmp_path: Path, make: object, message: str) -> None:
    spec = make(tmp_path)  # type: ignore[operator]
    with pytest.raises(UrlSourceError, match=re.escape(message)) as raised:
        open_sources(spec, stdin=io.BytesIO(b""))
    assert "\n" not in str(raised.value)


def _write(path: Path, data: bytes) -> str:
    path.write_bytes(data)
    return str(path)


class CountingStream(io.RawIOBase):
    """An endless stream of URL lines that counts the bytes read from it."""

    def __init__(self) -> None:
        self.read_bytes = 0
        self._line = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: bytearray | memoryview) -> int:  # type: ignore[override]
        self._line += 1
        data = f"http://host/{self._line}\n".encode()[: len(buffer)]
        buffer[: len(data)] = data
        self.read_bytes += len(data)
        return len(data)


def test_reading_is_lazy() -> None:
    stream = CountingStream()
    with open_sources("-", stdin=stream) as sources:  # type: ignore[arg-type]
        iterator = iter(sources)
        assert next(iterator) == UrlEntry("http://host/1", "-", 1)
        assert next(iterator).url == "http://host/2"
    assert stream.read_bytes < 64 * 1024
