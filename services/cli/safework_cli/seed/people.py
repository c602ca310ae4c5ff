"""People and everything about them, one chunk of enterprises at a time.

Each enterprise draws from its own ``random.Random`` (seeded by the run's seed and its number),
so a chunk's rows do not depend on which process makes it or in what order. Surrogate keys are
ranges fixed by the people's global indexes (so they are reproducible too): a chunk whose
first person is *p* numbers its results from ``base + p * RESULT_CAP``, and so on.

The testing follows the rules the scheduler applies (seeds/000 §2.2-2.3, seeds/001): weekly
rounds on the enterprise's round day, everyone before 11 September 2021 and alternating halves
(``test_cohort``) after it, 20% samples for garment and shuttlecock makers outside the parks and
for enterprises under 20 workers; every 3 days for the high-risk and the unvaccinated; new hires
from other provinces with a pre-arrival PCR, two buffer-zone tests, then ten high-risk days;
symptoms declared give a rapid test and a PCR at once; a return to a boarding house from another
province a test within 24 h and another 72 h later. About 5-8% of due tests are missed, so the
scheduler has overdue people to show.

QR check-ins (seeds/004 §II.5 orders QR scanning at premises; the seeds give no density, so
every number below is *assumed*, not in the source): every worker, on every working day
(Monday to Saturday) of the last ``checkin_days`` days (default 30), is at work with
probability 0.95 and then checks in at their gate in the 32 minutes before their shift starts,
at their production unit in its first 16 minutes, and at their unit's canteen for the meal 4 h
into the shift (three sittings staggered 30 minutes by unit, each spread over 32 minutes); in a
park enterprise with buses (300 workers or more), four workers in ten ride one first (40-72
minutes before the shift). Each worker keeps one shift, unit, gate, canteen and bus.
Enterprises of 300 or more run three 8-hour shifts (06:00 half of them, 14:00 three in ten,
22:00 two in ten); smaller ones one day shift at 07:30. Nobody checks in before being available
(hire, the end of the buffer zone), after leaving, or after the positive PCR that isolated
them. About 3.1 check-ins a working day, ~75 a person over 30 days. The venues per enterprise
are in ``plan.py``.
"""

from __future__ import annotations

import math
import random
import uuid
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta, timezone
from operator import itemgetter
from typing import Any, Final

from safework_cli.seed import province as pv
from safework_cli.seed.ids import REGISTRY_EPOCH_MS, NationalIdSealer, Scramble, mix64, uuid7
from safework_cli.seed.picker import Picker, uniform
from safework_cli.seed.plan import EnterprisePlan
from safework_common.gcpause import gc_paused
from safework_registry.declarations.models import SYMPTOMS
from safework_scheduler.due.rules import sample_order_key

Row = tuple[Any, ...]
TZ7: Final = timezone(timedelta(hours=7))  # Asia/Ho_Chi_Minh has had no DST since 1975

# Surrogate-key room per person (upper bounds the generator enforces).
RESULT_CAP: Final = 32
POOL_CAP: Final = 8
DOSE_CAP: Final = 2
DECLARATION_CAP: Final = 3
TRAVEL_CAP: Final = 1
CHECKIN_CAP: Final = 4 * 31  # at most four check-ins a day
MAX_PEOPLE: Final = 10_000_000  # the old-ID scheme below is unique up to here

# Event sources in the testing simulation.
_CADENCE, _SYMPTOM, _PCR, _RETEST_RAPID, _EITHER = range(5)
_NEVER: Final = 1 << 30
_WINDOW_MINUTES: Final = 30 * 1440

_OTHER_PROVINCE = Picker(pv.OTHER_PROVINCES)
_SURNAME = Picker(pv.SURNAMES)
_PHONE = uniform(pv.PHONE_PREFIXES)
_MIDDLE = (uniform(pv.MIDDLE_MALE), uniform(pv.MIDDLE_FEMALE))
_GIVEN = (uniform(pv.GIVEN_MALE), uniform(pv.GIVEN_FEMALE))
_APP_VERSION = Picker([("4.0.7", 0.10), ("4.1.2", 0.35), ("4.2.0", 0.55)])
_PRODUCT_ERAS = tuple((start, Picker(weights)) for start, weights in pv.PRODUCT_ERAS)

