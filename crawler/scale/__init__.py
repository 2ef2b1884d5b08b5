"""More than one process: local workers (``workers=N``), shards of a list, Redis jobs.

See ``docs/scale.md``.
"""
