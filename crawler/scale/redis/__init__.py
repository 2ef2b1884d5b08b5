"""Many workers, one URL list, one result set: the list is shared through Redis.

``scrapy feed`` loads a list into a Redis stream; workers (``scrapy crawl urls -a redis=URL``)
lease entries from it through a consumer group, write their own rows and acknowledge each
entry once its row is on disk; ``scrapy merge`` joins the workers' outputs into one export
with exactly one row per entry. A worker that dies leaves its leases unacknowledged: after
``CRAWLER_REDIS_LEASE`` seconds without a heartbeat the other workers take them over.
"""

from __future__ import annotations

from crawler.scale.redis.config import RedisJob, RedisUnavailableError

__all__ = ["RedisJob", "RedisUnavailableError"]