# Share of women (*assumed*: garment and electronics lines in the parks employ mostly young
# women; shuttlecock workshops too; other firms outside the parks are mixed).
_FEMALE = {"garment": 0.78, "shuttlecock": 0.65, "other_KCN": 0.68, "other": 0.45}
# Share of workers born in Bắc Giang (*assumed*: parks recruit more from other provinces).
_HOME_SHARE = {"KCN": 0.74, "CCN": 0.86, "OUTSIDE": 0.93}
# Dose-1 coverage by priority tier at the end of September (*assumed* to match seeds/000 §2.1:
# parks first, then clusters, then the rest), and when each tier's campaign started.
_TIER_START = {1: date(2021, 6, 14), 2: date(2021, 7, 20), 3: date(2021, 8, 9)}
_TIER_COVERED = {1: 0.94, 2: 0.86, 3: 0.74}
_TIER_OCTOBER = {1: 0.04, 2: 0.10, 3: 0.18}
_DOSE1_DEADLINE: Final = date(2021, 9, 30)
_APP_COVERAGE = {"KCN": 0.92, "CCN": 0.82, "OUTSIDE": 0.66}
_JUNE_1: Final = date(2021, 6, 1)
_JULY_1: Final = date(2021, 7, 1)
_JULY_31: Final = date(2021, 7, 31)
_AUGUST_1: Final = date(2021, 8, 1)
_DAYS: Final = tuple(timedelta(days=d) for d in range(23_000))
_HOURS: Final = tuple(timedelta(hours=h) for h in range(500))
_TEN_MINUTES: Final = timedelta(minutes=10)
_MINUTES: Final = tuple(timedelta(minutes=m) for m in range(1440))
_PAST_DAYS: Final = 500
_ADULT: Final = timedelta(days=6576)  # 18 years

# Check-in density (*assumed*, not in the source; see the module docstring).
CHECKIN_DAYS_OFF: Final = frozenset({6})  # Sunday (date.weekday())
CHECKIN_ATTENDANCE: Final = 0.95  # share of working days a worker is at work
CHECKIN_SHIFT_HEADCOUNT: Final = 300  # from this headcount, three shifts
CHECKIN_SHIFTS_LARGE: Final = Picker([(360, 0.5), (840, 0.3), (1320, 0.2)])  # 06:00, 14:00, 22:00
CHECKIN_SHIFTS_SMALL: Final = Picker([(450, 1.0)])  # 07:30
CHECKIN_BUS_SHARE: Final = 0.4  # of workers of an enterprise with buses
CHECKIN_MEAL_AFTER: Final = 240  # minutes into the shift
CHECKIN_MEAL_SITTINGS: Final = 3
CHECKIN_MEAL_STAGGER: Final = 30  # minutes between sittings (each spread over 32 minutes)


@dataclass(frozen=True, slots=True)
class Context:
    """What every chunk needs besides its enterprises (small; pickled to each process)."""

    seed: int
    as_of: datetime
    enterprises: int
    labs: tuple[tuple[uuid.UUID, str], ...]
    intervals: dict[str, int]  # vaccine product code -> minimum days between doses
    national_id_key: bytes
    id_base: dict[str, int] = field(default_factory=dict)
    checkin_days: int = 30  # check-ins on the last this-many days of the window (0: none)


@dataclass(slots=True)
class Chunk:
    """The rows of one chunk, by table, in load order."""

    person: list[Row] = field(default_factory=list)
    pool: list[Row] = field(default_factory=list)
    test_result: list[Row] = field(default_factory=list)
    pool_member: list[Row] = field(default_factory=list)
    dose: list[Row] = field(default_factory=list)
    health_declaration: list[Row] = field(default_factory=list)
    travel: list[Row] = field(default_factory=list)
    checkin: list[Row] = field(default_factory=list)
    app_installation: list[Row] = field(default_factory=list)

    def tables(self) -> dict[str, list[Row]]:
        return {name: getattr(self, name) for name in TABLE_ORDER}


TABLE_ORDER: Final = (
    "person",
    "pool",
    "test_result",
    "pool_member",
    "dose",
    "health_declaration",
    "travel",
    "checkin",
    "app_installation",
)


