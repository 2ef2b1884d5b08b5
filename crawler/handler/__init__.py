"""The download handler: download one request on aiohttp and time every phase of it.

``crawler.handler.AiohttpDownloadHandler`` is the class to name in ``DOWNLOAD_HANDLERS`` (or
let the add-on do it); see ``docs/handler.md``. It is imported on first use, so a module of this
package (the timing model, say) can be imported without aiohttp's client.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from crawler.handler.download import AiohttpDownloadHandler

__all__ = ["AiohttpDownloadHandler"]


def __getattr__(name: str) -> Any:
    if name == "AiohttpDownloadHandler":
        from crawler.handler.download import AiohttpDownloadHandler

        return AiohttpDownloadHandler
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
