"""URL lists to entries: formats, gzip, stdin, bad lines, bad files and lazy reading."""

from __future__ import annotations

import collections
import gc
import gzip
import io
import os
import sys
import tracemalloc
from typing import TYPE_CHECKING

import pytest

from crawler.sources import UrlEntry, UrlSourceError, open_sources
from crawler.sources.inputs import MAX_LINE_BYTES

if TYPE_CHECKING:
    from pathlib import Path


def entries(spec: str, stdin: bytes = b"") -> list[UrlEntry]:
    with open_sources(spec, stdin=io.BytesIO(stdin)) as sources:
        return list(sources)


def write(path: Path, data: bytes) -> str:
    path.write_bytes(data)
    return str(path)


def error_of(spec: str | None, stdin: bytes = b"") -> str:
    with pytest.raises(UrlSourceError) as raised:
        open_sources(spec, stdin=io.BytesIO(stdin))
    return str(raised.value)


# Text


def test_text_bom_crlf_blanks_comments_and_whitespace(tmp_path: Path) -> None:
    name = write(
        tmp_path / "urls.txt",
        b"\xef\xbb\xbfhttp://a/\r\n\r\n  # note\r\n \t\r\n  http://b/ x  \r\n#c\nhttp://c/",
    )
    assert entries(name) == [
        UrlEntry("http://a/", name, 1),
        UrlEntry("http://b/ x", name, 5),
        UrlEntry("http://c/", name, 7),
    ]


@pytest.mark.parametrize(
    ("suffix", "data"),
    [
        (".txt", b"http://a/\n\n# c\n" + b"x" * (MAX_LINE_BYTES * 3) + b"\nhttp://b/\n"),
        (".jsonl", b'{"url": "http://a/"}\n\n \n{"url": "http://b/"}\n'),
        (".csv", b"url\nhttp://a/\n\n,\nhttp://b/\n"),
    ],
)
def test_read_marks_each_skipped_line(tmp_path: Path, suffix: str, data: bytes) -> None:
    """``read()`` yields ``None`` for what it skips: a reader can pause in any stretch."""
    name = write(tmp_path / f"urls{suffix}", data)
    with open_sources(name) as sources:
        read = [entry if entry is None else entry.url[:9] for entry in sources.read()]
    assert read[0] == "http://a/"
    assert read[-1] == "http://b/"
    assert read.count(None) >= 2


def test_text_bom_is_stripped_on_the_first_line_only(tmp_path: Path) -> None:
    name = write(tmp_path / "urls", b"http://a/\n\xef\xbb\xbfhttp://b/\n")
    assert entries(name) == [UrlEntry("http://a/", name, 1), UrlEntry("\ufeffhttp://b/", name, 2)]


def test_text_line_not_utf8_keeps_its_place_with_an_error(tmp_path: Path) -> None:
    name = write(tmp_path / "urls", b"http://caf\xe9/\nhttp://ok/\n# caf\xe9\n")
    assert entries(name) == [
        UrlEntry("http://caf\ufffd/", name, 1, "line is not valid UTF-8"),
        UrlEntry("http://ok/", name, 2),
    ]


@pytest.mark.parametrize("end", [b"\n", b"\r\n"])
def test_text_line_of_exactly_the_limit_is_whole(tmp_path: Path, end: bytes) -> None:
    url = b"http://a/" + b"x" * (MAX_LINE_BYTES - 9)
    name = write(tmp_path / "urls", url + end + b"http://next/\n" + url)
    assert entries(name) == [
        UrlEntry(url.decode(), name, 1),
        UrlEntry("http://next/", name, 2),
        UrlEntry(url.decode(), name, 3),
    ]


@pytest.mark.parametrize("extra", [1, 2, MAX_LINE_BYTES * 3 + 5])
def test_text_longer_line_is_cut_with_an_error(tmp_path: Path, extra: int) -> None:
    url = b"http://a/" + b"x" * (MAX_LINE_BYTES - 9 + extra)
    name = write(tmp_path / "urls", url + b"\r\nhttp://next/\n" + b"# " + url + b"\nhttp://z/")
    assert entries(name) == [
        UrlEntry(url[:MAX_LINE_BYTES].decode(), name, 1, "line longer than 65536 bytes"),
        UrlEntry("http://next/", name, 2),
        UrlEntry("http://z/", name, 4),
    ]


