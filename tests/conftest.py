"""Shared fixtures: a loopback server loop and trustme certificates."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

import pytest
import redis
import trustme
import uvloop

from tests.redis_server import RedisServer
from tests.servers import ServerLoop

if TYPE_CHECKING:
    from collections.abc import Iterator

# The project runs on uvloop (ASYNCIO_EVENT_LOOP); so do the in-process crawls: the reactor
# that pytest-twisted installs takes its loop from this policy.
asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())


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


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    """A real redis-server for the session (one per xdist worker)."""
    server = RedisServer(tmp_path_factory.mktemp("redis"))
    yield server
    server.stop()


@pytest.fixture
def redis_url(redis_server: RedisServer) -> str:
    """The session's Redis, emptied for this test."""
    client = redis.Redis.from_url(redis_server.url)
    client.flushall()
    client.close()
    return redis_server.url
