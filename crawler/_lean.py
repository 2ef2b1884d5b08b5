"""Leave out the Scrapy components a run has turned off, so their modules are never imported."""

from __future__ import annotations

from typing import TYPE_CHECKING

from scrapy.settings import SETTINGS_PRIORITIES

if TYPE_CHECKING:
    from scrapy.settings import BaseSettings

COOKIES_MIDDLEWARE = "scrapy.downloadermiddlewares.cookies.CookiesMiddleware"
"""Imports tldextract, requests and urllib3 (about 3 MB) even when ``COOKIES_ENABLED`` is off."""


def leave_out_unused_middlewares(settings: BaseSettings) -> None:
    """With ``COOKIES_ENABLED`` off, take the cookies middleware out of Scrapy's
    ``DOWNLOADER_MIDDLEWARES_BASE``, which Scrapy would otherwise import only to find it not
    configured. (Naming it in ``DOWNLOADER_MIDDLEWARES``, even as ``None``, imports it too.)
    A project that names it in ``DOWNLOADER_MIDDLEWARES`` keeps it as it set it."""
    if settings.getbool("COOKIES_ENABLED"):
        return
    if any(str(key) == COOKIES_MIDDLEWARE for key in settings.getdict("DOWNLOADER_MIDDLEWARES")):
        return
    base = settings.getdict("DOWNLOADER_MIDDLEWARES_BASE")
    if base.pop(COOKIES_MIDDLEWARE, None) is None:
        return
    priority = settings.getpriority("DOWNLOADER_MIDDLEWARES_BASE") or 0
    settings.set(
        "DOWNLOADER_MIDDLEWARES_BASE", base, priority=max(priority, SETTINGS_PRIORITIES["spider"])
    )
