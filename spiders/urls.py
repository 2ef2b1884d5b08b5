"""The ``urls`` spider lives in ``crawler.spiders.urls`` (``SPIDER_MODULES``); this name stays."""

from __future__ import annotations

from crawler.spiders.urls import UrlsSpider

__all__ = ["UrlsSpider"]
