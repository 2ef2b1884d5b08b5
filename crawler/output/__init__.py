"""Rows out and back in: exports, resume, merge, summary, progress and reports.

See ``docs/outputs.md``.
"""
