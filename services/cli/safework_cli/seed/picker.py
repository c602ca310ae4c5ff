"""Weighted choice in constant time: a 1,024-slot table drawn with one ``getrandbits(10)``."""

from __future__ import annotations

import random
from collections.abc import Sequence
from typing import Generic, TypeVar

T = TypeVar("T")
_SLOTS = 1024


class Picker(Generic[T]):
    """Pick an item with (approximately, to 1/1024) the given weights."""

    __slots__ = ("_table",)

    def __init__(self, weighted: Sequence[tuple[T, float]]) -> None:
        total = sum(w for _, w in weighted)
        if total <= 0:
            raise ValueError("weights must add up to more than zero")
        table: list[T] = []
        acc = 0.0
        for item, weight in weighted:
            acc += weight
            table.extend([item] * (round(acc / total * _SLOTS) - len(table)))
        self._table = tuple(table)

    def __call__(self, rng: random.Random) -> T:
        return self._table[rng.getrandbits(10)]


def uniform(items: Sequence[T]) -> Picker[T]:
    return Picker([(item, 1.0) for item in items])
