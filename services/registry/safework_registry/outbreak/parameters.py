"""The outbreak parameters the seeds leave open (``parameters.yaml``), each with its source."""

from __future__ import annotations

import functools
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import yaml

from safework_registry.venues.models import VENUE_KINDS

_FILE = Path(__file__).with_name("parameters.yaml")


@dataclass(frozen=True, slots=True)
class Assumption:
    parameter: str
    value: Any
    source: str


@dataclass(frozen=True, slots=True)
class OutbreakParameters:
    infectious_before: timedelta
    dwell: dict[str, timedelta]
    accommodation_unit: str
    assumptions: tuple[Assumption, ...]


def parse(document: dict[str, Any]) -> OutbreakParameters:
    sources: dict[str, str] = document["sources"]
    dwell = {kind: timedelta(minutes=int(document["dwell_minutes"][kind])) for kind in VENUE_KINDS}
    values: dict[str, Any] = {
        "infectious_days_before_collection": document["infectious_days_before_collection"],
        **{f"dwell_minutes.{k}": document["dwell_minutes"][k] for k in VENUE_KINDS},
        "accommodation_unit": document["accommodation_unit"],
    }
    missing = sorted(set(values) - set(sources))
    if missing:
        raise ValueError(f"outbreak parameters without a source: {missing}")
    if any(d <= timedelta(0) for d in dwell.values()):
        raise ValueError("every dwell must be positive")
    return OutbreakParameters(
        infectious_before=timedelta(days=int(document["infectious_days_before_collection"])),
        dwell=dwell,
        accommodation_unit=str(document["accommodation_unit"]),
        assumptions=tuple(
            Assumption(name, value, sources[name])
            for name, value in values.items()
            if sources[name].startswith("not in the source")
        ),
    )


@functools.cache
def current() -> OutbreakParameters:
    return parse(yaml.safe_load(_FILE.read_text(encoding="utf-8")))
