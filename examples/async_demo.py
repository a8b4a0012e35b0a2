"""A first snakebox module: one async function and two plain ones."""

import asyncio
from typing import Coroutine


async def async_function() -> Coroutine[int, None, None]:
    """Sleeps for a second on a real timer, then answers."""
    await asyncio.sleep(1)
    return 42


def add(a: int, b: int) -> int:
    """Adds two integers."""
    return a + b


def fail(message: str) -> str:
    """Always raises, to show how Python errors reach the caller."""
    raise ValueError(message)