def test_text_for_any_other_extension(tmp_path: Path) -> None:
    name = write(tmp_path / "urls.list", b'url,x\n{"url": 1}\n')
    assert entries(name) == [UrlEntry("url,x", name, 1), UrlEntry('{"url": 1}', name, 2)]


# CSV


def test_csv_url_column_any_case_multiline_cells_blank_and_empty_rows(tmp_path: Path) -> None:
    name = write(
        tmp_path / "links.CSV",
        b"\xef\xbb\xbfname, URL ,x\r\n"
        b"alpha, http://a/ ,1\r\n"
        b'"multi\r\nline","http://b/"\r\n'
        b"\r\n"
        b",,\n"
        b"empty,,3\n"
        b"short\n"
        b'q,"http://c/?a=1,2",4',
    )
    assert entries(name) == [
        UrlEntry("http://a/", name, 2),
        UrlEntry("http://b/", name, 3),
        UrlEntry("", name, 7, "empty url cell"),
        UrlEntry("", name, 8, "empty url cell"),
        UrlEntry("http://c/?a=1,2", name, 9),
    ]


def test_csv_bad_lines_become_entries_with_errors(tmp_path: Path) -> None:
    long_url = b"http://long/" + b"x" * MAX_LINE_BYTES
    name = write(
        tmp_path / "links.csv",
        b"url,note\n"
        b"http://caf\xe9/,x\n"
        b"" + long_url + b",y\n"
        b'"http://two/","caf\xe9\nok"\n'
        b"http://fine/,z\n",
    )
    assert entries(name) == [
        UrlEntry("http://caf\ufffd/", name, 2, "line is not valid UTF-8"),
        UrlEntry(long_url[:MAX_LINE_BYTES].decode(), name, 3, "line longer than 65536 bytes"),
        UrlEntry("http://two/", name, 4, "line is not valid UTF-8"),
        UrlEntry("http://fine/", name, 6),
    ]


def test_csv_runaway_quote_is_one_bad_row_then_reading_goes_on(tmp_path: Path) -> None:
    # An unclosed quote swallows lines until the csv module's field size limit (128 KiB).
    filler = b"".join(b"http://%d/\n" % i for i in range(20_000))
    name = write(tmp_path / "links.csv", b'url\n"http://open/\n' + filler)
    found = entries(name)
    assert found[0] == UrlEntry(
        "", name, 2, "malformed CSV row: field larger than field limit (131072)"
    )
    assert found[1:3] == [
        UrlEntry(f"http://{found[1].line - 3}/", name, found[1].line),
        UrlEntry(f"http://{found[1].line - 2}/", name, found[1].line + 1),
    ]
    assert found[-1] == UrlEntry("http://19999/", name, 20_002)


def test_csv_without_url_column(tmp_path: Path) -> None:
    name = write(tmp_path / "x.csv", b" a ,b\nhttp://a/,1\n")
    assert error_of(name) == (
        f"urls file {name!r} has no 'url' column (columns: a, b); add one or pass a text file"
    )


def test_csv_without_url_column_shows_at_most_20_columns(tmp_path: Path) -> None:
    name = write(tmp_path / "x.csv", ",".join(f"c{i}" for i in range(30)).encode() + b"\n")
    shown = ", ".join(f"c{i}" for i in range(20))
    assert error_of(name) == (
        f"urls file {name!r} has no 'url' column (columns: {shown}, …); add one or pass a text file"
    )


@pytest.mark.parametrize("data", [b"", b"\n\r\n\n"])
def test_csv_empty(tmp_path: Path, data: bytes) -> None:
    name = write(tmp_path / "x.csv", data)
    assert error_of(name) == f"urls file {name!r} is empty; start it with a url,… header"


def test_csv_malformed_header(tmp_path: Path) -> None:
    name = write(tmp_path / "x.csv", b"na\rme,url\n")
    assert error_of(name) == (
        f"urls file {name!r} has a malformed header (new-line character seen in unquoted field"
        " - do you need to open the file in universal-newline mode?); fix it or pass a text file"
    )


