"""Hold one downloader slot (one host) back for a while, leaving every other slot alone.

Scrapy's downloader starts a slot's next download ``delay`` seconds after its ``lastseen``
time (``time.monotonic()``); the AutoThrottle extension tunes the same ``delay``. Moving
``lastseen`` into the future therefore holds back that slot's queue, and only that one,
until then, and Scrapy's own delay timer starts the queue again.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from scrapy.crawler import Crawler

MIN_DELAY = 0.001
"""A slot without a delay never looks at ``lastseen``: a held slot gets at least this delay."""


def hold_slot(crawler: Crawler, key: str, seconds: float) -> bool:
    """Start no download from slot ``key`` for ``seconds``; ``False`` when there is no such slot."""
    try:
        engine = crawler.engine
    except RuntimeError:  # no crawl running: no downloader, no slots
        return False
    slots = getattr(getattr(engine, "downloader", None), "slots", None)
    slot = slots.get(key) if isinstance(slots, dict) else None
    if slot is None or not hasattr(slot, "lastseen") or not hasattr(slot, "delay"):
        return False
    slot.delay = max(slot.delay, MIN_DELAY)
    slot.lastseen = max(slot.lastseen, time.monotonic() + seconds)
    return True
