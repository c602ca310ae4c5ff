"""Who is due which test, and when: seeds/000 §2.2-2.3 and seeds/001 as pure functions.

Plain data in, plain data out: no I/O, no framework. Every computation takes the policy in force
and an ``as_of`` instant. The history handed in must already be what was recorded by ``as_of``
and within ``policy.testing.history_days`` (the adapter does that in SQL); INVALID results never
reach these rules.

A person gets a list of *requirements* (reason, due time, test kind, overdue-after time); the
next test is the earliest, and every requirement already due by then goes into the same visit,
so the kinds combine (a PCR also satisfies an "either" requirement). Separately the person is
*cleared to work* unless something blocks it.

Most people, most days, are *plain*: no positive result, declaration, return from a trip or
positive pool in the history window, and no new-hire pipeline running (an arrival after
``DueRules.arrivals_after``). Only the cadences and the rounds apply to them, and those read
nothing but the latest collection time; ``DueRules.plain`` and ``plain_status`` answer for them
from a handful of numbers (instants as microseconds since the epoch, see ``micros``), which is
what lets the bulk paths skip building facts and history for a million people. ``evaluate``
runs the very same code (``screening``) for its last step, so both give the same answer.
"""

from __future__ import annotations

import bisect
import functools
import hashlib
import math
import unicodedata
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, fields
from datetime import UTC, date, datetime, timedelta
from typing import Any, Final, NamedTuple
from zoneinfo import ZoneInfo

from safework_common.contract.policy_document import PolicyDocument, in_force
from safework_common.contract.reasons import (
    CONTACT,
    ENTERPRISE_SUSPENDED,
    HIGH_RISK,
    MASS_TESTING,
    NEGATIVE_TEST_TOO_OLD,
    NEW_HIRE_BUFFER,
    NEW_HIRE_HIGH_RISK,
    NEW_HIRE_NOT_ARRIVED,
    NEW_HIRE_PRE_ARRIVAL_PCR,
    NEW_HIRE_PRE_ARRIVAL_PCR_MISSING,
    NO_NEGATIVE_TEST,
    POOL_POSITIVE,
    POSITIVE,
    RETURN_FIRST_TEST,
    RETURN_HOME_TOWN,
    RETURN_SECOND_TEST,
    ROUTINE_COHORT,
    ROUTINE_ROUND,
    SAMPLED_INDUSTRY,
    SCREENING,
    SMALL_ENTERPRISE,
    SYMPTOMATIC,
    UNVACCINATED,
)
from safework_common.geo import canonical_province

LOCAL_TZ: Final = ZoneInfo("Asia/Ho_Chi_Minh")

# Test kinds as stored, and the combined kinds a visit can need.
PCR: Final = "PCR"
RAPID_ANTIGEN: Final = "RAPID_ANTIGEN"
EITHER: Final = "EITHER"
RAPID_ANTIGEN_AND_PCR: Final = "RAPID_ANTIGEN_AND_PCR"
NEGATIVE: Final = "NEGATIVE"
POSITIVE_RESULT: Final = "POSITIVE"

# Round modes of an enterprise.
MODE_COHORT: Final = "COHORT"  # alternating halves (person.test_cohort)
MODE_ALL: Final = "ALL"  # everyone every round
MODE_SAMPLE: Final = "SAMPLE"  # a rotating share of the roster
MODE_NONE: Final = "NONE"  # no periodic rounds in the version in force (May, June 2021)

# A person's answer as three flags (``DueRules.status``, ``DueRules.plain_status``): what the
# counts and the day's lists need.
DUE_TODAY: Final = 1  # the next test is due before the end of the computation's local day
OVERDUE: Final = 2
NOT_CLEARED: Final = 4

_EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)
_EPOCH_ORDINAL: Final = date(1970, 1, 1).toordinal()
_MICROSECOND: Final = timedelta(microseconds=1)
_HOUR_US: Final = 3_600_000_000
_DAY_US: Final = 24 * _HOUR_US
# ``DueRules.plain_cell`` counts days from a local midnight this many days before ``as_of``'s.
_CELL_ORIGIN_DAYS: Final = 36_500


def micros(instant: datetime) -> int:
    """An instant as whole microseconds since the Unix epoch (exact; the adapter's SQL sends
    the same numbers). The rules' arithmetic is the same in either form: Asia/Ho_Chi_Minh has
    kept UTC+7 since 1975, so adding days to a local time and to a UTC time agree."""
    return (instant - _EPOCH) // _MICROSECOND


@functools.lru_cache(maxsize=65536)
def from_micros(us: int) -> datetime:
    """The UTC datetime of ``micros``' number (cached: a list's window starts and ends and due
    times repeat from person to person)."""
    return _EPOCH + timedelta(microseconds=us)


def epoch_day(day: date) -> int:
    """A date as days since 1970-01-01 (what the adapter's SQL sends for hire dates)."""
    return day.toordinal() - _EPOCH_ORDINAL


class LabResult(NamedTuple):
    """One result (single or from a negative pool). It counts by its specimen's ``collected_at``."""

    collected_at: datetime
    kind: str
    result: str
    pooled: bool


# A result's kind, outcome and pooling packed in a small integer (the adapter's SQL computes the
# same): bit 0 PCR (else rapid antigen), bit 1 POSITIVE (else NEGATIVE), bit 2 from a pool.
CODE_PCR: Final = 1
CODE_POSITIVE: Final = 2
CODE_POOLED: Final = 4
_POSITIVE_CODES: Final = frozenset(c for c in range(8) if c & CODE_POSITIVE)


def result_code(kind: str, result: str, pooled: bool) -> int:
    return (
        (CODE_PCR if kind == PCR else 0)
        | (CODE_POSITIVE if result == POSITIVE_RESULT else 0)
        | (CODE_POOLED if pooled else 0)
    )


class Results:
    """A person's results in the history window, as the adapter reads them in bulk: two
    parallel sequences, collection times and codes (see ``result_code``). The rules ask it
    questions ("the latest", "a negative PCR since ...") instead of walking records, which keeps
    a million people cheap. ``Results.of`` builds one from LabResults."""

    __slots__ = ("codes", "times")

    def __init__(self, times: Sequence[datetime] = (), codes: Sequence[int] = ()) -> None:
        self.times = times
        self.codes = codes

    @classmethod
    def of(cls, results: Iterable[LabResult]) -> Results:
        rs = list(results)
        return cls([r.collected_at for r in rs], [result_code(r.kind, r.result, r.pooled) for r in rs])

    def __len__(self) -> int:
        return len(self.times)

    def __iter__(self) -> Iterator[LabResult]:
        for at, code in zip(self.times, self.codes, strict=True):
            yield LabResult(
                at,
                PCR if code & CODE_PCR else RAPID_ANTIGEN,
                POSITIVE_RESULT if code & CODE_POSITIVE else NEGATIVE,
                bool(code & CODE_POOLED),
            )

    def __repr__(self) -> str:
        return f"Results({list(self)!r})"

    def last_at(self) -> datetime | None:
        """When the latest specimen was collected."""
        return max(self.times) if self.times else None

    def latest_positive(self) -> tuple[datetime, str] | None:
        """(collected_at, kind) of the latest positive result."""
        if _POSITIVE_CODES.isdisjoint(self.codes):
            return None
        at, code = max((t, c) for t, c in zip(self.times, self.codes, strict=True) if c & CODE_POSITIVE)
        return at, PCR if code & CODE_PCR else RAPID_ANTIGEN

    def any_since(
        self,
        since: datetime,
        kind: str | None = None,
        result: str | None = None,
        *,
        inclusive: bool = True,
        pooled: bool | None = None,
        until: datetime | None = None,
    ) -> bool:
        """Is there a result collected after ``since`` (at it too if ``inclusive``; not after
        ``until``) of that kind, outcome and pooling (None: any)?"""
        for at, code in zip(self.times, self.codes, strict=True):
            if at < since or (at == since and not inclusive) or (until is not None and at > until):
                continue
            if kind is not None and (code & CODE_PCR) != (CODE_PCR if kind == PCR else 0):
                continue
            if result is not None and (code & CODE_POSITIVE) != (CODE_POSITIVE if result == POSITIVE_RESULT else 0):
                continue
            if pooled is not None and bool(code & CODE_POOLED) != pooled:
                continue
            return True
        return False

    def count_since(self, since: datetime, result: str) -> int:
        want = CODE_POSITIVE if result == POSITIVE_RESULT else 0
        return sum(1 for at, c in zip(self.times, self.codes, strict=True) if at >= since and c & CODE_POSITIVE == want)

    def times_since(self, since: datetime) -> list[datetime]:
        """Collection times at or after ``since``, in order."""
        return sorted(at for at in self.times if at >= since)


