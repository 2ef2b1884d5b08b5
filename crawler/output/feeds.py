"""Checks of a run's outputs (``FEEDS``) before it crawls: one line naming the fix, not a
traceback per row once the crawl is under way."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote, urlsplit

from crawler.output.resume import check_output, resume_paths

if TYPE_CHECKING:
    from collections.abc import Mapping


def local_path(uri: str) -> Path | None:
    """The local file a feed URI names; ``None`` for stdout, remote URIs and placeholders."""
    if "%(" in uri:
        return None
    parts = urlsplit(uri)
    if parts.scheme == "file":
        return Path(unquote(parts.path))
    if parts.scheme == "" or len(parts.scheme) == 1:  # C: is a drive
        return Path(uri)
    return None


def _nearest_directory(path: Path) -> Path:
    """``path``'s parent, or its nearest ancestor that exists (Scrapy creates the rest)."""
    parent = path.parent
    while not parent.exists() and parent != parent.parent:
        parent = parent.parent
    return parent


def output_problem(path: Path) -> str | None:
    """Why rows cannot be written to ``path``, or ``None``; nothing is created or changed."""
    if path.is_dir():
        return f"{path} is a directory; name a file in it, e.g. {path / 'results.csv'}"
    parent = _nearest_directory(path)
    if not parent.is_dir():
        return f"{parent} is not a directory; write to a file in a directory"
    try:
        with tempfile.TemporaryFile(dir=parent):
            pass
        if path.is_file():
            with path.open("ab"):
                pass
    except OSError as e:
        return f"cannot write in {parent} ({e.strerror}); write to a directory you can write to"
    return None


def check_outputs(feeds: Mapping[str, Any]) -> None:
    """``ValueError`` (one line) for the first local output that cannot be written."""
    for uri in feeds:
        path = local_path(str(uri))
        if path is not None and (problem := output_problem(path)):
            raise ValueError(f"Cannot write the output {uri}: {problem}")


def appended_outputs(feeds: Mapping[str, Any]) -> set[Path]:
    """The local files (resolved) the feeds append rows to (``-o``, not ``-O``)."""
    paths = {
        (path.resolve(), bool((options or {}).get("overwrite")))
        for uri, options in feeds.items()
        if (path := local_path(str(uri))) is not None
    }
    return {path for path, overwrite in paths if not overwrite}


def _holds_rows(path: Path) -> bool:
    """Whether ``path`` holds a row: a line after a CSV header, any line in other formats."""
    try:
        with path.open("rb") as file:
            head = file.read(65536)
    except OSError:
        return False
    if path.suffix == ".csv":
        head = head.partition(b"\n")[2]
    return bool(head.strip())


def check_resume_outputs(feeds: Mapping[str, Any], resume: str, *, workers: int) -> None:
    """``ValueError`` (one line) for a ``resume`` file that is not an output of ours, an output
    that would replace the rows it resumes from, or one that already holds rows of another run.

    In one process, ``-o`` appends to the file being resumed; workers merge their rows into
    their outputs, replacing them, so they must write to a new file. Appending to a file with
    rows that ``resume`` does not name (a typo) would give every entry a second row.
    """
    resumed = {path.resolve() for path in resume_paths(resume)}
    for resumed_path in resume_paths(resume):
        if resumed_path.is_file():
            check_output(resumed_path)
    for uri, options in feeds.items():
        path = local_path(str(uri))
        if path is None:
            continue
        if path.resolve() not in resumed:
            if not (options or {}).get("overwrite") and workers <= 1 and _holds_rows(path):
                raise ValueError(
                    f"-o {uri} appends to a file with rows that resume={resume} does not name: "
                    f"every entry would get a second row; resume from it (-a resume={uri}) "
                    f"or replace it (-O {uri})"
                )
            continue
        if workers > 1:
            raise ValueError(
                f"{uri} is the file being resumed, and workers replace their outputs: write the "
                f"rest to a new file (-a resume={uri} -O rest{path.suffix}; scrapy merge joins "
                f"the two), or resume into it in one process with -o {uri}"
            )
        if (options or {}).get("overwrite"):
            raise ValueError(
                f"-O {uri} would delete the rows being resumed: append to it with -o {uri}"
            )