class Generator:
    """Makes chunks. Built once per process (the key schedule, the ID permutations)."""

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        self.sealer = NationalIdSealer(ctx.national_id_key)
        ids_rng = random.Random(f"safework-seed/{ctx.seed}/ids")
        self.cccd_serial = Scramble(ids_rng)
        self.cmnd_serial = Scramble(ids_rng)
        self.device_key = ids_rng.getrandbits(64)
        # Instants are kept in UTC: the same timestamptz values, and the driver encodes a UTC
        # datetime without converting it first. Dates are local (Asia/Ho_Chi_Minh, +07:00).
        self.as_of = ctx.as_of.astimezone(UTC)
        self.as_of_day = ctx.as_of.astimezone(TZ7).date()
        self.day0 = self.as_of_day - timedelta(days=29)
        self.start = datetime(self.day0.year, self.day0.month, self.day0.day, tzinfo=TZ7).astimezone(UTC)
        # Every minute of the window (and a day and a half after it) as a datetime, by minute
        # index: the hot paths do integer arithmetic and look the instants up.
        self.T = [self.start + timedelta(minutes=m) for m in range(_WINDOW_MINUTES + 2160)]
        self.as_of_min = int((self.as_of - self.start).total_seconds() // 60)
        self.midnights = [self.start + timedelta(days=d) for d in range(-_PAST_DAYS, 40)]
        self.weekdays = [(self.day0 + timedelta(days=d)).weekday() for d in range(30)]
        self.day_code = [(self.day0 + timedelta(days=d)).strftime("%y%m%d") for d in range(31)]
        self.sept_day = (pv.SEPTEMBER_RULES - self.day0).days
        latest = _years_before(self.as_of_day, 18)
        earliest = _years_before(self.as_of_day, 61) + timedelta(days=1)
        self.dob_latest, self.dob_span = latest, (latest - earliest).days
        self.base = ctx.id_base

    def at(self, day: int, minute: int) -> datetime:
        """The local instant ``minute`` minutes after midnight of window day ``day`` (0 = first)."""
        m = day * 1440 + minute
        if 0 <= m < len(self.T):
            return self.T[m]
        if -_PAST_DAYS <= day < 40 and 0 <= minute < 1440:
            return self.midnights[day + _PAST_DAYS] + _MINUTES[minute]
        return self.start + timedelta(days=day, minutes=minute)

    def day_of(self, d: date) -> int:
        return (d - self.day0).days

    def generate(self, enterprises: list[EnterprisePlan]) -> Chunk:
        chunk = Chunk()
        first = enterprises[0].first_person
        state = _ChunkState(
            result_id=self.base.get("test_result", 0) + first * RESULT_CAP,
            pool_id=self.base.get("pool", 0) + first * POOL_CAP,
            dose_id=self.base.get("dose", 0) + first * DOSE_CAP,
            declaration_id=self.base.get("health_declaration", 0) + first * DECLARATION_CAP,
            travel_id=self.base.get("travel", 0) + first * TRAVEL_CAP,
            checkin_id=self.base.get("checkin", 0) + first * CHECKIN_CAP,
        )
        with gc_paused():  # millions of small acyclic tuples: the cycle collector would only slow us
            for e in enterprises:
                _Enterprise(self, e, chunk, state).run()
        # Results in the order the labs report them: the received-at and sample-ID indexes
        # then grow at the right, as they do in production.
        chunk.test_result.sort(key=itemgetter(9))
        rid = state.result_id
        chunk.test_result = [(rid + k, *row) for k, row in enumerate(chunk.test_result)]
        end = first + sum(e.people for e in enterprises)
        for table, next_id, cap in (
            ("test_result", rid + len(chunk.test_result), RESULT_CAP),
            ("pool", state.pool_id, POOL_CAP),
            ("dose", state.dose_id, DOSE_CAP),
            ("health_declaration", state.declaration_id, DECLARATION_CAP),
            ("travel", state.travel_id, TRAVEL_CAP),
            ("checkin", state.checkin_id, CHECKIN_CAP),
        ):
            if next_id > self.base.get(table, 0) + end * cap:
                raise RuntimeError(f"{table}: the chunk outgrew its key range")  # a generator bug
        return chunk


@dataclass(slots=True)
class _ChunkState:
    result_id: int
    pool_id: int
    dose_id: int
    declaration_id: int
    travel_id: int
    checkin_id: int


class _Enterprise:
    """One enterprise's people, doses and 30 days of records. Times in the window are integer
    minutes from the window's first midnight (``Generator.T`` turns them into instants)."""

    def __init__(self, gen: Generator, e: EnterprisePlan, chunk: Chunk, state: _ChunkState) -> None:
        self.g = gen
        self.e = e
        self.chunk = chunk
        self.state = state
        self.rng = random.Random(f"safework-seed/{gen.ctx.seed}/enterprise/{e.index}")
        self.r = self.rng.random
        n = e.people
        self.n = n
        self.pids: list[uuid.UUID] = []
        self.avail_from = [0] * n  # first day present for rounds (after hire / the buffer zone)
        self.gone_from = [_NEVER] * n  # the day they left
        self.dose1_day = [_NEVER] * n
        self.cadence: list[list[tuple[int, int]] | None] = [None] * n  # 3-day windows (days)
        self.isolated = [False] * n
        self.isolated_at = [_NEVER] * n  # window minute of the positive that isolated them
        self.ntests = [0] * n
        self.housed = [False] * n
        self.home: list[str] = []
        self.active: list[bool] = []
        self.events: list[list[tuple[int, int, int]]] = [[] for _ in range(30)]  # (minute, j, source)
        self.seq = 0
        self.lab_id, prefix = gen.ctx.labs[e.lab]
        # Sample IDs: lab, collection day, enterprise, running number ("VY-210915-00042-000123").
        self.sample_prefix = [f"{prefix}-{code}-{e.index:05d}-" for code in gen.day_code]
        communes = pv.COMMUNES[e.district]
        self.sites = (
            *(f"Trạm Y tế xã {c}" for c in communes[:3]),
            f"Trung tâm Y tế huyện {e.district}",
            *((f"Điểm tiêm chủng {e.zone_name}",) * 3 if e.zone_type == "KCN" else ()),
        )

    def run(self) -> None:
        self.people()
        self.declarations_and_travel()
        self.schedule()
        self.simulate()
        self.checkins()

    # -- people ------------------------------------------------------------------------

    def people(self) -> None:
        g, e, rng, r = self.g, self.e, self.rng, self.r
        zone = e.zone_type
        female_share = _FEMALE.get(e.industry if e.industry != "other" else f"other_{zone}", _FEMALE["other"])
        home_share = _HOME_SHARE[zone]
        tier_zone = 1 if zone == "KCN" else 2 if zone == "CCN" else 3
        expert_share = 0.07 + (0.03 if zone == "KCN" else 0.01)
        app_share = _APP_COVERAGE[zone]
        houses = e.houses
        n_houses = len(houses)
        rows = self.chunk.person
        install_base = g.base.get("app_installation", 0) + g.ctx.enterprises + 1
        seal = g.sealer.seal
        cccd, cmnd = g.cccd_serial, g.cmnd_serial
        codes = pv.PROVINCE_CODES
        dob_latest, dob_span = g.dob_latest, g.dob_span
        as_of_min = g.as_of_min
        eid = e.id
        for j in range(self.n):
            i = e.first_person + j
            pid = uuid7(REGISTRY_EPOCH_MS + i, rng)
            self.pids.append(pid)
            new_hire = r() < 0.03
            home = pv.PROVINCE if r() < (0.15 if new_hire else home_share) else _OTHER_PROVINCE(rng)
            female = r() < female_share
            u = r()
            dob = dob_latest - _DAYS[int(dob_span * u * u * (0.6 if new_hire else 1.0))]
            if i >= 1_000_000 or (home == pv.PROVINCE and dob.year < 1988 and r() < 0.3):
                # An old 9-digit ID (CMND), issued in Bắc Giang ("12"); unique by index.
                nid = f"12{i // 1_000_000}{cmnd(i % 1_000_000):06d}"
            else:
                # A 12-digit citizen ID: province, century/sex digit, year of birth, serial.
                century_sex = (0 if dob.year < 2000 else 2) + female
                nid = f"{codes[home]}{century_sex}{dob.year % 100:02d}{cccd(i):06d}"
            digest, sealed = seal(nid)
            name = f"{_SURNAME(rng)} {_MIDDLE[female](rng)} {_GIVEN[female](rng)}"
            phone = f"{_PHONE(rng)}{int(r() * 10_000_000):07d}" if r() < 0.97 else None
            x = r()
            role = (
                "worker"
                if x >= expert_share
                else "freight_driver"
                if x < 0.02
                else "freight_driver_assistant"
                if x < 0.025
                else "shuttle_driver"
                if x < 0.03
                else "manager"
                if x < 0.07
                else "expert"
            )
            arrived_at = None
            arrived_from = None
            if new_hire:
                # seeds/000 §2.2 (2): arriving from another province within the window.
                arrival = min((2 + int(r() * 28)) * 1440 + 360 + int(r() * 840), as_of_min - 30 - int(r() * 270))
                arrived_at = g.T[arrival]
                a = arrival // 1440
                arrived_from = home if home != pv.PROVINCE else _OTHER_PROVINCE(rng)
                hire = g.day0 + _DAYS[a]
                self.avail_from[j] = a + 7
                self.add_window(j, a + 7, a + 17)  # then ten high-risk days
                self.new_hire_tests(j, a, arrival)
            else:
                hire = g.as_of_day - _DAYS[min(20_000, 30 + int(rng.expovariate(1 / 800)))]
                adult = dob + _ADULT
                if hire < adult:
                    hire = min(adult, g.as_of_day)
                self.avail_from[j] = (hire - g.day0).days
            housed = n_houses > 0 and r() < (0.8 if new_hire else e.resident_share)
            self.housed[j] = housed
            house = houses[int(r() * n_houses)] if housed else None
            high_risk = r() < 0.008
            hr_reason = hr_until = None
            if high_risk:
                until = 23 + int(r() * 19)
                hr_until = g.at(until, 0)
                hr_reason = rng.choice(pv.HIGH_RISK_REASONS)
                self.add_window(j, until - 14, until)
            left_at = None
            if not new_hire and r() < 0.015:
                gone = 1 + int(r() * 29)
                left_at = g.T[min(gone * 1440 + 480 + int(r() * 540), as_of_min - 5)]
                self.gone_from[j] = gone
            self.active.append(left_at is None)
            self.home.append(home)
            rows.append(
                (
                    pid,
                    digest,
                    sealed,
                    nid[-4:],
                    name,
                    dob,
                    "female" if female else "male",
                    phone,
                    home,
                    role,
                    eid,
                    f"NV{j + 1:05d}",
                    hire,
                    arrived_from,
                    arrived_at,
                    house,
                    high_risk,
                    hr_reason,
                    hr_until,
                    "left" if left_at else "active",
                    left_at,
                    j & 1,  # balanced alternating halves (seeds/000 §2.2 (3))
                )
            )
            # seeds/003: freight drivers and their assistants share the first tier
            tier = 1 if role in ("freight_driver", "freight_driver_assistant") else tier_zone
            self.doses(j, pid, tier, hire if new_hire else None)
            if r() < app_share:
                self.installation(i, pid, install_base, hire, arrived_at)

    def add_window(self, j: int, start: int, end: int) -> None:
        windows = self.cadence[j]
        if windows is None:
            self.cadence[j] = [(start, end)]
        else:
            windows.append((start, end))

    def doses(self, j: int, pid: uuid.UUID, tier: int, arrived_on: date | None) -> None:
        """Dose 1 by tier and campaign (seeds/000 §2.1); dose 2 after the product's minimum
        interval (in local days, the registry's rule); nothing after ``as_of``."""
        g, rng, r = self.g, self.rng, self.r
        x = r()
        if arrived_on is not None:
            # A new hire: vaccinated (or not) at home before coming.
            if x >= 0.6:
                return
            start = _JULY_1
            day1 = start + _DAYS[int(r() * max(1, (arrived_on - start).days))]
        elif x < _TIER_COVERED[tier]:
            start = _TIER_START[tier]
            if tier == 1 and r() < 0.65:
                day1 = start + _DAYS[int(r() * (_JULY_31 - start).days)]
            else:
                lo = _AUGUST_1 if tier == 1 else start
                day1 = lo + _DAYS[int(r() * ((_DOSE1_DEADLINE - lo).days + 1))]
        elif x < _TIER_COVERED[tier] + _TIER_OCTOBER[tier]:
            day1 = _DOSE1_DEADLINE + _DAYS[1 + int(r() * 31)]
        else:
            return
        product = _product_on(day1, rng)
        d1 = (day1 - g.day0).days
        when = g.at(d1, 450 + int(r() * 540))
        if when > g.as_of:
            return
        self.dose1_day[j] = d1
        st = self.state
        sites = self.sites
        lots = pv.LOTS[product]
        self.chunk.dose.append(
            (st.dose_id, pid, 1, product, when, sites[int(r() * len(sites))], lots[int(r() * len(lots))])
        )
        st.dose_id += 1
        if r() >= 0.9:
            return
        gap = g.ctx.intervals[product] + int(r() * (29 if product == "AZ" else 15))
        product2 = "PF" if product == "AZ" and r() < 0.1 else product  # mixing was allowed in 2021
        when2 = g.at(d1 + gap, 450 + int(r() * 540))
        if when2 > g.as_of:
            return
        lots = pv.LOTS[product2]
        self.chunk.dose.append(
            (st.dose_id, pid, 2, product2, when2, sites[int(r() * len(sites))], lots[int(r() * len(lots))])
        )
        st.dose_id += 1

    def installation(self, i: int, pid: uuid.UUID, install_base: int, hire: date, arrived_at: datetime | None) -> None:
        """The sanctioned app on the worker's phone (seeds/000 §2.4); some not synced lately."""
        g, rng, r = self.g, self.rng, self.r
        as_of = g.as_of
        if arrived_at is not None:
            first = arrived_at + _HOURS[1 + int(r() * 30)]
        else:
            since = max(hire, _JUNE_1)
            first = g.at((since - g.day0).days + int(r() * max(1, (g.as_of_day - since).days)), 360 + int(r() * 960))
        first = min(first, as_of - _TEN_MINUTES)
        # One in ten has not synced within the policy's 72 h.
        last = max(first, as_of - (_HOURS[76 + int(r() * 400)] if r() < 0.1 else _HOURS[int(r() * 60)]))
        android = r() < 0.82
        key = mix64(i + g.device_key)
        # Android ID (64 bits in hex) or iOS identifierForVendor (a UUID).
        device = f"{key:016x}" if android else str(uuid.UUID(int=(key << 64) | rng.getrandbits(64))).upper()
        revoked = min(last + _HOURS[int(r() * 24)], as_of) if r() < 0.003 else None
        self.chunk.app_installation.append(
            (
                install_base + i,
                device,
                pid,
                None,
                pv.SANCTIONED_APP_ID,
                _APP_VERSION(rng),
                "android" if android else "ios",
                first,
                last,
                revoked,
            )
        )

    # -- declarations, travel ----------------------------------------------------------

    def declarations_and_travel(self) -> None:
        g, rng, r, st = self.g, self.rng, self.r, self.state
        rows = self.chunk.health_declaration
        travel = self.chunk.travel
        as_of_min = g.as_of_min
        T = g.T
        for j in range(self.n):
            x = r()
            if 0.2546 <= x < 0.985:
                continue
            lo = max(0, self.avail_from[j])
            hi = min(29, self.gone_from[j] - 1)
            if lo > hi:
                continue
            pid = self.pids[j]
            day = lo + int(r() * (hi - lo + 1))
            at = min(day * 1440 + 360 + int(r() * 900), as_of_min - 1)
            if x < 0.25:  # a routine declaration, no symptoms
                rows.append((st.declaration_id, pid, T[at], [], False, None))
                st.declaration_id += 1
            elif x < 0.254:  # symptoms: a rapid test and a PCR at once (seeds/000 §2.2)
                symptoms = sorted(rng.sample(SYMPTOMS[:5], 1 + int(r() * 3)))
                rows.append((st.declaration_id, pid, T[at], symptoms, False, rng.choice(pv.SYMPTOM_NOTES)))
                st.declaration_id += 1
                self.event(at + 30 + int(r() * 150), j, _SYMPTOM)
            elif x < 0.2546:  # contact with a confirmed case (F1): tested, then high-risk
                rows.append((st.declaration_id, pid, T[at], [], True, rng.choice(pv.CONTACT_NOTES)))
                st.declaration_id += 1
                self.event(at + 60 + int(r() * 180), j, _PCR)
                self.add_window(j, day + 3, day + 14)
            elif hi - lo >= 2:  # a trip to another province and back (seeds/000 §2.3)
                left = (lo + int(r() * (hi - lo - 1))) * 1440 + 840 + int(r() * 360)
                back = left + (2 + int(r() * 5)) * 1440 + int(r() * 600) - 240
                home = self.home[j]
                dest = home if home != pv.PROVINCE else _OTHER_PROVINCE(rng)
                returned = T[back] if back <= as_of_min else None
                to_house = self.housed[j] and returned is not None
                travel.append((st.travel_id, pid, T[left], dest, returned, to_house))
                st.travel_id += 1
                if to_house:  # a test within 24 h, another 72 h later
                    self.event(back + 180 + int(r() * 1020), j, _EITHER)
                    self.event(back + 72 * 60 + int(r() * 480), j, _EITHER)

    def event(self, minute: int, j: int, source: int) -> None:
        """A test due at window minute ``minute`` (dropped outside the window)."""
        if 0 <= minute < _WINDOW_MINUTES:
            self.events[minute // 1440].append((minute, j, source))

    def new_hire_tests(self, j: int, a: int, arrival: int) -> None:
        """seeds/000 §2.2 (2): a negative PCR within 48 h before arrival (some come without and
        are tested on arrival), then two tests in the buffer zone, the last on day 7."""
        r = self.r
        if r() < 0.88:
            self.event(arrival - 360 - int(r() * 2280), j, _PCR)
        else:
            self.event(arrival + 30 + int(r() * 210), j, _PCR)
        self.event(arrival + 60 + int(r() * 240), j, _EITHER)
        self.event((a + 6) * 1440 + 420 + int(r() * 240), j, _EITHER)

    # -- testing ---------------------------------------------------------------------------

    def schedule(self) -> None:
        """Cadence tests (every 3 days) for the high-risk, contacts, new hires after the buffer
        and, from 11 September, the unvaccinated (seeds/000 §2.2 (1))."""
        r = self.r
        sept = max(0, self.g.sept_day)
        events = self.events
        for j in range(self.n):
            if self.dose1_day[j] > sept and sept <= 29:
                self.add_window(j, max(sept, self.avail_from[j]), self.dose1_day[j])
            windows = self.cadence[j]
            if windows is None:
                continue
            stop = min(30, self.gone_from[j])
            days: set[int] = set()
            for start, end in windows:
                d = max(start, 0) + int(r() * 3)
                while d < end and d < stop:
                    days.add(d)
                    d += 3
            for d in sorted(days):
                if r() < 0.93:
                    events[d].append((d * 1440 + 420 + int(r() * 540), j, _CADENCE))

    def in_cadence(self, j: int, day: int) -> bool:
        windows = self.cadence[j]
        return windows is not None and any(start <= day < end for start, end in windows)

    def simulate(self) -> None:
        g, e = self.g, self.e
        first_round = (pv.ROUND_ANCHOR + timedelta(days=e.round_offset) - g.day0).days % 7
        round_days = set(range(first_round, 30, 7))
        roster = [j for j in range(self.n) if self.active[j]]
        outside = e.zone_type != "KCN"
        positions: dict[int, int] = {}
        size = 0
        if outside:
            # The scheduler's stable sample order, so its 20% samples are the ones tested.
            ordered = sorted(roster, key=lambda j: sample_order_key(e.id, self.pids[j]))
            positions = {j: k for k, j in enumerate(ordered)}
            size = min(len(roster), math.ceil(round(0.2 * len(roster), 9)))
        isolated, gone_from = self.isolated, self.gone_from
        for day in range(30):
            if day in round_days:
                self.run_round(day, roster, outside, positions, size)
            events = self.events[day]
            events.sort()
            k = 0
            while k < len(events):  # same-day follow-ups are appended while we go
                minute, j, source = events[k]
                k += 1
                if not isolated[j] and day < gone_from[j]:
                    self.individual(minute, j, source)

    def run_round(self, day: int, roster: list[int], outside: bool, positions: dict[int, int], size: int) -> None:
        """One weekly round (seeds/000 §2.2 (3)); pools of 10 or 20 where the enterprise pools."""
        g, e, r = self.g, self.e, self.r
        k = (g.day0 + timedelta(days=day) - pv.ROUND_ANCHOR - timedelta(days=e.round_offset)).days // 7
        september = day >= g.sept_day
        n = len(roster)
        sampled = outside and (n < 20 or (september and e.industry in ("garment", "shuttlecock")))
        cohort = k & 1
        avail_from, gone_from, isolated, ntests, cadence = (
            self.avail_from,
            self.gone_from,
            self.isolated,
            self.ntests,
            self.cadence,
        )
        people: list[int] = []
        for j in range(self.n):
            if avail_from[j] > day or day >= gone_from[j] or isolated[j]:
                continue
            if sampled:
                pos = positions.get(j)
                if pos is None or not (pos - k * size) % n < size:
                    continue
            elif september and (j & 1) != cohort:
                continue
            if cadence[j] is not None and self.in_cadence(j, day):
                continue
            if r() < 0.94 and ntests[j] < RESULT_CAP - 4:
                people.append(j)
        if not people:
            return
        base = day * 1440
        if e.pool_size and len(people) >= 5:
            self.rng.shuffle(people)
            start = base + 420 + int(r() * 60)
            step = e.pool_size
            for p, at in enumerate(range(0, len(people), step)):
                group = people[at : at + step]
                if len(group) >= 3:
                    self.pool(start + 2 * p, group)
                else:  # one or two left over: tested singly
                    for j in group:
                        self.test(start + 2 * p, j, "PCR")
            return
        for j in people:
            kind = "RAPID_ANTIGEN" if r() < e.rapid_share else "PCR"
            self.test(base + 420 + int(r() * 240), j, kind)

    def sample_id(self, minute: int) -> str:
        self.seq += 1
        return f"{self.sample_prefix[minute // 1440]}{self.seq:06d}"

    def pool(self, collected: int, members: list[int]) -> None:
        """seeds/001: a negative pool gives each member a pooled negative PCR; a positive (or
        invalid) one gives none and each member an individual PCR the next morning."""
        g, r, st = self.g, self.r, self.state
        resulted = collected + 360 + int(r() * 1440)
        if resulted > g.as_of_min:
            return  # still at the lab
        received = min(resulted + 2 + int(r() * 88), g.as_of_min)
        x = r()
        result = "POSITIVE" if x < 0.00015 * len(members) else "INVALID" if x > 0.999 else "NEGATIVE"
        pool_id = st.pool_id
        st.pool_id += 1
        sid = self.sample_id(collected)
        T = g.T
        c_at, r_at, rec_at = T[collected], T[resulted], T[received]
        lab = self.lab_id
        chunk = self.chunk
        chunk.pool.append((pool_id, lab, sid, len(members), c_at, r_at, result, rec_at))
        pids, ntests = self.pids, self.ntests
        members_rows = chunk.pool_member
        if result == "NEGATIVE":
            results = chunk.test_result
            for pos, j in enumerate(members, start=1):
                pid = pids[j]
                members_rows.append((pool_id, pid, pos))
                results.append((pid, lab, f"{sid}#{pos}", "PCR", c_at, r_at, "NEGATIVE", True, pool_id, rec_at))
                ntests[j] += 1
            return
        next_morning = (collected // 1440 + 1) * 1440 + 420
        for pos, j in enumerate(members, start=1):
            members_rows.append((pool_id, pids[j], pos))
            self.event(next_morning + int(r() * 180), j, _PCR)

    def individual(self, minute: int, j: int, source: int) -> None:
        if source == _SYMPTOM:
            self.test(minute, j, "RAPID_ANTIGEN", positive=0.01)
            self.test(minute, j, "PCR", positive=0.02)
        elif source == _PCR:
            self.test(minute, j, "PCR", positive=0.004)
        elif source == _RETEST_RAPID:
            self.test(minute, j, "RAPID_ANTIGEN")
        else:
            self.test(minute, j, "RAPID_ANTIGEN" if self.r() < 0.75 else "PCR")

    def test(self, collected: int, j: int, kind: str, positive: float = 0.0) -> None:
        """One individual result (rapid: 15-30 min; PCR: 5-26 h), unless not back by ``as_of``."""
        if self.ntests[j] >= RESULT_CAP:
            return
        g, r = self.g, self.r
        rapid = kind == "RAPID_ANTIGEN"
        resulted = collected + (15 + int(r() * 15) if rapid else 300 + int(r() * 1260))
        if resulted > g.as_of_min:
            return
        x = r()
        result = (
            "POSITIVE"
            if x < (0.0015 if rapid else 0.0006) + positive
            else "INVALID"
            if x > (0.998 if rapid else 0.999)
            else "NEGATIVE"
        )
        received = min(resulted + 2 + int(r() * 88), g.as_of_min)
        T = g.T
        self.chunk.test_result.append(
            (
                self.pids[j],
                self.lab_id,
                self.sample_id(collected),
                kind,
                T[collected],
                T[resulted],
                result,
                False,
                None,
                T[received],
            )
        )
        self.ntests[j] += 1
        if result == "INVALID":
            self.event((collected // 1440 + 1) * 1440 + 420 + int(r() * 180), j, _RETEST_RAPID if rapid else _PCR)
        elif result == "POSITIVE":
            if rapid:  # confirmed by PCR at once
                self.event(collected + 60, j, _PCR)
            else:
                self.isolated[j] = True  # a confirmed case leaves the screening
                self.isolated_at[j] = min(self.isolated_at[j], resulted)

    # -- check-ins ---------------------------------------------------------------------------

    def checkins(self) -> None:
        """QR check-ins (seeds/004 §II.5) of every worker on every working day of the last
        ``checkin_days`` days of the window, at the density the module's ``CHECKIN_*`` policy
        describes (none of it is in the seeds). Drawn from the enterprise's own check-in
        stream, so the number of days changes no other table."""
        g, st = self.g, self.state
        days = g.ctx.checkin_days
        by_kind: dict[str, list[uuid.UUID]] = {}
        for vid, kind in self.e.venues:
            by_kind.setdefault(kind, []).append(vid)
        gates = by_kind.get("gate")
        units = by_kind.get("production_unit")
        if days <= 0 or not gates or not units:
            return
        canteens = by_kind.get("canteen")
        buses = by_kind.get("shuttle_bus")
        rng = random.Random(f"safework-seed/{g.ctx.seed}/checkins/{self.e.index}")
        r, bits = rng.random, rng.getrandbits
        shift = CHECKIN_SHIFTS_LARGE if self.e.people >= CHECKIN_SHIFT_HEADCOUNT else CHECKIN_SHIFTS_SMALL
        working = [d for d in range(max(0, 30 - days), 30) if g.weekdays[d] not in CHECKIN_DAYS_OFF]
        append = self.chunk.checkin.append
        T = g.T
        cid = st.checkin_id
        n_gates, n_units = len(gates), len(units)
        n_canteens = len(canteens) if canteens else 0
        present = round(CHECKIN_ATTENDANCE * 256)
        for j in range(self.n):
            first, stop = max(0, self.avail_from[j]), min(30, self.gone_from[j])
            end = min(g.as_of_min, self.isolated_at[j])
            pid = self.pids[j]
            # A worker keeps one shift, production unit, gate, canteen and bus route.
            start = shift(rng)
            k = int(r() * n_units)
            unit = units[k]
            gate = gates[int(r() * n_gates)]
            canteen = canteens[k % n_canteens] if canteens else None
            meal = start + CHECKIN_MEAL_AFTER + (k % CHECKIN_MEAL_SITTINGS) * CHECKIN_MEAL_STAGGER
            bus = buses[int(r() * len(buses))] if buses and r() < CHECKIN_BUS_SHARE else None
            for d in working:
                if d < first or d >= stop:
                    continue
                # One draw a day: attendance (top 8 bits), then 5 bits per check-in's minute.
                x = bits(32)
                if x >> 24 >= present:
                    continue
                base = d * 1440 + start
                if bus is not None:
                    m = base - 72 + (x & 31)
                    if m <= end:
                        append((cid, pid, bus, T[m]))
                        cid += 1
                m = base - 32 + ((x >> 5) & 31)
                if m <= end:
                    append((cid, pid, gate, T[m]))
                    cid += 1
                m = base + ((x >> 10) & 15)
                if m <= end:
                    append((cid, pid, unit, T[m]))
                    cid += 1
                if canteen is not None:
                    m = d * 1440 + meal + ((x >> 14) & 31)
                    if m <= end:
                        append((cid, pid, canteen, T[m]))
                        cid += 1
        st.checkin_id = cid


def _years_before(day: date, years: int) -> date:
    try:
        return day.replace(year=day.year - years)
    except ValueError:  # 29 February
        return day.replace(year=day.year - years, day=28)


def _product_on(day: date, rng: random.Random) -> str:
    picker = _PRODUCT_ERAS[0][1]
    for start, era in _PRODUCT_ERAS:
        if day >= start:
            picker = era
    return picker(rng)