# JSON Lines


def test_jsonl_good_blank_and_broken_lines(tmp_path: Path) -> None:
    name = write(
        tmp_path / "links.jsonl",
        b'\xef\xbb\xbf{"url": " http://a/ ", "n": 1}\r\n'
        b"\r\n"
        b"  \n"
        b"not json\n"
        b"[1]\n"
        b'{"href": "x"}\n'
        b'{"url": 3}\n'
        b'{"url": null}\n'
        b'{"url": " "}\n'
        b'{"url": "http://caf\xe9/"}\n' + b"[" * 100_000 + b'\n{"url": "http://\\u00e9/"}',
    )
    assert entries(name) == [
        UrlEntry("http://a/", name, 1),
        UrlEntry("not json", name, 4, "line is not valid JSON: Expecting value"),
        UrlEntry("", name, 5, 'line is a JSON list, not an object with a "url" string'),
        UrlEntry("", name, 6, 'line has no "url" string'),
        UrlEntry("", name, 7, '"url" is not a string: 3'),
        UrlEntry("", name, 8, '"url" is not a string: null'),
        UrlEntry("", name, 9, 'empty "url" value'),
        UrlEntry('{"url": "http://caf\ufffd/"}', name, 10, "line is not valid UTF-8"),
        UrlEntry("[" * MAX_LINE_BYTES, name, 11, "line longer than 65536 bytes"),
        UrlEntry("http://\u00e9/", name, 12),
    ]


def test_jsonl_too_deeply_nested_line(tmp_path: Path) -> None:
    nested = "[" * 60_000
    name = write(tmp_path / "links.jsonl", nested.encode())
    assert entries(name) == [UrlEntry(nested, name, 1, "line is not valid JSON: nested too deeply")]


@pytest.mark.parametrize("suffix", [".jsonl", ".ndjson", ".json", ".JSONL"])
def test_jsonl_extensions(tmp_path: Path, suffix: str) -> None:
    name = write(tmp_path / f"links{suffix}", b'{"url": "http://a/"}\n')
    assert entries(name) == [UrlEntry("http://a/", name, 1)]


# Gzip


BAD_JSON = "line is not valid JSON: Expecting property name enclosed in double quotes"


@pytest.mark.parametrize(
    ("name", "data", "expected"),
    [
        ("u.txt", b"# c\nhttp://a/\n", ("http://a/", 2, None)),
        ("u.csv", b"id,url\n1,http://a/\n", ("http://a/", 2, None)),
        ("u.jsonl", b'\n{"url": "http://a/"}\n', ("http://a/", 2, None)),
        ("u.jsonl", b"\n{bad\n", ("{bad", 2, BAD_JSON)),
    ],
)
@pytest.mark.parametrize("suffix", [".gz", ".GZ", ""])
def test_gzip_by_suffix_or_by_magic_bytes(
    tmp_path: Path, name: str, data: bytes, expected: tuple[str, int, str | None], suffix: str
) -> None:
    path = write(tmp_path / f"{name}{suffix}", gzip.compress(data))
    url, line, error = expected
    assert entries(path) == [UrlEntry(url, path, line, error)]


def test_gzip_of_several_members_and_long_lines(tmp_path: Path) -> None:
    long_url = b"http://a/" + b"x" * (MAX_LINE_BYTES * 2)
    data = gzip.compress(b"http://one/\n" + long_url + b"\n") + gzip.compress(b"http://two/\n")
    name = write(tmp_path / "urls.gz", data)
    assert entries(name) == [
        UrlEntry("http://one/", name, 1),
        UrlEntry(long_url[:MAX_LINE_BYTES].decode(), name, 2, "line longer than 65536 bytes"),
        UrlEntry("http://two/", name, 3),
    ]


def test_gzip_truncated_early_fails_when_opened(tmp_path: Path) -> None:
    cut = gzip.compress(b"http://lost/\n" * 1000)[:12]
    name = write(tmp_path / "urls.txt.gz", gzip.compress(b"http://a/\n") + cut)
    assert error_of(name) == (
        f"cannot read urls file {name!r} (Compressed file ended before the end-of-stream "
        "marker was reached); check the file"
    )


