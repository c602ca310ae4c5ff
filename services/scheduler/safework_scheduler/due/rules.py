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

import functools
import hashlib
import math
import unicodedata
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, timedelta
from typing import Final, NamedTuple
from zoneinfo import ZoneInfo

from safework_scheduler.policy.document import PolicyDocument

LOCAL_TZ: Final = ZoneInfo("Asia/Ho_Chi_Minh")

# Test kinds as stored, and the combined kinds a visit can need.
PCR: Final = "PCR"
RAPID_ANTIGEN: Final = "RAPID_ANTIGEN"
EITHER: Final = "EITHER"
RAPID_ANTIGEN_AND_PCR: Final = "RAPID_ANTIGEN_AND_PCR"
NEGATIVE: Final = "NEGATIVE"
POSITIVE_RESULT: Final = "POSITIVE"

# Reason codes: why a test is due (and, for some, why the person is not cleared to work).
HIGH_RISK_3D: Final = "HIGH_RISK_3D"  # seeds/000 §2.2 (1): high-risk group, every 3 days
UNVACCINATED_3D: Final = "UNVACCINATED_3D"  # seeds/000 §2.2 (1): not vaccinated, every 3 days
CONTACT: Final = "CONTACT"  # contact of a confirmed case (F1): high-risk for contact.high_risk_days
NEW_HIRE_PRE_ARRIVAL_PCR: Final = "NEW_HIRE_PRE_ARRIVAL_PCR"  # §2.2 (2): negative PCR ≤ 48 h before arrival
NEW_HIRE_BUFFER: Final = "NEW_HIRE_BUFFER"  # §2.2 (2): 7 days in a buffer zone with 2 negative tests
NEW_HIRE_HIGH_RISK: Final = "NEW_HIRE_HIGH_RISK"  # §2.2 (2): then high-risk for 10 days
ROUTINE_COHORT: Final = "ROUTINE_COHORT"  # §2.2 (3): 7-day rounds of 50%, alternating halves
ROUTINE_ROUND: Final = "ROUTINE_ROUND"  # a round of the whole workforce (July 2021 plan)
SAMPLED: Final = "SAMPLED"  # §2.2: garment/shuttlecock outside parks (≥ 20%), < 20 workers (district ratio)
RETURN_24H: Final = "RETURN_24H"  # §2.3: back in a boarding house from another province, within 24 h
RETURN_72H: Final = "RETURN_72H"  # §2.3: and again 72 h later
SYMPTOMATIC: Final = "SYMPTOMATIC"  # §2.2: symptoms declared: a rapid test and a PCR at once
POOL_POSITIVE: Final = "POOL_POSITIVE"  # seeds/001: a positive pool: an individual PCR at once
POSITIVE: Final = "POSITIVE"  # a positive result not followed by a negative PCR

REASONS: Final = (
    HIGH_RISK_3D,
    UNVACCINATED_3D,
    CONTACT,
    NEW_HIRE_PRE_ARRIVAL_PCR,
    NEW_HIRE_BUFFER,
    NEW_HIRE_HIGH_RISK,
    ROUTINE_COHORT,
    ROUTINE_ROUND,
    SAMPLED,
    RETURN_24H,
    RETURN_72H,
    SYMPTOMATIC,
    POOL_POSITIVE,
    POSITIVE,
)
NOT_CLEARED_REASONS: Final = (POSITIVE, POOL_POSITIVE, SYMPTOMATIC, NEW_HIRE_BUFFER, NEW_HIRE_PRE_ARRIVAL_PCR)

# Round modes of an enterprise.
MODE_COHORT: Final = "COHORT"  # alternating halves (person.test_cohort)
MODE_ALL: Final = "ALL"  # everyone every round
MODE_SAMPLE: Final = "SAMPLE"  # a rotating share of the roster

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


def micros(instant: datetime) -> int:
    """An instant as whole microseconds since the Unix epoch (exact; the adapter's SQL sends
    the same numbers). The rules' arithmetic is the same in either form: Asia/Ho_Chi_Minh has
    kept UTC+7 since 1975, so adding days to a local time and to a UTC time agree."""
    return (instant - _EPOCH) // _MICROSECOND


