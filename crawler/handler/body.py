"""Read a response body the way Scrapy's handlers do: size limits, signals, data loss."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

import aiohttp
from aiohttp.http_exceptions import HttpProcessingError
from scrapy import signals
from scrapy.exceptions import ResponseDataLossError, StopDownload
from scrapy.responsetypes import responsetypes
from twisted.python.failure import Failure

from crawler.exceptions import ResponseTooLargeError

if TYPE_CHECKING:
    from scrapy import Request
    from scrapy.crawler import Crawler
    from scrapy.http import Headers, Response

    from crawler.handler.response import TimedClientResponse
    from crawler.handler.timing import DownloadTiming

logger = logging.getLogger(__name__)


def size_message(size: int, limit: int, kind: str, request: Request, *, expected: bool) -> str:
    """Scrapy's own wording for a response over ``DOWNLOAD_MAXSIZE``/``DOWNLOAD_WARNSIZE``."""
    prefix = "Expected to receive" if expected else "Received"
    return (
        f"{prefix} {size} bytes which is larger than download "
        f"{kind} size ({limit}) in request {request}."
    )


def dataloss_message(url: str) -> str:
    """Scrapy's own wording for the first data-loss failure."""
    return (
        f"Got data loss in {url}. If you want to process broken "
        f"responses set the setting DOWNLOAD_FAIL_ON_DATALOSS = False"
        f" -- This message won't be shown in further requests"
    )


def stop_requested(
    signal: object, crawler: Crawler, request: Request, **kwargs: Any
) -> StopDownload | None:
    """Send ``signal``; return the ``StopDownload`` a handler raised, if any."""
    for handler, result in crawler.signals.send_catch_log(
        signal=signal, request=request, spider=crawler.spider, **kwargs
    ):
        if isinstance(result, Failure) and isinstance(result.value, StopDownload):
            logger.debug("Download stopped for %s from signal handler %s", request, handler)
            return result.value
    return None


class BodyReader:
    """Turns one aiohttp response into a Scrapy ``Response``."""

    def __init__(
        self,
        crawler: Crawler,
        request: Request,
        response: TimedClientResponse,
        headers: Headers,
        timing: DownloadTiming,
        *,
        maxsize: int,
        warnsize: int,
        fail_on_dataloss: bool,
        response_kwargs: dict[str, Any],
    ) -> None:
        self.crawler = crawler
        self.request = request
        self.response = response
        self.headers = headers
        self.timing = timing
        self.maxsize = maxsize
        self.warnsize = warnsize
        self.fail_on_dataloss = fail_on_dataloss
        self.response_kwargs = response_kwargs

    def _too_large(self, size: int, *, expected: bool) -> ResponseTooLargeError:
        message = size_message(size, self.maxsize, "max", self.request, expected=expected)
        logger.warning(message)
        self.response.close()
        return ResponseTooLargeError(message)

    def _build(
        self, body: bytes, *, flags: list[str] | None = None, stop: StopDownload | None = None
    ) -> Response:
        url = self.response_kwargs["url"]
        cls = responsetypes.from_args(headers=self.headers, url=url, body=body)
        response = cls(body=body, headers=self.headers, flags=flags, **self.response_kwargs)
        if stop is not None:
            self.response.close()
            response.flags.append("download_stopped")
            if stop.fail:
                stop.response = response
                raise stop
        return response

    async def read(self) -> Response:
        """The Scrapy response (flagged ``dataloss`` when a broken body is tolerated)."""
        length_header = self.headers.get(b"Content-Length")
        expected = int(length_header) if length_header and length_header.isdigit() else None
        if self.maxsize and expected and expected > self.maxsize:
            raise self._too_large(expected, expected=True)
        warned = False
        if self.warnsize and expected and expected > self.warnsize:
            warned = True
            logger.warning(
                size_message(expected, self.warnsize, "warn", self.request, expected=True)
            )
        if stop := stop_requested(
            signals.headers_received,
            self.crawler,
            self.request,
            headers=self.headers,
            body_length=expected,
        ):
            return self._build(b"", stop=stop)

        body = bytearray()
        try:
            async for chunk in self.response.content.iter_any():
                body += chunk
                self.timing.bytes_received = len(body)
                if stop := stop_requested(
                    signals.bytes_received, self.crawler, self.request, data=chunk
                ):
                    return self._build(bytes(body), stop=stop)
                if self.maxsize and len(body) > self.maxsize:
                    size = len(body)
                    body.clear()
                    raise self._too_large(size, expected=False)
                if self.warnsize and len(body) > self.warnsize and not warned:
                    warned = True
                    logger.warning(
                        size_message(len(body), self.warnsize, "warn", self.request, expected=False)
                    )
        except (aiohttp.ClientPayloadError, HttpProcessingError) as e:
            # aiohttp's pure-Python parser raises its HttpProcessingError unwrapped
            if self.fail_on_dataloss:
                raise ResponseDataLossError(
                    f"{self.request.url}: received {len(body)} bytes, then: {e}"
                ) from e
            return self._build(bytes(body), flags=["dataloss"])
        return self._build(bytes(body))