def test_gzip_truncated_after_the_first_8_kib_fails_while_reading(tmp_path: Path) -> None:
    whole = gzip.compress(b"".join(b"http://a/%d\n" % i for i in range(1000)))
    cut = gzip.compress(b"http://lost/\n" * 1000)[:12]
    name = write(tmp_path / "urls.txt.gz", whole + cut)
    found: list[UrlEntry] = []
    with open_sources(name) as sources, pytest.raises(UrlSourceError) as raised:
        found.extend(sources)
    assert len(found) == 1000
    assert found[-1] == UrlEntry("http://a/999", name, 1000)
    assert str(raised.value) == (
        f"urls file {name!r} is unreadable after line 1000 (Compressed file ended before the "
        "end-of-stream marker was reached); check that it is complete"
    )


# Standard input, several inputs, the default list


def test_stdin_plain_and_gzip() -> None:
    assert entries("-", b"\xef\xbb\xbfhttp://a/\r\n# c\r\nhttp://b/") == [
        UrlEntry("http://a/", "-", 1),
        UrlEntry("http://b/", "-", 3),
    ]
    assert entries("-", gzip.compress(b"# c\nhttp://z/\n")) == [UrlEntry("http://z/", "-", 2)]
    assert entries("-", b"") == []


def test_stdin_defaults_to_sys_stdin_buffer(monkeypatch: pytest.MonkeyPatch) -> None:
    stdin = io.TextIOWrapper(io.BytesIO(b"http://a/\n"))
    monkeypatch.setattr(sys, "stdin", stdin)
    with open_sources("-") as sources:
        assert list(sources) == [UrlEntry("http://a/", "-", 1)]
    assert not stdin.closed


def test_several_inputs_in_order(tmp_path: Path) -> None:
    text = write(tmp_path / "a.txt", b"http://file/\n")
    table = write(tmp_path / "b.csv.gz", gzip.compress(b"url\nhttp://csv/\n"))
    lines = write(tmp_path / "c.jsonl", b'{"url": "http://jsonl/"}\n')
    with open_sources(f" {text} ,-,,{table},{lines}", stdin=io.BytesIO(b"http://in/")) as sources:
        assert sources.describe() == f"4 inputs: {text}, standard input, {table}, {lines}"
        assert list(sources) == [
            UrlEntry("http://file/", text, 1),
            UrlEntry("http://in/", "-", 1),
            UrlEntry("http://csv/", table, 2),
            UrlEntry("http://jsonl/", lines, 1),
        ]


def test_describe(tmp_path: Path) -> None:
    one = write(tmp_path / "a.txt", b"")
    two = write(tmp_path / "b.csv", b"url\n")
    with open_sources(f"{one},{two}") as sources:
        assert sources.describe() == f"2 files: {one}, {two}"
    with open_sources(one) as sources:
        assert sources.describe() == f"1 file: {one}"
    with open_sources("-", stdin=io.BytesIO()) as sources:
        assert sources.describe() == "1 input: standard input"


@pytest.mark.parametrize("spec", [None, "", " , "])
def test_default_list_without_spec(tmp_path: Path, spec: str | None) -> None:
    default = tmp_path / "default.txt"
    default.write_bytes(b"http://d/\n")
    with open_sources(spec, default=default) as sources:
        assert sources.describe() == f"1 file: {default}"
        assert list(sources) == [UrlEntry("http://d/", str(default), 1)]


def test_closing_closes_files_but_not_stdin(tmp_path: Path) -> None:
    name = write(tmp_path / "a.txt.gz", gzip.compress(b"http://a/\n"))
    stdin = io.BytesIO(b"http://b/\n")
    with open_sources(f"{name},-", stdin=stdin) as sources:
        iterator = iter(sources)
        assert next(iterator) == UrlEntry("http://a/", name, 1)
    assert not stdin.closed
    with pytest.raises(ValueError, match="closed file"):
        next(iterator)
    sources.close()  # twice is fine


# Inputs that cannot be read at all: one line naming the file and the fix


