"""The hand-written aiohttp loop of the seed, with C workers: the practical ceiling.

``python -m bench.raw_aiohttp FILE CONCURRENCY``; prints ``ok=N elapsed=SECONDS``.
"""

from __future__ import annotations

import asyncio
import sys
import time

import aiohttp


async def worker(session: aiohttp.ClientSession, queue: asyncio.Queue[str], out: list[int]) -> None:
    while True:
        url = await queue.get()
        try:
            async with session.get(url) as response:
                await response.read()
                out.append(response.status)
        except aiohttp.ClientError:
            out.append(0)
        finally:
            queue.task_done()


async def main(path: str, concurrency: int) -> None:
    started = time.perf_counter()
    queue: asyncio.Queue[str] = asyncio.Queue(maxsize=concurrency * 2)
    statuses: list[int] = []
    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(connector=connector) as session:
        workers = [
            asyncio.create_task(worker(session, queue, statuses)) for _ in range(concurrency)
        ]
        with open(path, encoding="utf-8") as lines:
            for line in lines:
                await queue.put(line.strip())
        await queue.join()
        for task in workers:
            task.cancel()
    elapsed = time.perf_counter() - started
    print(f"ok={statuses.count(200)} elapsed={elapsed:.6f}", flush=True)


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], int(sys.argv[2])))
