"""The ``urls`` spider's arguments (``-a NAME=VALUE``), parsed and checked once.

Their names and one-line help are :data:`crawler.names.SPIDER_ARGUMENTS`; see
``docs/checking.md``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from crawler.checker.accept import StatusRanges
from crawler.checker.methods import check_method
from crawler.checker.rules import compile_patterns
from crawler.checker.slo import Slo
from crawler.names import SPIDER_ARGUMENTS, check_argument_names
from crawler.scale.redis.config import RedisJob
from crawler.scale.shard import Shard, parse_workers

if TYPE_CHECKING:
    from collections.abc import Mapping
    from typing import Self

    from crawler.checker.methods import CheckMethod


@dataclass(frozen=True, slots=True)
class SpiderArguments:
    """Every argument of a URL check, parsed; ``None`` where it was not given."""

    urls: str | None = None
    resume: str | None = None
    accept: StatusRanges | None = None
    include: str | None = None
    exclude: str | None = None
    method: CheckMethod | None = None
    slo: Slo | None = None
    workers: int | None = None
    shard: Shard | None = None
    redis: str | None = None
    job: str | None = None

    @classmethod
    def parse(
        cls,
        given: Mapping[str, str],
        *,
        known: Mapping[str, str] = SPIDER_ARGUMENTS,
        spider: str = "urls",
    ) -> Self:
        """Parse the ``given`` arguments; ``ValueError`` (one line, naming the fix) for a bad
        value, a name not in ``known`` or two that do not go together."""
        check_argument_names([name for name in given if name not in SPIDER_ARGUMENTS], known,
                             spider=spider)  # fmt: skip
        text = {name: given[name] for name in SPIDER_ARGUMENTS if given.get(name) is not None}
        compile_patterns(text.get("include"), "include")
        compile_patterns(text.get("exclude"), "exclude")
        parsed = cls(
            urls=text.get("urls"),
            resume=text.get("resume"),
            accept=StatusRanges.parse(text["accept"], name="accept") if "accept" in text else None,
            include=text.get("include"),
            exclude=text.get("exclude"),
            method=check_method(text["method"], name="method") if "method" in text else None,
            slo=Slo.parse(text["slo"], name="slo") if "slo" in text else None,
            workers=parse_workers(text["workers"], name="workers") if "workers" in text else None,
            shard=Shard.parse(text["shard"]) if "shard" in text else None,
            redis=text.get("redis"),
            job=text.get("job"),
        )
        parsed._check_together()
        return parsed

    def _check_together(self) -> None:
        if self.redis is not None or self.job is not None:
            if self.urls is not None or self.resume is not None:
                raise ValueError(
                    "a Redis worker takes its entries from the job: drop urls=/resume= "
                    "(load lists with `scrapy feed FILE`)"
                )
            if self.redis is not None:
                RedisJob.checked(url=self.redis, name=self.job or "urls")
        elif self.resume is not None and self.urls is None:
            raise ValueError("resume= needs the list it resumes: add -a urls=FILE")
