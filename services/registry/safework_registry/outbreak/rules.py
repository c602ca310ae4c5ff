"""Tracing and isolation rules as pure functions: no I/O (the repository runs the same overlap
rule in SQL over the check-in index; tests check both against these).

- A case's infectious window (seeds/004 §II.3; its length is a parameter not in the source):
  from ``collected_at - infectious_before`` to the F0's isolation, or until traced.
- Two check-ins at one venue overlap when the stays they stand for overlap. A check-in is a
  point; the stay it stands for is ``[t, t + dwell)`` for the venue's kind (not in the source).
  Half-open: check-ins exactly ``dwell`` apart touch and do not overlap.
- Quarantine rooms (seeds/002 §4): "không để người có nguy cơ cao ở chung phòng với người có
  nguy cơ thấp": a room holds high-risk (F0, F1) or low-risk people, never both.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Final, Literal

HIGH: Final = "high"
LOW: Final = "low"
Risk = Literal["high", "low"]


@dataclass(frozen=True, slots=True)
class Window:
    start: datetime
    end: datetime

    def holds(self, instant: datetime) -> bool:
        """An F0 check-in counts when it falls in the window (both ends included)."""
        return self.start <= instant <= self.end


def infectious_window(
    collected_at: datetime, infectious_before: timedelta, isolated_at: datetime | None, traced_at: datetime
) -> Window:
    """From ``infectious_before`` ahead of the specimen's collection until the F0 was isolated
    (if known, and not after tracing), else until the trace."""
    if collected_at.tzinfo is None or traced_at.tzinfo is None:
        raise ValueError("instants must carry a time zone")
    end = traced_at if isolated_at is None else min(isolated_at, traced_at)
    return Window(collected_at - infectious_before, end)


def overlaps(f0_at: datetime, other_at: datetime, dwell: timedelta) -> bool:
    """Stays ``[t, t + dwell)`` of two check-ins at the same venue overlap."""
    return abs(other_at - f0_at) < dwell


@dataclass(frozen=True, slots=True)
class CheckInPoint:
    person_id: uuid.UUID
    venue_id: uuid.UUID
    kind: str
    at: datetime


@dataclass(frozen=True, slots=True)
class VenueLink:
    person_id: uuid.UUID
    venue_id: uuid.UUID
    exposed_at: datetime


def venue_contacts(
    f0: uuid.UUID,
    window: Window,
    checkins: Iterable[CheckInPoint],
    dwell: dict[str, timedelta],
) -> list[VenueLink]:
    """Everyone whose check-in overlaps one of the F0's check-ins in the window at the same
    venue; each person once, at their earliest such check-in (the reference the SQL matches)."""
    points = list(checkins)
    mine = [c for c in points if c.person_id == f0 and window.holds(c.at)]
    found: dict[uuid.UUID, VenueLink] = {}
    for other in points:
        if other.person_id == f0:
            continue
        for c in mine:
            if c.venue_id == other.venue_id and overlaps(c.at, other.at, dwell[c.kind]):
                best = found.get(other.person_id)
                if best is None or other.at < best.exposed_at:
                    found[other.person_id] = VenueLink(other.person_id, other.venue_id, other.at)
                break
    return sorted(found.values(), key=lambda link: str(link.person_id))


# -- isolation rooms ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Room:
    room_id: uuid.UUID
    capacity: int
    occupants: tuple[Risk, ...] = ()

    @property
    def risk(self) -> Risk | None:
        """The risk class the room holds now (None: empty)."""
        return self.occupants[0] if self.occupants else None

    @property
    def free(self) -> int:
        return self.capacity - len(self.occupants)


def refusal(room: Room, risk: Risk) -> str | None:
    """Why ``room`` cannot take one more person of ``risk`` (a stable code), or None."""
    if room.free <= 0:
        return "room_full"
    if room.risk is not None and room.risk != risk:
        return "room_risk_mix"
    return None


@dataclass(frozen=True, slots=True)
class Placement:
    person_id: uuid.UUID
    risk: Risk
    room_id: uuid.UUID | None  # None: no room left that would not mix


def suggest(rooms: Sequence[Room], people: Sequence[tuple[uuid.UUID, Risk]]) -> list[Placement]:
    """An assignment that never mixes risk classes and fills rooms: high-risk people first
    (they are the ones to separate), each class into rooms already holding it (fullest first),
    then into empty rooms (largest first, so fewer rooms are opened). A person who fits nowhere
    gets no room."""
    free = {r.room_id: r.free for r in rooms}
    holds: dict[uuid.UUID, Risk | None] = {r.room_id: r.risk for r in rooms}
    capacity = {r.room_id: r.capacity for r in rooms}
    out: list[Placement] = []
    for risk in (HIGH, LOW):
        group = [pid for pid, r in people if r == risk]
        if not group:
            continue
        own = sorted(
            (rid for rid in free if holds[rid] == risk and free[rid] > 0), key=lambda rid: (free[rid], str(rid))
        )
        empty = sorted(
            (rid for rid in free if holds[rid] is None and free[rid] > 0), key=lambda rid: (-capacity[rid], str(rid))
        )
        order = own + empty
        i = 0
        for pid in group:
            while i < len(order) and free[order[i]] == 0:
                i += 1
            if i == len(order):
                out.append(Placement(pid, risk, None))
                continue
            rid = order[i]
            free[rid] -= 1
            holds[rid] = risk
            out.append(Placement(pid, risk, rid))
    return out