NO_RESULTS: Final = Results()


class Declaration(NamedTuple):
    """A health declaration: symptoms (any one makes the person symptomatic), and contact with
    a confirmed case. A contact traced by the registry (issue 14) reads as one declared at the
    moment of tracing, with no symptoms and its case (``case_id``)."""

    declared_at: datetime
    symptoms: Sequence[str]
    contact: bool
    case_id: uuid.UUID | None = None


class Travel(NamedTuple):
    """A trip away and back: out of the province, or to the person's home town."""

    returned_at: datetime
    destination_province: str
    to_boarding_house: bool
    to_home_town: bool = False


class PositivePool(NamedTuple):
    """A positive pooled sample the person was in (seeds/001)."""

    collected_at: datetime
    resulted_at: datetime


class PersonFacts(NamedTuple):
    """What the rules need to know about one person, as of the computation's instant. (A
    named tuple: the bulk paths build a million of them.) ``results`` holds the history window
    (and, for a person with a positive, everything since it); ``last_result_at`` is the latest
    result recorded by ``as_of`` however old (None: never tested)."""

    person_id: uuid.UUID
    test_cohort: int = 0
    first_dose_at: datetime | None = None
    high_risk: bool = False
    high_risk_until: datetime | None = None
    hire_date: date | None = None
    arrived_at: datetime | None = None
    arrived_from_province: str | None = None
    results: Results = NO_RESULTS
    declarations: Sequence[Declaration] = ()
    travels: Sequence[Travel] = ()
    positive_pools: Sequence[PositivePool] = ()
    last_result_at: datetime | None = None


class DistrictRatio(NamedTuple):
    """A district's sampling ratio and who set it from when (None: the policy's own)."""

    ratio: float
    set_by: str | None
    effective_from: date | None


@dataclass(frozen=True, slots=True)
class EnterpriseFacts:
    """An enterprise and the size of its active roster (the people its rounds are drawn from)."""

    enterprise_id: uuid.UUID
    district: str
    zone_type: str
    industry: str
    roster_size: int
    zone_name: str | None = None
    suspended: bool = False


class Requirement(NamedTuple):
    """One test a person owes: due from ``due_at``, overdue once ``overdue_after`` has passed.
    A round's requirement carries its window (any day of it will do); a cadence its interval."""

    reason: str
    due_at: datetime
    kind: str
    overdue_after: datetime
    window_start: datetime | None = None
    window_end: datetime | None = None
    interval_days: int | None = None
    case_id: uuid.UUID | None = None  # CONTACT: the case the person was traced from, if traced


class RoundWindow(NamedTuple):
    """The person's window in the enterprise's rounds (the latest of theirs that has opened, or
    their first if none has yet) and whether a test collected in it already counts."""

    start: datetime
    end: datetime
    done: bool


class PersonDue(NamedTuple):
    """The answer for one person: the next test (when, which kind, why), whether it is overdue,
    and whether the person is cleared to work (with what blocks it)."""

    person_id: uuid.UUID
    due_at: datetime | None
    kind: str | None
    reasons: tuple[str, ...]
    overdue: bool
    cleared_to_work: bool
    not_cleared: tuple[str, ...]
    requirements: tuple[Requirement, ...]
    window: RoundWindow | None = None
    flags: tuple[str, ...] = ()

    def due_before(self, instant: datetime) -> bool:
        return self.due_at is not None and self.due_at < instant


