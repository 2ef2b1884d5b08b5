"""Run ``async def`` tests as asyncio tasks on the asyncio reactor, as Scrapy runs its code."""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING, Any, ParamSpec

from scrapy.utils.defer import deferred_from_coro

if TYPE_CHECKING:
    from collections.abc import Callable, Coroutine

    from twisted.internet.defer import Deferred

P = ParamSpec("P")


def coroutine_test(
    test: Callable[P, Coroutine[Any, Any, None]],
) -> Callable[P, Deferred[Any]]:
    """Wrap an ``async def`` test so pytest-twisted waits for it on the reactor."""

    @functools.wraps(test)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> Deferred[Any]:
        return deferred_from_coro(test(*args, **kwargs))

    return wrapper