def test_missing_file(tmp_path: Path) -> None:
    name = str(tmp_path / "missing.txt")
    assert error_of(name) == f"urls file {name!r} does not exist; check the path"


def test_path_through_a_file(tmp_path: Path) -> None:
    name = str(tmp_path / "a.txt" / "b.txt")
    write(tmp_path / "a.txt", b"")
    assert error_of(name) == f"cannot open urls file {name!r} (Not a directory); check the path"


def test_directory(tmp_path: Path) -> None:
    assert error_of(str(tmp_path)) == (
        f"urls file {str(tmp_path)!r} is a directory; name a file inside it"
    )


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs named pipes")
def test_not_a_regular_file(tmp_path: Path) -> None:
    name = str(tmp_path / "fifo")
    os.mkfifo(name)
    assert error_of(name) == (
        f"urls file {name!r} is not a regular file; pipe it in with -a urls=- instead"
    )


def test_unreadable_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    name = write(tmp_path / "a.txt", b"http://a/\n")
    os.chmod(name, 0)
    if os.access(name, os.R_OK):  # root reads anything: make open() fail as it would

        def denied(*_args: object, **_kwargs: object) -> None:
            raise PermissionError(13, "Permission denied")

        monkeypatch.setattr("crawler.sources.inputs.open", denied, raising=False)
    assert error_of(name) == (
        f"cannot read urls file {name!r} (Permission denied); check its permissions"
    )


@pytest.mark.parametrize(
    ("data", "problem"),
    [
        (
            b"http://a/\n\0\1\2",
            "looks binary (it has NUL bytes); give a text, CSV or JSON Lines file",
        ),
        (
            gzip.compress(b"x" * 8191 + b"\0", mtime=0),  # a fixed test id for xdist
            "looks binary (it has NUL bytes); give a text, CSV or JSON Lines file",
        ),
        (
            b"PK\3\4\x14\0\6\0",
            "looks binary (it has NUL bytes); give a text, CSV or JSON Lines file",
        ),
        ("http://a/\n".encode("utf-16"), "is UTF-16 text; save it as UTF-8"),
    ],
)
def test_binary(tmp_path: Path, data: bytes, problem: str) -> None:
    name = write(tmp_path / "urls.txt", data)
    assert error_of(name) == f"urls file {name!r} {problem}"
    assert error_of("-", data) == f"urls file '-' {problem}"


def test_nul_after_the_first_8_kib_is_not_checked(tmp_path: Path) -> None:
    name = write(tmp_path / "urls.txt", b"x" * 8192 + b"\n\0http://a/\n")
    assert entries(name) == [UrlEntry("x" * 8192, name, 1), UrlEntry("\0http://a/", name, 2)]


def test_gz_suffix_on_a_plain_file(tmp_path: Path) -> None:
    name = write(tmp_path / "urls.txt.gz", b"http://a/\n")
    assert error_of(name) == (
        f"urls file {name!r} is not gzip-compressed; remove the .gz from its name"
    )


def test_empty_gz_file_is_an_empty_list(tmp_path: Path) -> None:
    name = write(tmp_path / "urls.txt.gz", b"")
    assert entries(name) == []


def test_broken_gzip(tmp_path: Path) -> None:
    name = write(tmp_path / "urls.gz", b"\x1f\x8bnot really gzip")
    assert error_of(name) == (
        f"cannot read urls file {name!r} (Unknown compression method); check the file"
    )
    header = b"\x1f\x8b\x08\0\0\0\0\0\0\xff"
    name = write(tmp_path / "corrupt.gz", header + b"\x07" + b"\0" * 16)  # deflate block type 3
    assert error_of(name) == (
        f"cannot read urls file {name!r} (Error -3 while decompressing data: "
        "invalid block type); check the file"
    )


def test_no_list_given() -> None:
    assert error_of(None) == "no URL list given; pass -a urls=FILE (or -a urls=- for stdin)"
    assert error_of(" ,") == "no URL list given; pass -a urls=FILE (or -a urls=- for stdin)"


def test_stdin_named_twice() -> None:
    assert error_of("-, -") == "standard input ('-') is named twice in urls; name it once"


