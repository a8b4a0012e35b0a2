"""A tiny stock keeper, called from Rust through generated typed bindings."""

import asyncio
from typing import Optional

_stock: dict[str, int] = {}


def restock(item: str, count: int = 1) -> int:
    """Adds `count` of `item` (one by default) and returns the new level."""
    _stock[item] = _stock.get(item, 0) + count
    return _stock[item]


def levels() -> dict[str, int]:
    """Every item and its level."""
    return dict(_stock)


async def reserve(item: str, count: int, hold_seconds: float = 0.05) -> Optional[int]:
    """Takes `count` of `item` after a short hold; `None` when there is not enough."""
    await asyncio.sleep(hold_seconds)
    have = _stock.get(item, 0)
    if have < count:
        return None
    _stock[item] = have - count
    return _stock[item]


def audit(item: str) -> int:
    """Raises for an item that was never stocked."""
    return _stock[item]
