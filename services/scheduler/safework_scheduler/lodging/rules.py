"""The districts' random tests of boarding-house renters and owners (seeds/000 §2.3), as pure
functions: a reproducible rotating sample drawn round by round."""

from __future__ import annotations

import math
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, timedelta

from safework_scheduler.due.rules import sample_order_key

# Rounds count from this Monday in every version, as the enterprises' rounds do.
ANCHOR = date(2021, 1, 4)


@dataclass(frozen=True, slots=True)
class Round:
    index: int
    starts_on: date
    ends_on: date  # the last day, inclusive


def district_key(district: str) -> uuid.UUID:
    """A stable id for a district, to order its population (uuid5 of its canonical name)."""
    return uuid.uuid5(uuid.NAMESPACE_URL, "safework:district:" + district)


def round_of(day: date, round_days: int) -> Round:
    index = (day - ANCHOR).days // round_days
    start = ANCHOR + timedelta(days=index * round_days)
    return Round(index, start, start + timedelta(days=round_days - 1))


def sample_size(population: int, ratio: float) -> int:
    """At least the ratio, whole people (round() first: 0.1 * 30 must give 3, not 4)."""
    return min(population, math.ceil(round(ratio * population, 9))) if population else 0


def draw(district: str, people: Iterable[uuid.UUID], ratio: float, index: int) -> list[uuid.UUID]:
    """Round ``index``'s sample: the population in a stable pseudo-random order of the district
    (``sample_order_key``), ``sample_size`` people from where the previous round stopped,
    wrapping around, so everyone is drawn once before anyone is drawn again while the population
    stays the same. Reproducible: the same district, people, ratio and round give the same."""
    key = district_key(district)
    ordered = sorted(set(people), key=lambda pid: sample_order_key(key, pid))
    n = len(ordered)
    size = sample_size(n, ratio)
    if size == 0:
        return []
    start = (index * size) % n
    return [ordered[(start + i) % n] for i in range(size)]
