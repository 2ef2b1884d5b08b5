"""An aiohttp response that keeps what the transport knew when the response started.

aiohttp may release the connection as soon as an empty body is read (aio-libs/aiohttp#2205),
after which the peer address and TLS object are gone, so they are captured in ``start()``,
which is also the instant the response headers have been parsed (the first byte mark).

``start()`` also bounds the informational (1xx) responses before the final one: aiohttp reads
any number of them, so a server sending ``100 Continue`` without end would hold the download
(and its timeout, while they keep coming) and fill memory with parsed messages.
"""

from __future__ import annotations

import ssl
import time
from typing import TYPE_CHECKING

import aiohttp

from crawler.handler.timing import current_clock

if TYPE_CHECKING:
    from collections.abc import Callable, Coroutine
    from typing import Any

    from aiohttp.connector import Connection
    from aiohttp.http import RawResponseMessage
    from aiohttp.streams import StreamReader

    Message = tuple[RawResponseMessage, StreamReader]
    Read = Callable[[], Coroutine[Any, Any, Message]]

MAX_INFORMATIONAL = 32
"""Informational (1xx) responses accepted before the final response of one request."""
MAX_INFORMATIONAL_BYTES = 65536
"""Bytes of status lines and headers of those informational responses, all together."""


class TimedClientResponse(aiohttp.ClientResponse):
    """A ``ClientResponse`` that remembers the peer address and TLS object."""

    peer_address: tuple[str, int] | None = None
    tls_object: ssl.SSLObject | None = None

    async def start(self, connection: Connection) -> aiohttp.ClientResponse:
        transport = connection.transport
        if transport is not None:
            peer = transport.get_extra_info("peername")
            if isinstance(peer, tuple):
                self.peer_address = (str(peer[0]), int(peer[1]))
            tls_object = transport.get_extra_info("ssl_object")
            if isinstance(tls_object, ssl.SSLObject):
                self.tls_object = tls_object
        protocol = connection.protocol
        if protocol is None:
            response = await super().start(connection)
        else:
            # aiohttp's start() reads messages until a final one: count what it reads.
            protocol.read = self._bounded(protocol.read)  # type: ignore[method-assign]
            try:
                response = await super().start(connection)
            finally:
                del protocol.read  # the class's own again, for the connection's next request
        if (clock := current_clock.get()) is not None:
            clock.headers = time.perf_counter()
        return response

    def _bounded(self, read: Read) -> Read:
        """``read`` of a protocol, raising once the informational responses pass the bounds."""
        count = size = 0

        async def bounded_read() -> Message:
            nonlocal count, size
            message, payload = await read()
            if 100 <= message.code < 200 and message.code != 101:
                count += 1
                size += len(b"HTTP/1.1 100 \r\n\r\n") + len(message.reason)
                size += sum(len(name) + len(value) + 4 for name, value in message.raw_headers)
                if count > MAX_INFORMATIONAL or size > MAX_INFORMATIONAL_BYTES:
                    raise aiohttp.ClientResponseError(
                        self.request_info,
                        self.history,
                        status=message.code,
                        message=(
                            f"more than {MAX_INFORMATIONAL} informational (1xx) responses or "
                            f"{MAX_INFORMATIONAL_BYTES} bytes of them before the final response"
                        ),
                    )
            return message, payload

        return bounded_read