def from_micros(us: int) -> datetime:
    """The UTC datetime of ``micros``' number."""
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
    a confirmed case."""

    declared_at: datetime
    symptoms: Sequence[str]
    contact: bool


class Travel(NamedTuple):
    """A trip out of the province and back."""

    returned_at: datetime
    destination_province: str
    to_boarding_house: bool


class PositivePool(NamedTuple):
    """A positive pooled sample the person was in (seeds/001)."""

    collected_at: datetime
    resulted_at: datetime


class PersonFacts(NamedTuple):
    """What the rules need to know about one person, as of the computation's instant. (A
    named tuple: the bulk paths build a million of them.)"""

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


@dataclass(frozen=True, slots=True)
class EnterpriseFacts:
    """An enterprise and the size of its active roster (the people its rounds are drawn from)."""

    enterprise_id: uuid.UUID
    district: str
    zone_type: str
    industry: str
    roster_size: int


class Requirement(NamedTuple):
    """One test a person owes: due from ``due_at``, overdue once ``overdue_after`` has passed."""

    reason: str
    due_at: datetime
    kind: str
    overdue_after: datetime


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

    def due_before(self, instant: datetime) -> bool:
        return self.due_at is not None and self.due_at < instant


@dataclass(frozen=True, slots=True)
class RoundPlan:
    """An enterprise's screening rounds (seeds/000 §2.2 (3) and the sampling exceptions).

    Round ``k`` starts on ``first_day + k * round_days`` (local midnight); ``index`` is the round
    in progress at ``as_of``. In ``SAMPLE`` mode round ``k`` takes ``sample_size`` people from
    the stable order ``positions``, continuing where round ``k - 1`` stopped and wrapping
    around, so everyone is picked once before anyone is picked again."""

    mode: str
    reason: str
    share: float
    round_days: int
    first_day: date
    index: int
    roster_size: int
    sample_size: int
    positions: Mapping[uuid.UUID, int] = field(default_factory=dict)
    # Start instants (UTC, and in microseconds) of the rounds around ``index``, computed once
    # per plan.
    _starts: dict[int, datetime] = field(default_factory=dict, init=False, repr=False, compare=False)
    _starts_us: dict[int, int] = field(default_factory=dict, init=False, repr=False, compare=False)
    # COHORT mode, by parity of the half: (start of its latest round, start of its next).
    _halves: list[tuple[int, int]] = field(default_factory=list, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        for k in range(self.index - 2, self.index + 4):
            self._starts[k] = start = utc_midnight(self.starts_on(k))
            self._starts_us[k] = micros(start)
        for half in (0, 1):
            # The half is tested in rounds of its parity.
            mine = self.index if (self.index - half) % 2 == 0 else self.index - 1
            self._halves.append((self._starts_us[mine], self._starts_us[mine + 2]))

    def starts_on(self, k: int) -> date:
        return self.first_day + timedelta(days=k * self.round_days)

    def starts_at(self, k: int) -> datetime:
        """Round ``k``'s first instant (local midnight, as a UTC datetime)."""
        start = self._starts.get(k)
        return start if start is not None else utc_midnight(self.starts_on(k))

    def starts_us(self, k: int) -> int:
        """``starts_at`` in microseconds since the epoch."""
        start = self._starts_us.get(k)
        return start if start is not None else micros(utc_midnight(self.starts_on(k)))

    @property
    def cohort_due(self) -> int | None:
        """The half tested in the round in progress (COHORT mode)."""
        return self.index % 2 if self.mode == MODE_COHORT else None

    def selected(self, position: int, k: int) -> bool:
        """Is the person at ``position`` in round ``k``'s sample? (SAMPLE mode.)"""
        n = self.roster_size
        return n > 0 and (position - k * self.sample_size) % n < self.sample_size

    def for_people(self, keep: Callable[[uuid.UUID], bool]) -> RoundPlan:
        """The same plan with the positions of the people ``keep`` accepts only (a share of the
        people needs no others)."""
        if not self.positions:
            return self
        return replace(self, positions={pid: i for pid, i in self.positions.items() if keep(pid)})

    def next_selection(self, position: int, after: int) -> int:
        """The first round after ``after`` whose sample takes ``position``."""
        k = after + 1
        for _ in range(self.roster_size + 1):
            if self.selected(position, k):
                return k
            k += 1
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
    """A stable pseudo-random order of an enterprise's people for rotating samples."""
    return hashlib.blake2b(enterprise_id.bytes + person_id.bytes, digest_size=8).digest()


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
    kept in UTC inside (answers too): the same instants, compared faster."""

    def __init__(self, policy: PolicyDocument, as_of: datetime) -> None:
        if as_of.tzinfo is None:
            raise ValueError("as_of must carry a time zone")
        t = policy.testing
        self.policy = policy
        self.as_of = as_of.astimezone(UTC)
        self.day = local_day(as_of)
        self.grace = timedelta(hours=t.overdue_grace_hours)
        self.horizon = self.as_of - timedelta(days=t.history_days)
        # With no test in the history window, a cadence is due since the policy took effect
        # (or since the window's start, whichever is later): overdue either way.
        self.floor = max(utc_midnight(policy.effective_from), self.horizon)
        self.high_risk_every = timedelta(days=t.high_risk_interval_days)
        self.unvaccinated_every = timedelta(days=t.unvaccinated_interval_days)
        self.contact_days = timedelta(days=t.contact.high_risk_days)
        self.symptomatic_kinds = t.symptomatic.kinds
        self.pool_kind = t.pool_positive.kind
        self.new_hire = t.new_hire
        self.boarding_house_return = t.boarding_house_return
        self.home = province_key(policy.province)
        self.day_end = end_of_local_day(self.day)
        # The same instants in microseconds, for ``screening``.
        self._as_of_us = micros(self.as_of)
        self._floor_us = micros(self.floor)
        self._grace_us = t.overdue_grace_hours * _HOUR_US
        self._high_risk_every_us = t.high_risk_interval_days * _DAY_US
        self._unvaccinated_every_us = t.unvaccinated_interval_days * _DAY_US
        self._day_end_us = micros(self.day_end)
        self._midnights: dict[int, int] = {}

    @property
    def arrivals_after(self) -> datetime | None:
        """seeds/000 §2.2 (2): a new hire who arrived after this instant may still be in the
        pipeline (buffer, then high-risk) at ``as_of``, so is not plain. None: the policy has
        no new-hire rule."""
        nh = self.new_hire
        if nh is None:
            return None
        return self.as_of - timedelta(days=nh.buffer_days + nh.high_risk_days_after_buffer)

    # -- enterprise level ---------------------------------------------------------------

    def round_mode(self, enterprise: EnterpriseFacts) -> tuple[str, str, float]:
        """Which rounds the enterprise runs (seeds/000 §2.2): outside the parks, garment and
        shuttlecock makers sample at least 20% and enterprises under 20 workers the district's
        ratio (the larger when both apply); otherwise 50% halves alternating by round.
        Returns (mode, reason code, share)."""
        t = self.policy.testing
        r = t.routine
        outside = enterprise.zone_type in t.outside_parks_zone_types
        shares: list[float] = []
        if outside and enterprise.industry in t.sampled_industries_outside_parks:
            shares.append(t.sampled_industries_min_share)
        if outside and enterprise.roster_size < t.small_enterprise_threshold:
            shares.append(t.district_sampling_ratio.ratio(enterprise.district))
        if shares:
            return MODE_SAMPLE, SAMPLED, max(shares)
        if r.alternating_halves:
            return MODE_COHORT, ROUTINE_COHORT, 0.5
        if r.share >= 1:
            return MODE_ALL, ROUTINE_ROUND, 1.0
        return MODE_SAMPLE, SAMPLED, r.share

    def needs_roster(self, enterprise: EnterpriseFacts) -> bool:
        """Does the plan need the roster's ids (a rotating sample) or only its size?"""
        return self.round_mode(enterprise)[0] == MODE_SAMPLE

    def round_plan(self, enterprise: EnterpriseFacts, roster: Sequence[uuid.UUID] = ()) -> RoundPlan:
        """The enterprise's rounds at ``as_of``. ``roster`` (the active people's ids) is needed
        for a rotating sample (see ``needs_roster``)."""
        r = self.policy.testing.routine
        n = enterprise.roster_size
        mode, reason, share = self.round_mode(enterprise)
        offset = round_offset_days(enterprise.enterprise_id, r.round_days) if r.spread_round_day else 0
        first_day = r.anchor + timedelta(days=offset)
        index = (self.day - first_day).days // r.round_days
        positions: dict[uuid.UUID, int] = {}
        sample_size = n
        if mode == MODE_SAMPLE:
            # round() first: 0.2 * 10 must give 2, not 3.
            sample_size = min(n, math.ceil(round(share * n, 9))) if n else 0
            if len(roster) != n:
                raise ValueError("a rotating sample needs the whole active roster")
            eid = enterprise.enterprise_id
            ordered = sorted(roster, key=lambda pid: sample_order_key(eid, pid))
            positions = {pid: i for i, pid in enumerate(ordered)}
        return RoundPlan(mode, reason, share, r.round_days, first_day, index, n, sample_size, positions)

    # -- person level -------------------------------------------------------------------

    def from_elsewhere(self, province: str | None) -> bool:
        """Arrived from, or travelled to, another province (unknown counts as elsewhere)."""
        return province_key(province) != self.home

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
        ) = p
        as_of = self.as_of
        grace = self.grace
        reqs: list[Requirement] = []
        blocks: list[str] = []

        last_at = results.last_at()

        # A positive result stands until a later negative PCR. A confirmed case is managed by the
        # health sector, not screened: only a positive rapid test still needs its PCR.
        positive = results.latest_positive()
        if positive is not None and not results.any_since(positive[0], PCR, NEGATIVE, inclusive=False):
            pos_at, pos_kind = positive
            blocks.append(POSITIVE)
            if pos_kind != PCR and not results.any_since(pos_at, PCR, inclusive=False):
                reqs.append(Requirement(POSITIVE, pos_at, PCR, pos_at + grace))
            return self._answer(person_id, reqs, blocks)

        cadence: list[Requirement] = []
        in_buffer = False
        symptoms_at: datetime | None = None
        contact_at: datetime | None = None
        for declared_at, symptoms, contact in declarations:
            if declared_at > as_of:
                continue
            if symptoms and (symptoms_at is None or declared_at > symptoms_at):
                symptoms_at = declared_at
            if contact and (contact_at is None or declared_at > contact_at):
                contact_at = declared_at

        # seeds/000 §2.2: symptoms declared: a rapid test and a PCR at once; not cleared until a
        # PCR collected since comes back negative (a positive one is handled above).
        if symptoms_at is not None and not results.any_since(symptoms_at, PCR, NEGATIVE):
            blocks.append(SYMPTOMATIC)
            for kind in self.symptomatic_kinds:
                if not results.any_since(symptoms_at, kind):
                    reqs.append(Requirement(SYMPTOMATIC, symptoms_at, kind, symptoms_at + grace))

        # seeds/001: a positive pool clears no one: each member needs an individual test at once
        # (due when the pool's result is known) and is not cleared until it is negative.
        for pool_collected, pool_resulted in positive_pools:
            if pool_resulted > as_of:
                continue
            pool_kind = self.pool_kind
            if not results.any_since(pool_collected, pool_kind, inclusive=False, pooled=False):
                if POOL_POSITIVE not in blocks:
                    blocks.append(POOL_POSITIVE)
                reqs.append(Requirement(POOL_POSITIVE, pool_resulted, pool_kind, pool_resulted + grace))

        # seeds/000 §2.2 (2): new hires from another province.
        nh = self.new_hire
        if nh is not None and arrived is not None and arrived <= as_of and self.from_elsewhere(arrived_from):
            buffer_end = arrived + timedelta(days=nh.buffer_days)
            high_risk_end = buffer_end + timedelta(days=nh.high_risk_days_after_buffer)
            if as_of < high_risk_end:
                pre_from = arrived - timedelta(hours=nh.pre_arrival_pcr_max_hours)
                if not results.any_since(pre_from, PCR, NEGATIVE, until=arrived):
                    # Missing the pre-arrival PCR: a PCR on arrival instead; not cleared until a
                    # negative one exists.
                    if not results.any_since(pre_from, PCR, NEGATIVE):
                        blocks.append(NEW_HIRE_PRE_ARRIVAL_PCR)
                    if not results.any_since(pre_from, PCR):
                        reqs.append(Requirement(NEW_HIRE_PRE_ARRIVAL_PCR, arrived, PCR, arrived + grace))
                done = results.count_since(arrived, NEGATIVE)
                needed = nh.buffer_negative_tests
                if done < needed or as_of < buffer_end:
                    in_buffer = True
                    blocks.append(NEW_HIRE_BUFFER)
                    if done < needed:
                        due = _buffer_test_due(arrived, buffer_end, done + 1, needed)
                        reqs.append(Requirement(NEW_HIRE_BUFFER, due, EITHER, due + grace))
                else:
                    due = buffer_end if last_at is None else max(last_at + self.high_risk_every, buffer_end)
                    if due < high_risk_end:
                        cadence.append(Requirement(NEW_HIRE_HIGH_RISK, due, EITHER, due + grace))

        # Contact with a confirmed case: high-risk for contact.high_risk_days, tested at once.
        if contact_at is not None and as_of < contact_at + self.contact_days:
            due = contact_at if last_at is None or last_at < contact_at else last_at + self.high_risk_every
            if due < contact_at + self.contact_days:
                cadence.append(Requirement(CONTACT, due, EITHER, due + grace))

        if not in_buffer:
            # The cadences and the rounds, exactly as for a plain person.
            for reason, due_us in self.screening(
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
                cadence.append(self._requirement(reason, due_us))
        reqs.extend(cadence)

        # seeds/000 §2.3: back in a boarding house from another province: a test within 24 h and
        # a second one at least 72 h after the return.
        ret = self.boarding_house_return
        if ret is not None:
            for returned_at, destination, to_boarding_house in travels:
                if returned_at > as_of or not to_boarding_house or not self.from_elsewhere(destination):
                    continue
                after = results.times_since(returned_at)
                if not after:
                    deadline = returned_at + timedelta(hours=ret.first_test_within_hours)
                    reqs.append(Requirement(RETURN_24H, returned_at, EITHER, deadline))
                second_from = returned_at + timedelta(hours=ret.second_test_after_hours)
                if not any(a >= second_from for a in after[1:]):
                    reqs.append(Requirement(RETURN_72H, second_from, EITHER, second_from + grace))

        return self._answer(person_id, reqs, blocks)

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
    ) -> list[tuple[str, int]]:
        """seeds/000 §2.2 (1) and (3): the (reason, due) of the high-risk and unvaccinated
        cadences, or, if neither applies and ``rounds`` (no other cadence does either), of the
        enterprise's rounds. Instants in microseconds (``micros``), ``hire_day`` in days
        (``epoch_day``); ``vaccinated``: dose 1 given by ``as_of``; ``last_at``: the latest
        specimen in the window; ``person_id`` is read in SAMPLE mode only."""
        hire_start = None
        if hire_day is not None:
            hire_start = self._midnights.get(hire_day)
            if hire_start is None:
                hire_start = self._midnight_us(hire_day)
        if vaccinated and not high_risk:  # most people: the rounds only
            if rounds and plan is not None:
                due = self._routine(plan, person_id, cohort, last_at, hire_start)
                if due is not None:
                    return [(plan.reason, due)]
            return []
        as_of = self._as_of_us
        floor = self._floor_us
        if hire_start is not None and hire_start > floor:
            floor = hire_start
        out: list[tuple[str, int]] = []
        # seeds/000 §2.2 (1): the high-risk group, every 3 days (while flagged).
        if high_risk and (high_risk_until is None or as_of < high_risk_until):
            due = floor if last_at is None else last_at + self._high_risk_every_us
            if high_risk_until is None or due < high_risk_until:
                out.append((HIGH_RISK_3D, due))
        # seeds/000 §2.2 (1): "người chưa tiêm vắc xin": no dose at all yet.
        if not vaccinated:
            out.append((UNVACCINATED_3D, floor if last_at is None else last_at + self._unvaccinated_every_us))
        # seeds/000 §2.2 (3): everyone in no group above is tested in the enterprise's rounds.
        if not out and rounds and plan is not None:
            routine = self._routine(plan, person_id, cohort, last_at, hire_start)
            if routine is not None:
                out.append((plan.reason, routine))
        return out

    def _routine(
        self, plan: RoundPlan, person_id: uuid.UUID | None, cohort: int, last_at: int | None, hire_start: int | None
    ) -> int | None:
        """When the person is due in the enterprise's rounds (microseconds); None: not in them."""
        k = plan.index
        if plan.mode == MODE_COHORT:
            # The person's half is tested in rounds of its parity; a missed round stays due
            # until the half's next round.
            start, following = plan._halves[cohort % 2]
            if last_at is not None and last_at >= start:
                return following
        elif plan.mode == MODE_ALL:
            start = plan.starts_us(k)
            if last_at is not None and last_at >= start:
                return plan.starts_us(k + 1)
        else:
            position = plan.positions.get(person_id) if person_id is not None else None
            if position is None:
                return None
            start = plan.starts_us(k)
            if not plan.selected(position, k) or (last_at is not None and last_at >= start):
                # A sample is for its round: when the round ends, the next round's sample is due.
                return plan.starts_us(plan.next_selection(position, k))
        return start if hire_start is None or hire_start < start else hire_start

    def _midnight_us(self, day: int) -> int:
        us = self._midnights.get(day)
        if us is None:
            us = self._midnights[day] = micros(utc_midnight(date.fromordinal(day + _EPOCH_ORDINAL)))
        return us

    def _requirement(self, reason: str, due_us: int) -> Requirement:
        due = from_micros(due_us)
        return Requirement(reason, due, EITHER, due + self.grace)

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
        reqs = self.screening(plan, person_id, cohort, vaccinated, high_risk, high_risk_until, hire_day, last_at)
        return self._answer(person_id, [self._requirement(r, d) for r, d in reqs], [])

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
        """``status(plain(...))`` without building the answer: what the counts need."""
        reqs = self.screening(plan, person_id, cohort, vaccinated, high_risk, high_risk_until, hire_day, last_at)
        if not reqs:
            return 0
        due = reqs[0][1] if len(reqs) == 1 else min(d for _, d in reqs)
        status = DUE_TODAY if due < self._day_end_us else 0
        # Overdue once any requirement's grace has passed: the earliest one's.
        return status | OVERDUE if self._as_of_us > due + self._grace_us else status

    def status(self, due: PersonDue) -> int:
        """DUE_TODAY, OVERDUE and NOT_CLEARED of one answer."""
        status = DUE_TODAY if due.due_at is not None and due.due_at < self.day_end else 0
        if due.overdue:
            status |= OVERDUE
        return status if due.cleared_to_work else status | NOT_CLEARED

    def _answer(self, person_id: uuid.UUID, reqs: list[Requirement], blocks: list[str]) -> PersonDue:
        """The next visit: the earliest requirement and every other one due by then."""
        cleared = not blocks
        as_of = self.as_of
        if len(reqs) == 1:
            r = reqs[0]
            return PersonDue(
                person_id, r.due_at, r.kind, (r.reason,), as_of > r.overdue_after, cleared, tuple(blocks), (r,)
            )
        if not reqs:
            return PersonDue(person_id, None, None, (), False, cleared, tuple(blocks), ())
        reqs.sort(key=_due_key)
        first = reqs[0].due_at
        cut = first if first > as_of else as_of
        current = [r for r in reqs if r.due_at <= cut]
        reasons = tuple(dict.fromkeys(r.reason for r in current))
        overdue = any(as_of > r.overdue_after for r in reqs)
        kind = combine_kinds(r.kind for r in current)
        return PersonDue(person_id, first, kind, reasons, overdue, cleared, tuple(blocks), tuple(reqs))

    def enterprise_due(self, enterprise: EnterpriseFacts, people: Sequence[PersonFacts]) -> list[PersonDue]:
        """Every person of one enterprise (``people``: its whole active roster), its rounds
        planned once."""
        plan = self.round_plan(enterprise, [p.person_id for p in people])
        return [self.evaluate(p, plan) for p in people]


def _due_key(r: Requirement) -> datetime:
    return r.due_at


def _buffer_test_due(arrived: datetime, buffer_end: datetime, i: int, n: int) -> datetime:
    """The i-th of n buffer-zone tests: the first on arrival, the last on the buffer's last
    day, the others evenly between."""
    last = max(arrived, buffer_end - timedelta(days=1))
    if n <= 1:
        return last
    return arrived + (last - arrived) * (i - 1) / (n - 1)


def person_due(
    policy: PolicyDocument,
    as_of: datetime,
    person: PersonFacts,
    enterprise: EnterpriseFacts | None = None,
    roster: Sequence[uuid.UUID] = (),
) -> PersonDue:
    """One person's next test at ``as_of`` under ``policy`` (the one in force then)."""
    rules = DueRules(policy, as_of)
    plan = rules.round_plan(enterprise, roster) if enterprise is not None else None
    return rules.evaluate(person, plan)
