"""The province's shape, drawn once from the seed: enterprises and their sizes, boarding houses,
QR venues, labs and vaccine products. Small (one row per enterprise at most); the people-scale
tables are generated from it, chunk by chunk, in ``people.py``."""

from __future__ import annotations

import math
import random
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from safework_cli.seed import province as pv
from safework_cli.seed.ids import REGISTRY_EPOCH_MS, mix64, tax_codes, uuid7
from safework_cli.seed.picker import Picker
from safework_scheduler.due.rules import round_offset_days

Row = tuple[Any, ...]

# Share of enterprises and of workers by zone (*assumed*): parks hold most workers in fewer,
# larger firms (seeds/003: the province's target of 120,000+ workers back, mostly in parks);
# outside, many small firms (seeds/001: 230 enterprises with 6,300 workers, ~27 each).
ZONE_ENTERPRISE_SHARE = {"KCN": 0.22, "CCN": 0.10, "OUTSIDE": 0.68}
ZONE_WORKER_SHARE = {"KCN": 0.70, "CCN": 0.10, "OUTSIDE": 0.20}
# Share of enterprises under 20 workers (seeds/000 §2.2 has a rule for them), by zone.
SMALL_SHARE = {"KCN": 0.0, "CCN": 0.15, "OUTSIDE": 0.45}
# Industry mix by zone (*assumed*; seeds/000 §2.2 singles out garment and shuttlecock makers
# outside the parks; the parks are mostly electronics, which the schema calls "other").
INDUSTRY = {
    "KCN": Picker([("garment", 0.22), ("shuttlecock", 0.01), ("other", 0.77)]),
    "CCN": Picker([("garment", 0.35), ("shuttlecock", 0.08), ("other", 0.57)]),
    "OUTSIDE": Picker([("garment", 0.30), ("shuttlecock", 0.15), ("other", 0.55)]),
}
# Share of workers renting in boarding houses (*assumed*; seeds/003 on housing workers near the
# parks), and of enterprises with an account on the app (seeds/000 §2.4 enforces parks first).
RESIDENT_SHARE = {"KCN": 0.40, "CCN": 0.25, "OUTSIDE": 0.10}
ENTERPRISE_ACCOUNT_SHARE = {"KCN": 0.92, "CCN": 0.78, "OUTSIDE": 0.58}
# Pool size used for routine rounds (0: individual tests), seeds/001: pools of 10 and 20.
POOL_SIZE = {
    "KCN": Picker([(20, 0.65), (10, 0.25), (0, 0.10)]),
    "CCN": Picker([(10, 0.50), (20, 0.20), (0, 0.30)]),
    "OUTSIDE": Picker([(10, 0.30), (0, 0.70)]),
}
RAPID_SHARE = {"KCN": 0.35, "CCN": 0.5, "OUTSIDE": 0.7}  # of individual routine tests


@dataclass(frozen=True, slots=True)
class EnterprisePlan:
    """One enterprise and what its people need: where they live, which lab tests them."""

    index: int
    id: uuid.UUID
    tax_code: str
    district: str
    zone_type: str
    zone_name: str | None
    industry: str
    people: int
    first_person: int  # the global index of its first person
    lab: int  # index into the lab list
    pool_size: int
    rapid_share: float
    round_offset: int  # days after the scheduler's anchor its weekly round falls on
    houses: tuple[uuid.UUID, ...]
    resident_share: float
    venues: tuple[tuple[uuid.UUID, str], ...]  # (id, kind)


@dataclass(frozen=True, slots=True)
class ProvincePlan:
    enterprises: tuple[EnterprisePlan, ...]
    labs: tuple[tuple[uuid.UUID, str], ...]  # (id, sample-ID prefix)
    rows: dict[str, list[Row]]  # enterprise-level rows, by table


