"""The functions every peer runs in the benchmark, unchanged.

snakebox and the hand-wired wasmtime peer run them inside the component built
from this file; PyO3 and native python3 import this file as it is.
"""

import asyncio


def add(a: int, b: int) -> int:
    return a + b


def echo(text: str) -> str:
    return text


def scale(values: list[float]) -> list[float]:
    return values


async def nap() -> int:
    await asyncio.sleep(0.01)
    return 1


async def blink() -> int:
    await asyncio.sleep(0.001)
    return 1


async def tick() -> int:
    """One turn of the event loop: the cost of an async call itself."""
    await asyncio.sleep(0)
    return 1


def fib(n: int) -> int:
    if n < 2:
        return n
    return fib(n - 1) + fib(n - 2)


def words(count: int) -> int:
    """String and dict work: counts word frequencies in generated text."""
    counts: dict[str, int] = {}
    for i in range(count):
        word = "w" + str(i % 97)
        counts[word] = counts.get(word, 0) + len(word)
    return sum(counts.values())


class Counter:
    """An object with state, for the rows on classes."""

    def __init__(self, start: int = 0) -> None:
        self.value = start

    def add(self, n: int) -> int:
        self.value += n
        return self.value
