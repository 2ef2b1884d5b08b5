"""An aiohttp response that keeps what the transport knew when the response started.

aiohttp may release the connection as soon as an empty body is read (aio-libs/aiohttp#2205),
after which the peer address and TLS object are gone, so they are captured in ``start()``,
which is also the instant the response headers have been parsed (the first byte mark).
"""

from __future__ import annotations

import ssl
import time
from typing import TYPE_CHECKING

import aiohttp

from crawler._timing import current_clock

if TYPE_CHECKING:
    from aiohttp.connector import Connection


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
        response = await super().start(connection)
        if (clock := current_clock.get()) is not None:
            clock.headers = time.perf_counter()
        return response