def allocate(budget: int, weights: list[float], minimum: int) -> list[int]:
    """Split ``budget`` into integers proportional to ``weights`` (largest remainder), each at
    least ``minimum`` when the budget allows it and at least 1 always."""
    n = len(weights)
    if n == 0:
        return []
    if budget < n:
        raise ValueError(f"cannot give {n} parts at least one each out of {budget}")
    floor_each = minimum if budget >= minimum * n else max(1, budget // n)
    rest = budget - floor_each * n
    total = sum(weights)
    shares = [w / total * rest for w in weights]
    sizes = [floor_each + int(s) for s in shares]
    short = budget - sum(sizes)
    by_remainder = sorted(range(n), key=lambda i: shares[i] - int(shares[i]), reverse=True)
    for i in by_remainder[:short]:
        sizes[i] += 1
    return sizes


def zone_sizes(rng: random.Random, zone: str, count: int, budget: int) -> list[int]:
    """Headcounts of one zone's enterprises: a share of small ones (3-19 workers), the rest
    log-normal with at least 20 (*assumed* shape: a few very large park employers)."""
    small = round(count * SMALL_SHARE[zone]) if count > 1 else 0
    raw_small = [rng.randint(3, 19) for _ in range(small)]
    # The small ones take at most half the budget, and leave at least one person per other firm.
    small_budget = max(small, min(sum(raw_small), budget // 2, budget - (count - small)))
    if count - small == 0:
        small_budget = budget
    sizes_small = allocate(small_budget, [float(s) for s in raw_small], 1) if small else []
    sigma = {"KCN": 1.1, "CCN": 0.8, "OUTSIDE": 0.9}[zone]
    weights = [rng.lognormvariate(0.0, sigma) for _ in range(count - small)]
    sizes_big = allocate(budget - sum(sizes_small), weights, 20)
    sizes = sizes_small + sizes_big
    rng.shuffle(sizes)
    return sizes


def zone_counts(enterprises: int, people: int) -> dict[str, tuple[int, int]]:
    """(enterprises, people) per zone; every zone has at least one enterprise when there are
    three or more, and every enterprise at least one person."""
    zones = list(ZONE_ENTERPRISE_SHARE)
    counts = {z: round(enterprises * ZONE_ENTERPRISE_SHARE[z]) for z in zones}
    if enterprises >= 3:
        for z in zones:
            counts[z] = max(1, counts[z])
    counts["OUTSIDE"] = enterprises - counts["KCN"] - counts["CCN"]
    while counts["OUTSIDE"] < (1 if enterprises >= 3 else 0):
        big = max(("KCN", "CCN"), key=lambda z: counts[z])
        counts[big] -= 1
        counts["OUTSIDE"] += 1
    live = [z for z in zones if counts[z] > 0]
    share = sum(ZONE_WORKER_SHARE[z] for z in live)
    budgets = {z: max(counts[z], round(people * ZONE_WORKER_SHARE[z] / share)) if z in live else 0 for z in zones}
    diff = people - sum(budgets.values())
    for z in sorted(live, key=lambda z: -budgets[z]):
        step = diff if diff >= 0 else max(diff, counts[z] - budgets[z])
        budgets[z] += step
        diff -= step
    return {z: (counts[z], budgets[z]) for z in zones}


def _company_name(rng: random.Random, industry: str, zone: str) -> str:
    form = rng.choice(pv.COMPANY_FORMS)
    trade = rng.choice(pv.TRADE_WORDS[industry])
    brand = rng.choice(pv.BRAND_WORDS)
    tail = rng.choice(("", "", " Việt Nam", " Bắc Giang")) if zone != "OUTSIDE" else rng.choice(("", "", " Bắc Giang"))
    return f"{form} {trade} {brand}{tail}"


def _person_name(rng: random.Random) -> str:
    surname = _SURNAME(rng)
    if rng.random() < 0.5:
        return f"{surname} {rng.choice(pv.MIDDLE_FEMALE)} {rng.choice(pv.GIVEN_FEMALE)}"
    return f"{surname} {rng.choice(pv.MIDDLE_MALE)} {rng.choice(pv.GIVEN_MALE)}"


_SURNAME = Picker(pv.SURNAMES)
_DISTRICT = Picker(pv.DISTRICTS)
_PARK = Picker([((name, district), w) for name, district, w in pv.PARKS])
_CLUSTER = Picker([((name, district), w) for name, district, w in pv.CLUSTERS])
_LAB_OF_DISTRICT = {district: i for i, (_, _, _, district) in enumerate(pv.LABS) if district}


def _address(rng: random.Random, district: str) -> str:
    commune = rng.choice(pv.COMMUNES[district])
    return f"Thôn {rng.choice(pv.VILLAGE_WORDS)} {rng.randint(1, 9)}, xã {commune}, huyện {district}"


def build_plan(*, people: int, enterprises: int, seed: int, as_of: datetime, install_base: int = 0) -> ProvincePlan:
    """Every enterprise-level row, and each enterprise's share of the people."""
    if enterprises < 1 or people < enterprises:
        raise ValueError("need at least one enterprise and at least one person per enterprise")
    rng = random.Random(f"safework-seed/{seed}/province")
    counts = zone_counts(enterprises, people)
    zones: list[tuple[str, int]] = []
    for zone, (count, budget) in counts.items():
        zones.extend((zone, size) for size in zone_sizes(rng, zone, count, budget))
    rng.shuffle(zones)

    branches = [i for i, (zone, _) in enumerate(zones) if zone != "OUTSIDE" and rng.random() < 0.12]
    local_codes = tax_codes(rng, enterprises - len(branches), "24")
    parent_codes = tax_codes(rng, len(branches), "01")
    branch_set = set(branches)

    as_of_day = as_of.astimezone(pv.LOCAL_TZ).date()
    window_start = as_of_day - timedelta(days=29)
    lab_rows = [
        (uuid7(REGISTRY_EPOCH_MS - 1_000_000 + k, rng), name, licence, True)
        for k, (licence, name, _, _) in enumerate(pv.LABS)
    ]
    labs = tuple((row[0], prefix) for row, (_, _, prefix, _) in zip(lab_rows, pv.LABS, strict=True))
    rows: dict[str, list[Row]] = {
        "vaccine_product": [
            (code, name, interval, series, True) for code, name, interval, series in pv.VACCINE_PRODUCTS
        ],
        "lab": lab_rows,
        "enterprise": [],
        "accommodation": [],
        "venue": [],
        "app_installation": [],
    }
    device_key = rng.getrandbits(64)
    plans: list[EnterprisePlan] = []
    first = 0
    object_ms = REGISTRY_EPOCH_MS - 900_000
    local_iter = iter(local_codes)
    parent_iter = iter(parent_codes)
    for index, (zone, size) in enumerate(zones):
        eid = uuid7(REGISTRY_EPOCH_MS - enterprises + index, rng)
        industry = INDUSTRY[zone](rng)
        if zone == "KCN":
            zone_name, district = _PARK(rng)
        elif zone == "CCN":
            zone_name, district = _CLUSTER(rng)
        else:
            zone_name, district = None, _DISTRICT(rng)
        tax_code = f"{next(parent_iter)}-001" if index in branch_set else next(local_iter)
        suspended = rng.random() < 0.015
        changed = datetime.combine(window_start + timedelta(days=rng.randrange(30)), datetime.min.time(), pv.LOCAL_TZ)
        rows["enterprise"].append(
            (
                eid,
                tax_code,
                _company_name(rng, industry, zone),
                district,
                zone,
                zone_name,
                industry,
                size,
                "suspended" if suspended else "cleared",
                "Chưa đảm bảo điều kiện an toàn phòng, chống dịch" if suspended else None,
                changed + timedelta(hours=rng.randint(8, 17)) if suspended and changed < as_of else None,
            )
        )
        # Boarding houses: one enterprise per site (seeds/003); a big employer also has a dormitory.
        houses: list[uuid.UUID] = []
        resident_share = RESIDENT_SHARE[zone] if size >= 10 else 0.0
        residents = round(size * resident_share)
        if residents:
            if size >= 1000:
                object_ms += 1
                hid = uuid7(object_ms, rng)
                houses.append(hid)
                rows["accommodation"].append(
                    (hid, f"Ký túc xá công nhân {tax_code}", _address(rng, district), None, district, "dormitory", eid)
                )
            for _ in range(max(1, math.ceil(residents / rng.randint(15, 60)))):
                object_ms += 1
                hid = uuid7(object_ms, rng)
                houses.append(hid)
                owner = _person_name(rng)
                label = rng.choice(("Nhà trọ", "Khu nhà trọ", "Nhà trọ bà" if " Thị " in owner else "Nhà trọ ông"))
                rows["accommodation"].append(
                    (hid, f"{label} {owner}", _address(rng, district), owner, district, "boarding_house", eid)
                )
        # QR venues (seeds/004: QR-code check-in at the premises). How many of each kind is
        # *assumed* (not in the source): a second gate above 500 workers, a production unit per
        # 400 (at most 6), a canteen from 50 workers and one more per 1,500 (at most 4; a
        # unit's workers eat at one), buses for park enterprises from 300 (one per 1,000, at
        # most 4).
        kinds = ["gate"] * (2 if size > 500 else 1)
        kinds += ["production_unit"] * min(6, 1 + size // 400)
        kinds += ["canteen"] * (min(4, 1 + size // 1500) if size >= 50 else 0)
        kinds += ["shuttle_bus"] * (min(4, 1 + size // 1000) if zone == "KCN" and size >= 300 else 0)
        venues: list[tuple[uuid.UUID, str]] = []
        names = {"gate": "Cổng", "production_unit": "Xưởng sản xuất", "canteen": "Nhà ăn", "shuttle_bus": "Xe đưa đón"}
        seen: dict[str, int] = {}
        for n, kind in enumerate(kinds, start=1):
            seen[kind] = seen.get(kind, 0) + 1
            object_ms += 1
            vid = uuid7(object_ms, rng)
            venues.append((vid, kind))
            rows["venue"].append((vid, eid, f"{names[kind]} số {seen[kind]}", kind, f"SW-{tax_code}-{n:02d}", True))
        # The enterprise's own account on the app (seeds/000 §2.4); some have not synced lately.
        if rng.random() < ENTERPRISE_ACCOUNT_SHARE[zone]:
            stale = rng.random() < 0.15
            last = as_of - (timedelta(days=rng.uniform(4, 20)) if stale else timedelta(hours=rng.uniform(0, 40)))
            rows["app_installation"].append(
                (
                    install_base + index + 1,
                    f"ent-{mix64(index + device_key):016x}",
                    None,
                    eid,
                    pv.SANCTIONED_APP_ID,
                    rng.choice(("4.1.2", "4.2.0")),
                    rng.choice(("web", "web", "android")),
                    min(last, datetime(2021, 6, 1, 9, tzinfo=pv.LOCAL_TZ) + timedelta(days=rng.randrange(60))),
                    last,
                    None,
                )
            )
        if zone == "KCN":
            lab = rng.choice((0, 1, _LAB_OF_DISTRICT.get(district, 0)))
        else:
            lab = _LAB_OF_DISTRICT.get(district, 0)
        plans.append(
            EnterprisePlan(
                index=index,
                id=eid,
                tax_code=tax_code,
                district=district,
                zone_type=zone,
                zone_name=zone_name,
                industry=industry,
                people=size,
                first_person=first,
                lab=lab,
                pool_size=POOL_SIZE[zone](rng),
                rapid_share=RAPID_SHARE[zone],
                round_offset=round_offset_days(eid, 7),
                houses=tuple(houses),
                resident_share=resident_share,
                venues=tuple(venues),
            )
        )
        first += size
    return ProvincePlan(enterprises=tuple(plans), labs=labs, rows=rows)
