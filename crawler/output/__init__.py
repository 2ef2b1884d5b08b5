"""Rows out and back in: exports, resume, merge, summary, progress and reports.

See ``docs/outputs.md``.
"""

from __future__ import annotations

from crawler.output.read import ExportReader, Record, entry_of, export_format

__all__ = ["ExportReader", "Record", "entry_of", "export_format"]
