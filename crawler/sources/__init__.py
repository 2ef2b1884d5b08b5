"""TEMPORARY stand-in for the sources package (being written): text files only."""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any


@dataclass(frozen=True, slots=True)
class UrlEntry:
    url: str
    source: str
    line: int
    error: str | None = None


class UrlSourceError(ValueError):
    pass


class UrlSources:
    def __init__(self, paths: list[str], stdin: IO[bytes] | None) -> None:
        self.paths = paths
        self.stdin = stdin
        for p in paths:
            if p != "-" and not Path(p).is_file():
                raise UrlSourceError(f"urls file {p!r} does not exist")

    def describe(self) -> str:
        return ", ".join(self.paths)

    def __iter__(self) -> Any:
        for p in self.paths:
            stream = self.stdin if p == "-" else open(p, "rb")  # noqa: SIM115
            assert stream is not None
            try:
                for n, raw in enumerate(stream, 1):
                    text = raw.decode("utf-8", "replace").strip()
                    if text and not text.startswith("#"):
                        yield UrlEntry(text, p, n)
            finally:
                if p != "-":
                    stream.close()

    def close(self) -> None:
        pass

    def __enter__(self) -> UrlSources:
        return self

    def __exit__(self, *a: object) -> None:
        pass


def open_sources(spec: str | None, *, stdin: IO[bytes] | None = None, default: Path | None = None) -> UrlSources:
    paths = [p.strip() for p in spec.split(",")] if spec else [str(default)]
    return UrlSources(paths, stdin or sys.stdin.buffer)
