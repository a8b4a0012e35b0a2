"""Drives many concurrent calls of ``peers.nap`` on one asyncio event loop,
for the PyO3 peer (each calling thread runs its own loop)."""

import asyncio

import peers


async def _many(count: int) -> None:
    await asyncio.gather(*(peers.nap() for _ in range(count)))


def run_many(count: int) -> None:
    asyncio.run(_many(count))
