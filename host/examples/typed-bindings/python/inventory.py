"""A tiny stock keeper, called from Rust through generated typed bindings."""

import asyncio
import enum
from dataclasses import dataclass
from typing import AsyncIterator, Iterator, Literal, Optional

_stock: dict[str, int] = {}

Shelf = Literal["front", "back", "cold_room"]


class Grade(enum.Enum):
    """How good a delivery is."""

    FRESH = "fresh"
    BRUISED = "bruised"
    SPOILT = "spoilt"


@dataclass
class Delivery:
    """A delivery of one item."""

    item: str
    count: int
    grade: Grade
    note: Optional[str]


@dataclass
class Loose:
    """Items counted one by one."""

    count: int


@dataclass
class Boxed:
    """Items in boxes, counted one by one too."""

    count: int


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


def receive(delivery: Delivery, shelf: Shelf = "front") -> Delivery:
    """Stocks a delivery unless it is spoilt; returns it, annotated."""
    if delivery.grade is not Grade.SPOILT:
        restock(delivery.item, delivery.count)
    delivery.note = f"{delivery.grade.value} on the {shelf} shelf"
    return delivery


def shelf_for(grade: Grade) -> Shelf:
    """Where a delivery of this grade goes."""
    return "cold_room" if grade is Grade.FRESH else "back"


def grades(deliveries: list[Delivery]) -> dict[Grade, int]:
    """How many items arrived in each grade."""
    counts: dict[Grade, int] = {}
    for delivery in deliveries:
        counts[delivery.grade] = counts.get(delivery.grade, 0) + delivery.count
    return counts


def pack(count: int, boxed: bool) -> Loose | Boxed:
    """Packs `count` items, loose or in boxes."""
    return Boxed(count) if boxed else Loose(count)


def unpack(goods: Loose | Boxed) -> int:
    """How many items a pack holds; boxes hold a dozen each."""
    return goods.count * 12 if isinstance(goods, Boxed) else goods.count


def weigh(amount: float | int) -> float | int:
    """Returns a weight as given: kilograms as a float, grams as an int."""
    return amount


def stock_report() -> Iterator[tuple[str, int]]:
    """Each item and its level, one at a time."""
    for item, count in sorted(_stock.items()):
        yield item, count


async def arrivals(count: int) -> AsyncIterator[Delivery]:
    """Deliveries as they arrive."""
    for i in range(count):
        await asyncio.sleep(0.001)
        yield Delivery(f"crate{i}", i, Grade.FRESH, None)
