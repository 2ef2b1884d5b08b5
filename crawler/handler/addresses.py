"""``CRAWLER_EXCLUDE_PRIVATE``: connect to public addresses only, checked after DNS resolution.

Host names are checked by :class:`PublicOnlyResolver`, which wraps the configured resolver and
drops every non-public address it returns (so nothing non-public reaches aiohttp's DNS cache);
IP literals, which aiohttp never resolves, by :func:`refuse_non_public_literal`.
"""

from __future__ import annotations

import ipaddress
import socket
from typing import TYPE_CHECKING

from aiohttp.abc import AbstractResolver

from crawler.exceptions import PrivateAddressError

if TYPE_CHECKING:
    from aiohttp.abc import ResolveResult


def is_public(address: str) -> bool:
    """Whether ``address`` is a global unicast address (not private, loopback, link-local,
    shared, reserved, documentation, unspecified or multicast)."""
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_global and not ip.is_multicast


class NonPublicAddressesError(OSError):
    """Raised inside aiohttp's resolution (an ``OSError``, as resolvers raise) when a host
    name resolves to non-public addresses only; the handler maps it to
    :class:`~crawler.exceptions.PrivateAddressError`."""

    def __init__(self, host: str, addresses: list[str]) -> None:
        shown = ", ".join(addresses) or "no address"
        super().__init__(f"{host} resolves only to non-public addresses ({shown})")


class PublicOnlyResolver(AbstractResolver):
    """Wraps another resolver and keeps only the public addresses it returns."""

    def __init__(self, resolver: AbstractResolver) -> None:
        self.resolver = resolver

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        """The public addresses of ``host``; raise :class:`NonPublicAddressesError` if none."""
        results = await self.resolver.resolve(host, port, family)
        public = [result for result in results if is_public(result["host"])]
        if not public:
            raise NonPublicAddressesError(host, [result["host"] for result in results])
        return public

    async def close(self) -> None:
        """Close the wrapped resolver."""
        await self.resolver.close()


def refuse_non_public_literal(url: str, host: str | None) -> None:
    """Raise :class:`~crawler.exceptions.PrivateAddressError` when ``host`` is a non-public
    IP literal (aiohttp connects to literals without resolving them)."""
    if not host:
        return
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return  # a host name: PublicOnlyResolver checks what it resolves to
    if not is_public(host):
        raise PrivateAddressError(
            f"excluded: {host} is not a public address (CRAWLER_EXCLUDE_PRIVATE) in {url}"
        )