def test_a_file_named_twice(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write(tmp_path / "links.txt", b"http://a.example/\n")
    monkeypatch.chdir(tmp_path)
    twice = "urls names the file {} twice; name each file once"
    assert error_of("links.txt,links.txt") == twice.format("'links.txt'")
    assert error_of(f"links.txt,{tmp_path}/links.txt") == twice.format(
        f"'links.txt' and '{tmp_path}/links.txt'"
    )


def test_no_stdin_at_all(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "stdin", None)
    with pytest.raises(UrlSourceError) as raised:
        open_sources("-")
    assert str(raised.value) == "urls names '-' but there is no standard input; pass a file"


def test_a_bad_input_closes_the_ones_opened_before(tmp_path: Path) -> None:
    good = write(tmp_path / "a.txt.gz", gzip.compress(b"http://a/\n"))
    bad = str(tmp_path / "missing.csv")
    assert error_of(f"{good},{bad}") == f"urls file {bad!r} does not exist; check the path"
    gc.collect()  # an unclosed file would raise ResourceWarning here (filterwarnings=error)


# Laziness


class EndlessStdin(io.RawIOBase):
    """An endless, non-seekable stream of URL lines that counts the bytes read from it."""

    def __init__(self) -> None:
        self.bytes_read = 0
        self._pending = b""
        self._line = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: bytearray | memoryview) -> int:  # type: ignore[override]
        while len(self._pending) < len(buffer):
            self._line += 1
            self._pending += b"http://host/%d\n" % self._line
        size = len(buffer)
        buffer[:size] = self._pending[:size]
        self._pending = self._pending[size:]
        self.bytes_read += size
        return size


def test_reading_stops_after_a_small_prefix_of_an_endless_stream() -> None:
    stream = EndlessStdin()
    with open_sources("-", stdin=stream) as sources:  # type: ignore[arg-type]
        iterator = iter(sources)
        assert next(iterator) == UrlEntry("http://host/1", "-", 1)
        assert next(iterator) == UrlEntry("http://host/2", "-", 2)
        assert stream.bytes_read <= 3 * 8192
        for _ in range(10_000):
            next(iterator)
        assert next(iterator) == UrlEntry("http://host/10003", "-", 10_003)
    assert 10_003 * 14 < stream.bytes_read < 10_003 * 20 + 3 * 8192


@pytest.mark.parametrize(
    ("suffix", "header", "line"),
    [
        (".txt.gz", b"", b"http://h/%d/%s\n"),
        (".csv.gz", b"id,url\n", b"%d,http://h/%s\n"),
        (".jsonl.gz", b"", b'{"id": %d, "url": "http://h/%s"}\n'),
    ],
)
def test_memory_stays_far_below_the_size_of_a_large_gzip_file(
    tmp_path: Path, suffix: str, header: bytes, line: bytes
) -> None:
    lines = 25_000
    data = header + b"".join(line % (i, b"p" * 100) for i in range(lines))
    assert len(data) > 2_500_000
    name = write(tmp_path / f"big{suffix}", gzip.compress(data, compresslevel=1))
    tracemalloc.start()
    try:
        with open_sources(name) as sources:
            (last,) = collections.deque(sources, maxlen=1)
        _current, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert (last.line, last.url, last.error) == (
        lines + len(header.splitlines()),
        "http://h/" + ("24999/" if suffix == ".txt.gz" else "") + "p" * 100,
        None,
    )
    assert peak < 256 * 1024  # about a tenth of the file, whatever its size (measured ~120 KiB)


def test_memory_stays_far_below_the_size_of_a_very_long_line(tmp_path: Path) -> None:
    line = b"http://a/" + b"x" * 20_000_000
    name = write(tmp_path / "big.txt.gz", gzip.compress(line + b"\nhttp://b/\n"))
    tracemalloc.start()
    try:
        with open_sources(name) as sources:
            first, second = sources
        _current, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert first == UrlEntry(
        line[:MAX_LINE_BYTES].decode(), name, 1, "line longer than 65536 bytes"
    )
    assert second == UrlEntry("http://b/", name, 2)
    assert peak < 1024 * 1024