@dataclass(frozen=True, slots=True)
class RoundPlan:
    """An enterprise's screening rounds (seeds/000 §2.2 (3) and the sampling exceptions).

    Round ``k`` starts on ``first_day + k * round_days`` (local midnight) and is a window: a
    person it tests may be tested on any day of it. ``index`` is the round in progress at
    ``as_of``. In ``COHORT`` mode half ``h`` is tested in the rounds of parity ``h``; in ``ALL``
    mode everyone in every round; in ``SAMPLE`` mode round ``k`` takes ``sample_size`` people
    from the stable order ``positions``, continuing where round ``k - 1`` stopped and wrapping
    around, so everyone is picked once before anyone is picked again. ``campaign``: the
    window (microseconds) of a mass-testing campaign the enterprise's workers owe a test in.

    A rotating sample carries its roster as the ids' 16 bytes each, in the stable order
    (``roster``: ``roster_bytes``, or as the database orders it), and looks a person's place up
    in it on first use, in the process that reads it: a province's plans go to worker processes
    as a few megabytes of bytes, not a hundred thousand ids."""

    mode: str
    reason: str
    share: float
    round_days: int
    first_day: date
    index: int
    roster_size: int
    sample_size: int
    roster: bytes = b""  # SAMPLE mode: the active people's ids in order (``roster_bytes``)
    suspended: bool = False
    campaign: tuple[int, int] | None = None
    # SAMPLE mode: each person's place in the stable order, built from ``roster`` on first use.
    _positions: dict[uuid.UUID, int] = field(default_factory=dict, init=False, repr=False, compare=False)
    # Start instants (in microseconds) of rounds, computed once per plan.
    _starts_us: dict[int, int] = field(default_factory=dict, init=False, repr=False, compare=False)
    # COHORT mode, by parity of the half: the starts of its previous, latest and next windows.
    _halves: list[tuple[int, int, int]] = field(default_factory=list, init=False, repr=False, compare=False)
    _selections: list[tuple[int, int, int]] = field(default_factory=list, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.mode == MODE_NONE:
            return
        for k in range(self.index - 4, self.index + 5):
            self._starts_us[k] = micros(utc_midnight(self.starts_on(k)))
        for half in (0, 1):
            # The half is tested in rounds of its parity.
            mine = self.index if (self.index - half) % 2 == 0 else self.index - 1
            self._halves.append((mine - 2, mine, mine + 2))

    def starts_on(self, k: int) -> date:
        return self.first_day + timedelta(days=k * self.round_days)

    def starts_at(self, k: int) -> datetime:
        """Round ``k``'s first instant (local midnight, as a UTC datetime)."""
        return from_micros(self.starts_us(k))

    def starts_us(self, k: int) -> int:
        """``starts_at`` in microseconds since the epoch."""
        start = self._starts_us.get(k)
        if start is None:
            start = self._starts_us[k] = micros(utc_midnight(self.starts_on(k)))
        return start

    @property
    def cohort_due(self) -> int | None:
        """The half tested in the round in progress (COHORT mode)."""
        return self.index % 2 if self.mode == MODE_COHORT else None

    def selected(self, position: int, k: int) -> bool:
        """Is the person at ``position`` in round ``k``'s sample? (SAMPLE mode.)"""
        n = self.roster_size
        return n > 0 and (position - k * self.sample_size) % n < self.sample_size

    @property
    def positions(self) -> Mapping[uuid.UUID, int]:
        """SAMPLE mode: each person's place in the enterprise's stable order (empty otherwise)."""
        table = self._positions
        if not table and self.roster:
            roster = self.roster
            table.update((uuid.UUID(bytes=roster[i : i + 16]), i // 16) for i in range(0, len(roster), 16))
        return table

    def __getstate__(self) -> tuple[Any, ...]:
        """Pickled without the positions (a worker builds them from ``roster`` if it needs them)."""
        return tuple(getattr(self, f.name) for f in fields(self) if f.name != "_positions")

    def __setstate__(self, state: tuple[Any, ...]) -> None:
        names = [f.name for f in fields(self) if f.name != "_positions"]
        for name, value in zip(names, state, strict=True):
            object.__setattr__(self, name, value)
        object.__setattr__(self, "_positions", {})

    def next_selection(self, position: int, after: int) -> int:
        """The first round after ``after`` whose sample takes ``position``."""
        k = after + 1
        for _ in range(self.roster_size + 1):
            if self.selected(position, k):
                return k
            k += 1
        return k

    def release(self) -> None:
        """Drop what SAMPLE mode builds on first use (``positions``, ``selections``: about 100
        bytes a person), rebuilt if asked again: an export done with an enterprise gives its
        memory back rather than holding every sampled roster of its share to the end."""
        self._positions.clear()
        self._selections.clear()

    def selections(self, position: int) -> tuple[int, int, int]:
        """SAMPLE mode: the rounds whose samples take ``position`` around ``index``: the one
        before the latest, the latest (not after ``index``) and the next after it. Built for
        every position at once on first use: round ``k``'s sample is the cyclic block of
        ``sample_size`` positions from ``k * sample_size``, so a few rounds either side of
        ``index`` cover everyone twice."""
        table = self._selections
        if not table:
            n, size, k0 = self.roster_size, self.sample_size, self.index
            if n == 0 or size == 0:
                return k0, k0, k0
            latest = [0] * n
            previous = [0] * n
            following = [0] * n
            seen = [0] * n
            span = -(-n // size) + 1
            for k in range(k0, k0 - 2 * span - 1, -1):
                for j in range(size):
                    q = (k * size + j) % n
                    if seen[q] == 0:
                        latest[q] = k
                    elif seen[q] == 1:
                        previous[q] = k
                    seen[q] += 1
            filled = [False] * n
            for k in range(k0 + 1, k0 + span + 2):
                for j in range(size):
                    q = (k * size + j) % n
                    if not filled[q]:
                        following[q] = k
                        filled[q] = True
            table.extend(zip(previous, latest, following, strict=True))
        return table[position]

    def last_selection(self, position: int, until: int) -> int:
        """The latest round not after ``until`` whose sample takes ``position``."""
        k = until
        for _ in range(self.roster_size + 1):
            if self.selected(position, k):
                return k
            k -= 1
        return k


def local_midnight(day: date) -> datetime:
    """The first instant of a local date."""
    return datetime(day.year, day.month, day.day, tzinfo=LOCAL_TZ)


@functools.lru_cache(maxsize=4096)
def utc_midnight(day: date) -> datetime:
    """The first instant of a local date as a UTC datetime (cached: hire dates and round days
    repeat, and comparing datetimes of one tzinfo is the fast path)."""
    return local_midnight(day).astimezone(UTC)


def local_day(instant: datetime) -> date:
    if instant.tzinfo is None:
        raise ValueError("instant must carry a time zone")
    return instant.astimezone(LOCAL_TZ).date()


def end_of_local_day(day: date) -> datetime:
    """The first instant of the next local day (exclusive end of ``day``)."""
    return local_midnight(day + timedelta(days=1))


def province_key(name: str | None) -> str:
    """A province name compared without case, accents or punctuation ("Bắc Giang" = "bac giang")."""
    if not name:
        return ""
    text = unicodedata.normalize("NFKD", name.replace("đ", "d").replace("Đ", "D"))
    return "".join(c for c in text.casefold() if c.isalnum())


def sample_order_key(enterprise_id: uuid.UUID, person_id: uuid.UUID) -> bytes:
    """A stable pseudo-random order of an enterprise's people for rotating samples: the SHA-256
    of the two ids' bytes, which the database computes alike (``repository.ROSTERS`` orders
    a roster by ``sha256(uuid_send(enterprise) || uuid_send(person))``, compared as bytes)."""
    return hashlib.sha256(enterprise_id.bytes + person_id.bytes).digest()


def roster_bytes(enterprise_id: uuid.UUID, roster: Sequence[uuid.UUID] | bytes) -> bytes:
    """A roster as ``RoundPlan.roster`` holds it: each id's 16 bytes, one after another, in the
    order of ``sample_order_key``. Bytes are taken as already in that order (the database's)."""
    if isinstance(roster, bytes):
        return roster
    salt, sha256 = enterprise_id.bytes, hashlib.sha256
    return b"".join(sorted((pid.bytes for pid in roster), key=lambda b: sha256(salt + b).digest()))


def round_offset_days(enterprise_id: uuid.UUID, round_days: int) -> int:
    """An enterprise's round day, as days after the policy's anchor (stable for the enterprise)."""
    digest = hashlib.blake2b(enterprise_id.bytes, digest_size=8, person=b"round-day").digest()
    return int.from_bytes(digest, "big") % round_days


def combine_kinds(kinds: Iterable[str]) -> str:
    """One visit covering several requirements: a PCR also satisfies "either"."""
    ks = set(kinds)
    if PCR in ks and RAPID_ANTIGEN in ks:
        return RAPID_ANTIGEN_AND_PCR
    if PCR in ks:
        return PCR
    if RAPID_ANTIGEN in ks:
        return RAPID_ANTIGEN
    return EITHER


class DueRules:
    """The testing rules of one policy version at one instant, prepared once and applied to
    many people (the bulk paths evaluate a whole province with one instance). Instants are
    kept in UTC inside (answers too): the same instants, compared faster.

    ``versions`` (every loaded version; default: just ``policy``) lets a rule about an event
    (an arrival, a return, a declaration, a pool) apply the version in force on the event's
    local date: a version applies to what happens on or after its date and does not rewrite
    the past. The cadences and the rounds are the version in force at ``as_of``; their
    windows are owed from the later of its date and the person's start (hire) day."""

    def __init__(
        self,
        policy: PolicyDocument,
        as_of: datetime,
        versions: Sequence[PolicyDocument] | None = None,
        ratios: Mapping[str, DistrictRatio] | None = None,
    ) -> None:
        if as_of.tzinfo is None:
            raise ValueError("as_of must carry a time zone")
        t = policy.testing
        self.policy = policy
        self.versions = sorted(versions or (policy,), key=lambda d: d.effective_from)
        # The small-enterprise ratios districts set (seeds/000 §2.2), by canonical district.
        self.ratios: Mapping[str, DistrictRatio] = ratios or {}
        self.as_of = as_of.astimezone(UTC)
        self.day = local_day(as_of)
        self.grace = timedelta(hours=t.overdue_grace_hours)
        self.horizon = self.as_of - timedelta(days=t.history_days)
        self.horizon_us = micros(self.horizon)
        # The version's rules are owed from its first day (it does not rewrite the past).
        self.floor = utc_midnight(policy.effective_from)
        self.high_risk_days = t.high_risk_interval_days
        self.unvaccinated_days = t.unvaccinated_interval_days
        self.contact_days = timedelta(days=t.contact.high_risk_days)
        self.home = canonical_province(policy.province) or policy.province
        self.day_end = end_of_local_day(self.day).astimezone(UTC)
        # The same instants in microseconds, for ``screening``.
        self._as_of_us = micros(self.as_of)
        self._floor_us = micros(self.floor)
        # The version's first day in days since 1970-01-01 (``epoch_day``).
        self.floor_day = self._floor_day = policy.effective_from.toordinal() - _EPOCH_ORDINAL
        self._grace_us = t.overdue_grace_hours * _HOUR_US
        self._high_risk_every_us = None if t.high_risk_interval_days is None else t.high_risk_interval_days * _DAY_US
        self._unvaccinated_every_us = (
            None if t.unvaccinated_interval_days is None else t.unvaccinated_interval_days * _DAY_US
        )
        self._day_end_us = micros(self.day_end)
        self._midnights: dict[int, int] = {}
        # How plain people are grouped (``plain_cell``): days counted from a local midnight
        # before any test (a century before ``as_of``'s day), and the instants other than local
        # midnights where a cadence's verdict turns with the latest test (overdue once it is
        # ``every`` days plus the grace before ``as_of``).
        self.cell_origin_us = micros(utc_midnight(self.day)) - _CELL_ORIGIN_DAYS * _DAY_US
        self.cell_cuts_us = tuple(
            sorted(
                {
                    self._as_of_us - self._grace_us - every
                    for every in (self._high_risk_every_us, self._unvaccinated_every_us)
                    if every is not None
                }
            )
        )
        self._arrivals_after = self._arrivals_after_of()
        # Memos of ``version_at`` (by local day) and ``from_elsewhere`` (by name).
        self._versions_by_day: dict[date, PolicyDocument] = {}
        self._elsewhere: dict[str | None, bool] = {}

    @property
    def arrivals_after(self) -> datetime | None:
        """A new hire who arrived after this instant (or will arrive: a planned arrival) may
        still be in the pipeline at ``as_of`` (the buffer, then high-risk), so is not plain.
        None: no version has a new-hire rule."""
        return self._arrivals_after

    def _arrivals_after_of(self) -> datetime | None:
        spans = [
            v.testing.new_hire.buffer_days + v.testing.new_hire.high_risk_days_after_buffer
            for v in self.versions
            if v.testing.new_hire is not None
        ]
        if not spans:
            return None
        return self.as_of - timedelta(days=max(*spans, self.policy.testing.history_days))

    def district_ratio(self, district: str) -> DistrictRatio:
        """seeds/000 §2.2: the random sampling ratio of a district's enterprises under 20
        workers, as its steering committee set it (in force on ``as_of``'s day), else the
        policy's own for the district, else its default ("not in the source")."""
        own = self.ratios.get(district)
        if own is not None:
            return own
        sampling = self.policy.testing.district_sampling_ratio
        if sampling is None:
            return DistrictRatio(0.0, None, None)
        return DistrictRatio(sampling.ratio(district), None, None)

    def version_at(self, instant: datetime) -> PolicyDocument:
        """The version in force on the instant's local date (the earliest one before any)."""
        day = local_day(instant)
        version = self._versions_by_day.get(day)
        if version is None:
            version = self._versions_by_day[day] = in_force(self.versions, day) or self.versions[0]
        return version

    # -- enterprise level ---------------------------------------------------------------

    def round_mode(self, enterprise: EnterpriseFacts) -> tuple[str, str, float]:
        """Which rounds the enterprise runs (seeds/000 §2.2): outside the parks, garment and
        shuttlecock makers sample at least 20% and enterprises under 20 workers the district's
        ratio (the larger when both apply); otherwise 50% halves alternating by round.
        Returns (mode, reason code, share)."""
        t = self.policy.testing
        r = t.routine
        if r is None:
            return MODE_NONE, "", 0.0
        outside = enterprise.zone_type in t.outside_parks_zone_types
        shares: list[tuple[float, str]] = []
        if outside and enterprise.industry in t.sampled_industries_outside_parks:
            shares.append((t.sampled_industries_min_share, SAMPLED_INDUSTRY))
        if outside and t.district_sampling_ratio is not None and enterprise.roster_size < t.small_enterprise_threshold:
            shares.append((self.district_ratio(enterprise.district).ratio, SMALL_ENTERPRISE))
        if shares:
            share, reason = max(shares, key=lambda x: x[0])  # a tie: the industry's rule, listed first
            return MODE_SAMPLE, reason, share
        if r.alternating_halves:
            return MODE_COHORT, ROUTINE_COHORT, 0.5
        if r.share >= 1:
            return MODE_ALL, ROUTINE_ROUND, 1.0
        return MODE_SAMPLE, ROUTINE_ROUND, r.share

    def needs_roster(self, enterprise: EnterpriseFacts) -> bool:
        """Does the plan need the roster's ids (a rotating sample) or only its size?"""
        return self.round_mode(enterprise)[0] == MODE_SAMPLE

    def _campaign(self, enterprise: EnterpriseFacts) -> tuple[int, int] | None:
        """seeds/002: the mass-testing window the enterprise's workers owe a test in."""
        m = self.policy.testing.mass_testing
        if m is None or enterprise.zone_type not in m.zone_types:
            return None
        last = m.due_by
        if m.priority_due_by is not None and enterprise.zone_name is not None:
            name = province_key(enterprise.zone_name)
            if any(province_key(z) in name for z in m.priority_zone_names):
                last = m.priority_due_by
        return micros(utc_midnight(m.starts_on)), micros(utc_midnight(last + timedelta(days=1)))

    def round_plan(self, enterprise: EnterpriseFacts, roster: Sequence[uuid.UUID] | bytes = ()) -> RoundPlan:
        """The enterprise's rounds at ``as_of``. ``roster`` (the active people's ids, or their
        ``roster_bytes``, in order) is needed for a rotating sample (see ``needs_roster``)."""
        r = self.policy.testing.routine
        n = enterprise.roster_size
        mode, reason, share = self.round_mode(enterprise)
        campaign = self._campaign(enterprise)
        if r is None:
            return RoundPlan(
                mode, reason, share, 7, self.day, 0, n, 0, suspended=enterprise.suspended, campaign=campaign
            )
        offset = round_offset_days(enterprise.enterprise_id, r.round_days) if r.spread_round_day else 0
        first_day = r.anchor + timedelta(days=offset)
        index = (self.day - first_day).days // r.round_days
        ids = b""
        sample_size = n
        if mode == MODE_SAMPLE:
            # round() first: 0.2 * 10 must give 2, not 3.
            sample_size = min(n, math.ceil(round(share * n, 9))) if n else 0
            ids = roster_bytes(enterprise.enterprise_id, roster)
            if len(ids) != 16 * n:
                raise ValueError("a rotating sample needs the whole active roster")
        return RoundPlan(
            mode,
            reason,
            share,
            r.round_days,
            first_day,
            index,
            n,
            sample_size,
            ids,
            suspended=enterprise.suspended,
            campaign=campaign,
        )

    # -- person level -------------------------------------------------------------------

    def from_elsewhere(self, province: str | None) -> bool:
        """Arrived from, or travelled to, another province: the 63 of 2021 compared by their
        canonical names, so "Tỉnh Bắc Giang" and "TP Bắc Giang" are home (``safework_common.geo``);
        a name that is no province counts as elsewhere."""
        elsewhere = self._elsewhere.get(province)
        if elsewhere is None:
            elsewhere = self._elsewhere[province] = canonical_province(province) != self.home
        return elsewhere

    def evaluate(self, p: PersonFacts, plan: RoundPlan | None = None) -> PersonDue:
        """Every requirement of one person at ``as_of``; ``plan`` is their enterprise's rounds
        (None: no enterprise rounds, e.g. a person with no employer).

        Declarations, travels and pools are read by position, so the bulk adapter can pass the
        database's records as they come."""
        (
            person_id,
            cohort,
            first_dose_at,
            high_risk,
            high_risk_until,
            hire_date,
            arrived,
            arrived_from,
            results,
            declarations,
            travels,
            positive_pools,
            last_result_at,
        ) = p
        as_of = self.as_of
        grace = self.grace
        reqs: list[Requirement] = []
        blocks: list[str] = []
        flags: list[str] = []
        suspended = plan is not None and plan.suspended

        window_last = results.last_at()
        last_at = (
            window_last
            if last_result_at is None or (window_last and window_last > last_result_at)
            else (last_result_at)
        )

        # A positive result stands until a later individual negative PCR, however old it is. A
        # confirmed case is managed by the health sector, not screened: only a positive rapid
        # test still needs its PCR.
        positive = results.latest_positive()
        if positive is not None and not results.any_since(positive[0], PCR, NEGATIVE, inclusive=False, pooled=False):
            pos_at, pos_kind = positive
            blocks.append(POSITIVE)
            if pos_kind != PCR and not results.any_since(pos_at, PCR, inclusive=False, pooled=False):
                reqs.append(Requirement(POSITIVE, pos_at, PCR, pos_at + grace))
            if suspended:
                blocks.append(ENTERPRISE_SUSPENDED)
            return self._answer(person_id, reqs, blocks)

        cadence: list[Requirement] = []
        in_buffer = False
        symptoms_at: datetime | None = None
        contact_at: datetime | None = None
        contact_case: uuid.UUID | None = None
        for declared_at, symptoms, contact, *traced in declarations:
            if declared_at > as_of:
                continue
            if symptoms and (symptoms_at is None or declared_at > symptoms_at):
                symptoms_at = declared_at
            case = traced[0] if traced else None
            # The latest contact counts; of two at one instant, a traced one (its case known).
            if contact and (
                contact_at is None or declared_at > contact_at or (declared_at == contact_at and case is not None)
            ):
                contact_at, contact_case = declared_at, case

        # seeds/000 §2.2: symptoms declared: at the same time an individual rapid test and an
        # individual PCR; not cleared until both are done and the PCR is negative (a pooled
        # sample satisfies neither).
        if symptoms_at is not None:
            kinds = self.version_at(symptoms_at).testing.symptomatic.kinds
            pending = [k for k in kinds if not results.any_since(symptoms_at, k, pooled=False)]
            pcr_negative = PCR not in kinds or results.any_since(symptoms_at, PCR, NEGATIVE, pooled=False)
            if pending or not pcr_negative:
                blocks.append(SYMPTOMATIC)
            for kind in pending:
                reqs.append(Requirement(SYMPTOMATIC, symptoms_at, kind, symptoms_at + grace))

        # seeds/001: a positive pool clears no one: each member needs an individual test at once
        # (due when the pool's result is known) and is not cleared until it is negative.
        for pool_collected, pool_resulted in positive_pools:
            if pool_resulted > as_of:
                continue
            pool_kind = self.version_at(pool_resulted).testing.pool_positive.kind
            if not results.any_since(pool_collected, pool_kind, NEGATIVE, inclusive=False, pooled=False):
                if POOL_POSITIVE not in blocks:
                    blocks.append(POOL_POSITIVE)
                if not results.any_since(pool_collected, pool_kind, inclusive=False, pooled=False):
                    reqs.append(Requirement(POOL_POSITIVE, pool_resulted, pool_kind, pool_resulted + grace))

        # seeds/000 §2.2 (2) (September) and seeds/003 (June's intake): new hires, under the
        # version in force on the day of arrival.
        arrivals_after = self.arrivals_after
        if arrived is not None and arrivals_after is not None and arrived > arrivals_after:
            nh = self.version_at(arrived).testing.new_hire
            if nh is not None and (not nh.from_other_province_only or self.from_elsewhere(arrived_from)):
                pre = nh.pre_arrival_pcr_max_hours
                pre_from = None if pre is None else arrived - timedelta(hours=pre)
                # The pre-arrival PCR is a precondition: negative, collected within the hours
                # before arriving. A test on or after arrival does not replace it.
                pre_ok = pre_from is None or results.any_since(pre_from, PCR, NEGATIVE, until=arrived)
                if arrived > as_of:
                    # A planned arrival: the pre-arrival PCR can be checked before the person comes.
                    blocks.append(NEW_HIRE_NOT_ARRIVED)
                    if pre_from is not None and not pre_ok:
                        reqs.append(Requirement(NEW_HIRE_PRE_ARRIVAL_PCR, pre_from, PCR, arrived, pre_from, arrived))
                    if suspended:
                        blocks.append(ENTERPRISE_SUSPENDED)
                    return self._answer(person_id, reqs, blocks)
                buffer_end = arrived + timedelta(days=nh.buffer_days)
                high_risk_end = buffer_end + timedelta(days=nh.high_risk_days_after_buffer)
                if not pre_ok and as_of < high_risk_end:
                    flags.append(NEW_HIRE_PRE_ARRIVAL_PCR_MISSING)
                # The buffer's negative tests are counted from arrival, on top of the pre-arrival one.
                done = results.count_since(arrived, NEGATIVE)
                needed = nh.buffer_negative_tests
                if done < needed or as_of < buffer_end:
                    in_buffer = True
                    blocks.append(NEW_HIRE_BUFFER)
                    if not pre_ok:
                        blocks.append(NEW_HIRE_PRE_ARRIVAL_PCR_MISSING)
                    if done < needed:
                        due = _buffer_test_due(arrived, buffer_end, done + 1, needed)
                        reqs.append(Requirement(NEW_HIRE_BUFFER, due, EITHER, due + grace, arrived, buffer_end))
                elif as_of < high_risk_end:
                    every = self.version_at(arrived).testing.high_risk_interval_days or 3
                    due = buffer_end if last_at is None else max(last_at + timedelta(days=every), buffer_end)
                    if due < high_risk_end:
                        cadence.append(Requirement(NEW_HIRE_HIGH_RISK, due, EITHER, due + grace, interval_days=every))

        # Contact with a confirmed case: high-risk for contact.high_risk_days, tested at once.
        if contact_at is not None and as_of < contact_at + self.contact_days:
            every = self.high_risk_days or 3
            due = contact_at if last_at is None or last_at < contact_at else last_at + timedelta(days=every)
            if due < contact_at + self.contact_days:
                cadence.append(
                    Requirement(CONTACT, due, EITHER, due + grace, interval_days=every, case_id=contact_case)
                )

        window: RoundWindow | None = None
        if not in_buffer:
            # The cadences and the rounds, exactly as for a plain person.
            for item in self.screening(
                plan,
                person_id,
                cohort,
                first_dose_at is not None and first_dose_at <= as_of,
                high_risk,
                None if high_risk_until is None else micros(high_risk_until),
                None if hire_date is None else epoch_day(hire_date),
                None if last_at is None else micros(last_at),
                rounds=not cadence,
            ):
                cadence.append(self._requirement(item))
                window = _window(item) or window
        reqs.extend(cadence)

        # seeds/000 §2.3: back in a boarding house from another province: a test within 24 h and
        # a second one at least 72 h after the return; from one's home town inside the province
        # ("ở quê xuống"), a test at once (the version in force on the return).
        for returned_at, destination, to_boarding_house, *home in travels:
            if returned_at > as_of or not to_boarding_house:
                continue
            ret = self.version_at(returned_at).testing.boarding_house_return
            if ret is None:
                continue
            after = results.times_since(returned_at)
            if not self.from_elsewhere(destination):
                if home and home[0] and not after:
                    reqs.append(Requirement(RETURN_HOME_TOWN, returned_at, EITHER, returned_at + grace))
                continue
            if not after:
                deadline = returned_at + timedelta(hours=ret.first_test_within_hours)
                reqs.append(Requirement(RETURN_FIRST_TEST, returned_at, EITHER, deadline, returned_at, deadline))
            second_from = returned_at + timedelta(hours=ret.second_test_after_hours)
            if not any(a >= second_from for a in after[1:]):
                reqs.append(Requirement(RETURN_SECOND_TEST, second_from, EITHER, second_from + grace))

        # seeds/003: cleared means a negative test recent enough for the person's group and
        # nothing blocking. With no standing positive, any result on record means a negative one.
        if not blocks:
            if last_at is None:
                blocks.append(NO_NEGATIVE_TEST)
            elif any(r.reason in SCREENING and as_of > r.overdue_after for r in reqs):
                blocks.append(NEGATIVE_TEST_TOO_OLD)
        if suspended:
            blocks.append(ENTERPRISE_SUSPENDED)
        return self._answer(person_id, reqs, blocks, window, tuple(flags))

    # -- the cadences and the rounds (every person's last step; all of a plain person) --------

    def screening(
        self,
        plan: RoundPlan | None,
        person_id: uuid.UUID | None,
        cohort: int,
        vaccinated: bool,
        high_risk: bool,
        high_risk_until: int | None,
        hire_day: int | None,
        last_at: int | None,
        *,
        rounds: bool = True,
    ) -> list[Screen]:
        """seeds/000 §2.2 (1) and (3), seeds/002: the high-risk and unvaccinated cadences, or,
        if neither applies and ``rounds`` (no other cadence does either), the enterprise's
        rounds; and a mass-testing campaign. Each as a ``Screen`` tuple. Instants in
        microseconds (``micros``), ``hire_day`` in days (``epoch_day``); ``vaccinated``: dose 1
        given by ``as_of``; ``last_at``: the latest result on record, however old;
        ``person_id`` is read in SAMPLE mode only."""
        start = self._floor_us
        if hire_day is not None:
            hire_start = self._midnights.get(hire_day)
            if hire_start is None:
                hire_start = self._midnight_us(hire_day)
            if hire_start > start:
                start = hire_start
        out: list[Screen] = []
        if plan is not None and plan.campaign is not None:
            campaign = self._mass_testing(plan.campaign, last_at, start)
            if campaign is not None:
                out.append(campaign)
        if vaccinated and not high_risk:  # most people: the rounds only
            if rounds and plan is not None and plan.mode != MODE_NONE:
                routine = self._routine(plan, person_id, cohort, last_at, start)
                if routine is not None:
                    out.append(routine)
            return out
        as_of = self._as_of_us
        grace = self._grace_us
        cadences = 0
        # seeds/000 §2.2 (1): the high-risk group, every 3 days (while flagged).
        every = self._high_risk_every_us
        if high_risk and every is not None and (high_risk_until is None or as_of < high_risk_until):
            due = start if last_at is None or last_at + every < start else last_at + every
            if high_risk_until is None or due < high_risk_until:
                out.append((HIGH_RISK, due, due + grace, None, None, self.high_risk_days, None, None, False))
                cadences += 1
        # seeds/000 §2.2 (1): "người chưa tiêm vắc xin": no dose at all yet.
        every = self._unvaccinated_every_us
        if not vaccinated and every is not None:
            due = start if last_at is None or last_at + every < start else last_at + every
            out.append((UNVACCINATED, due, due + grace, None, None, self.unvaccinated_days, None, None, False))
            cadences += 1
        # seeds/000 §2.2 (3): everyone in no group above is tested in the enterprise's rounds.
        if not cadences and rounds and plan is not None and plan.mode != MODE_NONE:
            routine = self._routine(plan, person_id, cohort, last_at, start)
            if routine is not None:
                out.append(routine)
        return out

    def _mass_testing(self, campaign: tuple[int, int], last_at: int | None, start: int) -> Screen | None:
        """seeds/002: one test collected within the campaign's window, by whoever works in a
        park then (a person who starts after it has ended owes nothing)."""
        begin, end = campaign
        if start >= end or (last_at is not None and last_at >= begin):
            return None
        due = begin if begin > start else start
        return (MASS_TESTING, due, end + self._grace_us, begin, end, None, begin, end, False)

    def _routine(
        self, plan: RoundPlan, person_id: uuid.UUID | None, cohort: int, last_at: int | None, start: int
    ) -> Screen | None:
        """The person's window in the enterprise's rounds and what they owe in it.

        Each round is a window from its first local midnight to the next round's. The latest
        window of the person's that has opened (L) is done if a test was collected in it; then
        the next one is due. Not done: due in L, overdue once L has closed plus the grace; and
        while L is open, already overdue if the person's previous window (P) closed without a
        test. A window that opened before ``start`` (the person's start day, or the version's)
        is not owed: the first owed window is the first that opens on or after it. None: the
        person is not in the rounds (not in any sample)."""
        k = plan.index
        position = 0
        if plan.mode == MODE_COHORT:
            previous, latest, following = plan._halves[cohort % 2]
        elif plan.mode == MODE_ALL:
            previous, latest, following = k - 1, k, k + 1
        else:
            found = plan.positions.get(person_id) if person_id is not None else None
            if found is None:
                return None
            position = found
            previous, latest, following = plan.selections(position)
        starts = plan.starts_us
        s_latest, e_latest = starts(latest), starts(latest + 1)
        grace = self._grace_us
        reason = plan.reason
        if s_latest < start:
            # Not owed: the first window opening on or after the start day is.
            n = following
            for _ in range(plan.roster_size + 3):
                if starts(n) >= start:
                    break
                n = plan.next_selection(position, n) if plan.mode == MODE_SAMPLE else n + (following - latest)
            s_n, e_n = starts(n), starts(n + 1)
            return (reason, s_n, e_n + grace, s_n, e_n, None, s_n, e_n, False)
        if last_at is not None and last_at >= s_latest:
            s_n, e_n = starts(following), starts(following + 1)
            return (reason, s_n, e_n + grace, s_n, e_n, None, s_latest, e_latest, True)
        if e_latest > self._as_of_us:
            s_p, e_p = starts(previous), starts(previous + 1)
            if s_p >= start and (last_at is None or last_at < s_p):
                # The previous window closed without a test: still owed (any test now counts).
                return (reason, s_p, e_p + grace, s_p, e_p, None, s_latest, e_latest, False)
        return (reason, s_latest, e_latest + grace, s_latest, e_latest, None, s_latest, e_latest, False)

    def _midnight_us(self, day: int) -> int:
        us = self._midnights.get(day)
        if us is None:
            us = self._midnights[day] = micros(utc_midnight(date.fromordinal(day + _EPOCH_ORDINAL)))
        return us

    def _requirement(self, item: Screen) -> Requirement:
        reason, due, overdue, ws, we, interval = item[:6]
        return Requirement(
            reason,
            from_micros(due),
            EITHER,
            from_micros(overdue),
            None if ws is None else from_micros(ws),
            None if we is None else from_micros(we),
            interval,
        )

    def plain(
        self,
        plan: RoundPlan | None,
        person_id: uuid.UUID,
        cohort: int,
        vaccinated: bool,
        high_risk: bool,
        high_risk_until: int | None,
        hire_day: int | None,
        last_at: int | None,
    ) -> PersonDue:
        """``evaluate`` for a plain person (see the module's docstring), from the numbers
        ``screening`` reads."""
        items = self.screening(plan, person_id, cohort, vaccinated, high_risk, high_risk_until, hire_day, last_at)
        window = None
        for item in items:
            window = _window(item) or window
        blocks = []
        if last_at is None:
            blocks.append(NO_NEGATIVE_TEST)
        elif any(self._as_of_us > item[2] for item in items):
            blocks.append(NEGATIVE_TEST_TOO_OLD)
        if plan is not None and plan.suspended:
            blocks.append(ENTERPRISE_SUSPENDED)
        return self._answer(person_id, [self._requirement(i) for i in items], blocks, window)

    def groups_people(self, plan: RoundPlan | None) -> bool:
        """May the enterprise's plain people be counted by cell (``plain_cell``)? Not where a
        rotating sample picks people by who they are."""
        return plan is None or plan.mode != MODE_SAMPLE

    def plain_cell(self, last_at: int | None) -> tuple[int, int] | None:
        """Where a latest test (microseconds; None: never tested) falls for the counts: its
        local day, and how many of ``cell_cuts_us`` are at or before it (``bisect_right``,
        PostgreSQL's ``width_bucket``).

        A plain person who is not high-risk, in an enterprise that ``groups_people``, has the
        same ``plain_status`` as anyone of the same enterprise, half, dose-1 state and start
        day (the later of the hire day and the version's first) whose latest test is in the
        same cell: the rules compare the latest test only with local midnights (window starts,
        a campaign's start, the start day and the day's end, each less a cadence of whole
        days) and with the cuts. So a province is counted cell by cell
        (``repository.PROVINCE_GROUPS``); a high-risk person has a cut of their own (the
        end of the flag) and is counted alone."""
        if last_at is None:
            return None
        return (last_at - self.cell_origin_us) // _DAY_US, bisect.bisect_right(self.cell_cuts_us, last_at)

    def plain_status(
        self,
        plan: RoundPlan | None,
        person_id: uuid.UUID | None,
        cohort: int,
        vaccinated: bool,
        high_risk: bool,
        high_risk_until: int | None,
        hire_day: int | None,
        last_at: int | None,
    ) -> int:
        """``status(plain(...))`` without building the answer: what the counts need.

        Most people are vaccinated, not high-risk and work where halves (or everyone) are tested
        in rounds: their answer depends only on where their latest test falls against two
        instants of their half (the start of its previous and of its latest window), so it is
        computed once per enterprise, half and start day for each of the four cases
        (``_fast_entry``) and looked up: see ``status_of``, which the bulk loops hold per
        enterprise (one call here prepares it for one person)."""
        return self.status_of(plan)(person_id, cohort, vaccinated, high_risk, high_risk_until, hire_day, last_at)

    def status_of(self, plan: RoundPlan | None) -> Callable[..., int]:
        """``plain_status`` bound to one enterprise's plan, prepared once: what the bulk loops
        call for each of its plain people (``person_id, cohort, vaccinated, high_risk,
        high_risk_until, hire_day, last_at``). Same answers, fewer lookups per person: the
        statuses of a cell (``plain_cell``) are computed once."""
        return self.row_status_of(plan, 0)

    def row_status_of(self, plan: RoundPlan | None, since_us: int) -> Callable[..., int]:
        """``status_of`` for the row a statement sends (``repository.PLAIN_NAMES``): the
        high-risk end and the latest test in microseconds after ``since_us``. Most people
        (vaccinated, not high-risk, in halves or all at once) are told apart by comparing their
        latest test with two instants of their half, moved to the row's origin once; the others
        by their cell (``plain_cell``), each cell's status computed once."""
        slow = self._plain_status

        def absolute(
            person_id: uuid.UUID | None,
            cohort: int,
            vaccinated: bool,
            high_risk: bool,
            high_risk_until: int | None,
            hire_day: int | None,
            last_at: int | None,
        ) -> int:
            """The general fast path, the row's instants moved back to the epoch."""
            return slow(
                plan,
                person_id,
                cohort,
                vaccinated,
                high_risk,
                None if high_risk_until is None else high_risk_until + since_us,
                hire_day,
                None if last_at is None else last_at + since_us,
            )

        if not self.groups_people(plan):  # a rotating sample: who the person is matters
            return absolute
        rounds_only = plan is not None and plan.campaign is None and plan.mode in (MODE_COHORT, MODE_ALL)
        rounds: dict[int, FastEntry] = {}
        cells: dict[tuple[int, bool, tuple[int, int] | None], int] = {}
        entry = self._fast_entry
        cell_of = self.plain_cell

        def row_status(
            person_id: uuid.UUID | None,
            cohort: int,
            vaccinated: bool,
            high_risk: bool,
            high_risk_until: int | None,
            hire_day: int | None,
            last_at: int | None,
        ) -> int:
            if high_risk:  # a cut of their own: the end of the flag
                return absolute(person_id, cohort, vaccinated, high_risk, high_risk_until, hire_day, last_at)
            slot = self.slot(hire_day, cohort)
            if vaccinated and rounds_only:
                # Two instants tell the four cases apart: no bisection, nothing converted.
                fast = rounds.get(slot)
                if fast is None:
                    assert plan is not None  # rounds_only
                    found = entry(plan, cohort & 1, slot >> 1)
                    assert found is not None  # the mode has the shortcut (checked above)
                    fast = rounds[slot] = (found[0] - since_us, found[1] - since_us, found[2])
                s_prev, s_latest, statuses = fast
                if last_at is None:
                    return statuses[0]
                if last_at >= s_latest:
                    return statuses[3]
                return statuses[2] if last_at >= s_prev else statuses[1]
            at = None if last_at is None else last_at + since_us
            key = (slot, vaccinated, cell_of(at))
            known = cells.get(key)
            if known is None:
                known = cells[key] = slow(plan, None, cohort, vaccinated, False, None, slot >> 1, at)
            return known

        return row_status

    def slot(self, hire_day: int | None, cohort: int) -> int:
        """A plain person's start day (the later of the hire day and the version's first) and
        half, packed as one key: what their status depends on besides the latest test."""
        floor = self._floor_day
        return (hire_day if hire_day is not None and hire_day > floor else floor) * 2 + (cohort & 1)

    def shared_of(
        self, plan: RoundPlan | None
    ) -> Callable[[int, bool, bool, int | None, int | None], tuple[int, tuple[int, int] | None] | None] | None:
        """Under which key a plain person's answer is shared by others of the enterprise (None
        from the function: the person's own; None for the function: nobody's is, the plan draws
        rotating samples). A vaccinated person who is not high-risk is owed the rounds and a
        campaign (windows, not a cadence counted from the latest test), so their answer is the
        same in a cell (``plain_cell``) of their start day and half (``slot``) but for the id:
        the key is (the slot, the cell), and ``plain_shared`` of any of them is everyone's. The function takes ``cohort,
        vaccinated, high_risk, hire_day, last_at`` (instants in microseconds)."""
        if not self.groups_people(plan):
            return None
        cell_of = self.plain_cell
        slot_of = self.slot

        def shared(
            cohort: int, vaccinated: bool, high_risk: bool, hire_day: int | None, last_at: int | None
        ) -> tuple[int, tuple[int, int] | None] | None:
            if high_risk or not vaccinated:
                return None
            return slot_of(hire_day, cohort), cell_of(last_at)

        return shared

    def plain_shared(
        self,
        plan: RoundPlan | None,
        person_id: uuid.UUID,
        cohort: int,
        key: tuple[int, tuple[int, int] | None],
        last_at: int | None,
    ) -> PersonDue:
        """The answer of everyone under ``key`` (``shared_of``), built for one of them."""
        return self.plain(plan, person_id, cohort, True, False, None, key[0] >> 1, last_at)

    def answer_of(self, plan: RoundPlan | None) -> Callable[..., PersonDue]:
        """``plain`` bound to one enterprise's plan, for the people a list shows: an answer
        ``shared_of`` says others share is built once per key."""
        plain = self.plain
        shared = self.shared_of(plan)
        if shared is None:
            return functools.partial(plain, plan)
        memo: dict[tuple[int, tuple[int, int] | None], PersonDue] = {}

        def answer(
            person_id: uuid.UUID,
            cohort: int,
            vaccinated: bool,
            high_risk: bool,
            high_risk_until: int | None,
            hire_day: int | None,
            last_at: int | None,
        ) -> PersonDue:
            key = shared(cohort, vaccinated, high_risk, hire_day, last_at)
            if key is None:
                return plain(plan, person_id, cohort, vaccinated, high_risk, high_risk_until, hire_day, last_at)
            due = memo.get(key)
            if due is None:
                due = memo[key] = self.plain_shared(plan, person_id, cohort, key, last_at)
            return due if due.person_id == person_id else due._replace(person_id=person_id)

        return answer

    def _fast_entry(self, plan: RoundPlan, half: int, start_day: int) -> FastEntry | None:
        """For one half and start day: the starts of the half's previous and latest windows,
        and the status of a person whose latest test is none, before the previous window, in
        it, or in the latest (None: the plan's mode has no such shortcut). ``_routine``
        compares the latest test with those two instants only, so the four cases are exact."""
        if plan.campaign is not None or plan.mode not in (MODE_COHORT, MODE_ALL):
            return None
        if plan.mode == MODE_COHORT:
            previous, latest, _ = plan._halves[half]
        else:
            previous, latest = plan.index - 1, plan.index
        s_prev, s_latest = plan.starts_us(previous), plan.starts_us(latest)
        probes = (None, s_prev - 1, s_latest - 1 if s_latest > s_prev else s_prev, s_latest)
        a, b, c, d = (self._plain_status(plan, None, half, True, False, None, start_day, t) for t in probes)
        return s_prev, s_latest, (a, b, c, d)

    def _plain_status(
        self,
        plan: RoundPlan | None,
        person_id: uuid.UUID | None,
        cohort: int,
        vaccinated: bool,
        high_risk: bool,
        high_risk_until: int | None,
        hire_day: int | None,
        last_at: int | None,
    ) -> int:
        items = self.screening(plan, person_id, cohort, vaccinated, high_risk, high_risk_until, hire_day, last_at)
        status = NOT_CLEARED if last_at is None or (plan is not None and plan.suspended) else 0
        if not items:
            return status
        if len(items) == 1:
            due, overdue = items[0][1], items[0][2]
        else:
            due = min(i[1] for i in items)
            overdue = min(i[2] for i in items)
        if due < self._day_end_us:
            status |= DUE_TODAY
        # Overdue once any requirement's window (plus the grace) has passed; then the latest
        # negative test is no longer recent enough to be cleared.
        return status | OVERDUE | NOT_CLEARED if self._as_of_us > overdue else status

    def status(self, due: PersonDue) -> int:
        """DUE_TODAY, OVERDUE and NOT_CLEARED of one answer."""
        status = DUE_TODAY if due.due_at is not None and due.due_at < self.day_end else 0
        if due.overdue:
            status |= OVERDUE
        return status if due.cleared_to_work else status | NOT_CLEARED

    def _answer(
        self,
        person_id: uuid.UUID,
        reqs: list[Requirement],
        blocks: list[str],
        window: RoundWindow | None = None,
        flags: tuple[str, ...] = (),
    ) -> PersonDue:
        """The next visit: the earliest requirement and every other one due by then."""
        cleared = not blocks
        as_of = self.as_of
        if len(reqs) == 1:
            r = reqs[0]
            return PersonDue(
                person_id,
                r.due_at,
                r.kind,
                (r.reason,),
                as_of > r.overdue_after,
                cleared,
                tuple(blocks),
                (r,),
                window,
                flags,
            )
        if not reqs:
            return PersonDue(person_id, None, None, (), False, cleared, tuple(blocks), (), window, flags)
        reqs.sort(key=_due_key)
        first = reqs[0].due_at
        cut = first if first > as_of else as_of
        current = [r for r in reqs if r.due_at <= cut]
        reasons = tuple(dict.fromkeys(r.reason for r in current))
        overdue = any(as_of > r.overdue_after for r in reqs)
        kind = combine_kinds(r.kind for r in current)
        return PersonDue(person_id, first, kind, reasons, overdue, cleared, tuple(blocks), tuple(reqs), window, flags)

    def enterprise_due(self, enterprise: EnterpriseFacts, people: Sequence[PersonFacts]) -> list[PersonDue]:
        """Every person of one enterprise (``people``: its whole active roster), its rounds
        planned once."""
        plan = self.round_plan(enterprise, [p.person_id for p in people])
        return [self.evaluate(p, plan) for p in people]


# ``DueRules._fast_entry``: (start of the previous window, start of the latest, the four statuses).
FastEntry = tuple[int, int, tuple[int, int, int, int]]

# One screening requirement as ``DueRules.screening`` computes it, in microseconds: reason, due,
# overdue after, its window (start, end; None for a cadence), the cadence's interval in days,
# and the person's round window shown in lists (start, end, done; None outside the rounds).
Screen = tuple[str, int, int, int | None, int | None, int | None, int | None, int | None, bool]


def _window(item: Screen) -> RoundWindow | None:
    start, end = item[6], item[7]
    if start is None or end is None:
        return None
    return RoundWindow(from_micros(start), from_micros(end), item[8])


def _due_key(r: Requirement) -> datetime:
    return r.due_at


def _buffer_test_due(arrived: datetime, buffer_end: datetime, i: int, n: int) -> datetime:
    """The i-th of n buffer-zone tests: the first on arrival, the last on the buffer's last
    day, the others evenly between."""
    last = max(arrived, buffer_end - timedelta(days=1))
    if n <= 1:
        return arrived
    return arrived + (last - arrived) * (i - 1) / (n - 1)


def person_due(
    policy: PolicyDocument,
    as_of: datetime,
    person: PersonFacts,
    enterprise: EnterpriseFacts | None = None,
    roster: Sequence[uuid.UUID] = (),
    versions: Sequence[PolicyDocument] | None = None,
) -> PersonDue:
    """One person's next test at ``as_of`` under ``policy`` (the one in force then)."""
    rules = DueRules(policy, as_of, versions)
    plan = rules.round_plan(enterprise, roster) if enterprise is not None else None
    return rules.evaluate(person, plan)
