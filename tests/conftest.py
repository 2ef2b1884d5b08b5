"""Shared fixtures: a loopback server loop and trustme certificates."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest
import trustme

from tests.servers import ServerLoop

if TYPE_CHECKING:
    from collections.abc import Iterator


@pytest.fixture(scope="session")
def server_loop() -> Iterator[ServerLoop]:
    """One background event loop for every loopback server of the session."""
    servers = ServerLoop()
    yield servers
    servers.close()


@pytest.fixture(scope="session")
def tls_ca() -> trustme.CA:
    """A throwaway certificate authority."""
    return trustme.CA()


@pytest.fixture(scope="session")
def tls_server_cert(tls_ca: trustme.CA) -> trustme.LeafCert:
    """A certificate for ``localhost`` and ``127.0.0.1`` signed by :func:`tls_ca`."""
    return tls_ca.issue_cert("localhost", "127.0.0.1")
