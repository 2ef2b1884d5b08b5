"""What every URL source yields, and the error a whole input raises."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class UrlEntry:
    """One entry of a URL list: what the user wrote and where."""

    url: str
    """The URL as given, without surrounding white space; ``""`` when missing."""
    source: str
    """The input it came from, as named by the user (``-`` for standard input)."""
    line: int
    """Its 1-based line number in that input (after decompression)."""
    error: str | None = None
    """Why the entry itself cannot be read (broken JSON line, undecodable bytes…)."""


class UrlSourceError(ValueError):
    """A whole input cannot be read: missing, a directory, binary, a CSV without ``url``…"""
