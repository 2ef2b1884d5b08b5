"""An aiohttp download handler for Scrapy that measures where the time of every download went."""

from __future__ import annotations

from crawler.checker.rows import timing_fields
from crawler.handler.download import AiohttpDownloadHandler
from crawler.handler.timing import TIMING_META_KEY, DownloadTiming

__version__ = "0.1.0"

__all__ = [
    "AiohttpDownloadHandler",
    "DownloadTiming",
    "TIMING_META_KEY",
    "__version__",
    "timing_fields",
]
