"""Drives the async functions of ``peers`` on one asyncio event loop, for
the PyO3 peer (each calling thread runs its own loop)."""

import asyncio

import peers


async def _many(name: str, count: int) -> None:
    function = getattr(peers, name)
    await asyncio.gather(*(function() for _ in range(count)))


def run_many(name: str, count: int) -> None:
    """``count`` concurrent calls of ``name``."""
    asyncio.run(_many(name, count))


async def _in_turn(name: str, count: int) -> None:
    function = getattr(peers, name)
    for _ in range(count):
        # A task for each call, as a host's call of an async export is.
        await asyncio.ensure_future(function())


def run_in_turn(name: str, count: int) -> None:
    """``count`` calls of ``name``, each awaited before the next."""
    asyncio.run(_in_turn(name, count))
