"""POST /v1/vaccines/plan against real PostgreSQL: the deadlines of seeds/000 §2.1 (dose 1
within September 2021, dose 2 by the end of October), capacities, scope and input errors."""

from __future__ import annotations

import uuid
from datetime import date
from typing import Any

import httpx
import pytest

from safework_common.internal_auth import Caller, InternalTokenMinter
from tests.callers import PROVINCE, As, district_authority, enterprise, lab, worker
from tests.scheduler.vaccine_factories import VIET_YEN, YEN_DUNG, VaccineData, at_local, vaccine_data

AS_OF = "2021-09-11T08:00:00+07:00"  # the day seeds/000 takes effect


async def post(
    client: httpx.AsyncClient, minter: InternalTokenMinter, body: dict[str, Any], caller: Caller = PROVINCE
) -> httpx.Response:
    return await As(client, minter)(caller).post("/v1/vaccines/plan", json={"as_of": AS_OF, **body})


def group(body: dict[str, Any], tier: int, dose: int) -> tuple[int, str | None, str | None, bool | None]:
    for g in body["groups"]:
        if (g["tier"], g["dose"]) == (tier, dose):
            return g["people"], g["projected_completion"], g["deadline"], g["met"]
    raise AssertionError((tier, dose))


def error(r: httpx.Response, status: int, code: str, field: str | None = None) -> None:
    assert r.status_code == status, r.text
    body = r.json()["error"]
    assert body["code"] == code, body
    if field is not None:
        assert field in [d["field"] for d in body["details"]], body


async def workers(v: VaccineData, enterprise_id: uuid.UUID, n: int, **kw: Any) -> list[uuid.UUID]:
    return [await v.person(enterprise_id, **kw) for _ in range(n)]


async def park_of_sixty(url: str) -> tuple[uuid.UUID, uuid.UUID]:
    """60 park workers in Việt Yên and 30 outside workers in Yên Dũng, none vaccinated, hired in
    2019; Moderna (28 days) is the only product in use."""
    async with vaccine_data(url) as v:
        await v.product("MODERNA", 28)
        await v.product("AZ", 56, active=False)
        kcn = await v.enterprise(district=VIET_YEN, zone_type="KCN")
        out = await v.enterprise(district=YEN_DUNG, zone_type="OUTSIDE")
        await workers(v, kcn, 60, hire_date=date(2019, 1, 1))
        await workers(v, out, 30, hire_date=date(2019, 1, 1))
    return kcn, out


async def test_minimal_capacity_meets_both_deadlines(
    db: str, scheduler: httpx.AsyncClient, minter: InternalTokenMinter
) -> None:
    """From 11 Sep 2021 there are 20 days to 30 Sep: 90 dose 1s need 5 a day (tier 1's 60 first,
    done 22 Sep; tier 3's 30 done 30 Sep). Moderna's dose 2s open 28 days later, from 9 Oct, and
    end 28 Oct, before 31 Oct. 4 a day gives only 80 dose 1s by 30 Sep."""
    await park_of_sixty(db)
    r = await post(scheduler, minter, {"daily_capacity": 5})
    assert r.status_code == 200, r.text
    body = r.json()
    assert (body["start"], body["end"], body["product_code"], body["policy_version"]) == (
        "2021-09-11",
        "2021-11-30",
        "MODERNA",
        "2021-09-11",
    )
    assert group(body, 1, 1) == (60, "2021-09-22", "2021-09-30", True)
    assert group(body, 3, 1) == (30, "2021-09-28", "2021-09-30", True)
    assert group(body, 1, 2) == (60, "2021-10-20", "2021-10-31", True)
    assert group(body, 3, 2) == (30, "2021-10-26", "2021-10-31", True)
    assert group(body, 2, 1) == (0, None, "2021-09-30", True)
    assert body["totals"] == [
        {
            "dose": 1,
            "people": 90,
            "projected_completion": "2021-09-28",
            "deadline": "2021-09-30",
            "held_to_deadline": 90,
            "held_completion": "2021-09-28",
            "met": True,
        },
        {
            "dose": 2,
            "people": 90,
            "projected_completion": "2021-10-26",
            "deadline": "2021-10-31",
            "held_to_deadline": 90,
            "held_completion": "2021-10-26",
            "met": True,
        },
    ]
    assert (body["doses_needed"], body["doses_given"], body["all_deadlines_met"]) == (180, 180, True)
    assert body["minimal_capacity"] == {"total": 5, "scale_percent": None, "by_district": None, "reason": None}
    assert body["capacity"] == {"total": 5, "by_district": None}

    short = (await post(scheduler, minter, {"daily_capacity": 4})).json()
    assert group(short, 1, 1)[3] is True
    assert group(short, 3, 1)[3] is False
    assert short["all_deadlines_met"] is False
    assert short["minimal_capacity"]["total"] == 5


async def test_per_district_capacity_and_its_scaling(
    db: str, scheduler: httpx.AsyncClient, minter: InternalTokenMinter
) -> None:
    """Việt Yên's 60 need 3 a day, Yên Dũng's 30 need 2 (rounded up from 1.5). From 20 and 10 a
    day, the smallest uniform scaling is 11%: ceil(2.2) = 3 and ceil(1.1) = 2."""
    await park_of_sixty(db)
    body = (await post(scheduler, minter, {"daily_capacity": {VIET_YEN: 20, YEN_DUNG: 10}})).json()
    assert group(body, 1, 1) == (60, "2021-09-13", "2021-09-30", True)
    assert group(body, 3, 1) == (30, "2021-09-13", "2021-09-30", True)
    assert body["capacity"] == {"total": None, "by_district": {VIET_YEN: 20, YEN_DUNG: 10}}
    assert body["minimal_capacity"] == {
        "total": None,
        "scale_percent": 11,
        "by_district": {VIET_YEN: 3, YEN_DUNG: 2},
        "reason": None,
    }
    uncovered = (await post(scheduler, minter, {"daily_capacity": {VIET_YEN: 100}})).json()
    assert uncovered["districts_without_capacity"] == [YEN_DUNG]
    assert group(uncovered, 3, 1) == (30, None, "2021-09-30", False)
    assert uncovered["minimal_capacity"]["reason"] == "district_without_capacity"


def held(body: dict[str, Any], tier: int, dose: int) -> tuple[int, str | None]:
    for g in body["groups"]:
        if (g["tier"], g["dose"]) == (tier, dose):
            return g["held_to_deadline"], g["held_completion"]
    raise AssertionError((tier, dose))


async def test_doses_already_given_and_later_hires(
    db: str, scheduler: httpx.AsyncClient, minter: InternalTokenMinter
) -> None:
    """Doses given count: a Pfizer dose 1 on 1 Sep leaves only dose 2 (open 22 Sep). A hire of
    5 Oct 2021 is demand from that day: planned, but not held to the September target."""
    async with vaccine_data(db) as v:
        await v.product("PFIZER", 21)
        kcn = await v.enterprise(zone_type="KCN")
        started = await v.person(kcn)
        await v.dose(started, 1, "PFIZER", at_local(date(2021, 9, 1)))
        done = await v.person(kcn)
        await v.dose(done, 1, "PFIZER", at_local(date(2021, 8, 1)))
        await v.dose(done, 2, "PFIZER", at_local(date(2021, 8, 25)))
        await v.person(kcn, hire_date=date(2021, 10, 5))
    body = (await post(scheduler, minter, {"daily_capacity": 100})).json()
    assert group(body, 1, 1) == (1, "2021-10-05", "2021-09-30", True)
    assert held(body, 1, 1) == (0, None)
    assert group(body, 1, 2) == (2, "2021-10-26", "2021-10-31", True)
    assert held(body, 1, 2) == (1, "2021-09-22")
    assert body["doses_needed"] == 3
    assert body["minimal_capacity"]["total"] == 1


async def test_unreachable_deadline(db: str, scheduler: httpx.AsyncClient, minter: InternalTokenMinter) -> None:
    """AstraZeneca dose 1 on 10 Sep 2021: dose 2 opens 5 Nov (8 weeks), after 31 Oct. No
    capacity meets seeds/000 §2.1 for that person."""
    async with vaccine_data(db) as v:
        await v.product("AZ", 56)
        p = await v.person(await v.enterprise(zone_type="CCN"))
        await v.dose(p, 1, "AZ", at_local(date(2021, 9, 10)))
    body = (await post(scheduler, minter, {"daily_capacity": 100})).json()
    assert group(body, 2, 2) == (1, "2021-11-05", "2021-10-31", False)
    assert body["minimal_capacity"] == {
        "total": None,
        "scale_percent": None,
        "by_district": None,
        "reason": "unreachable",
    }


async def test_dose1_product(db: str, scheduler: httpx.AsyncClient, minter: InternalTokenMinter) -> None:
    """New dose 1s default to the product most given as dose 1; a named product wins."""
    async with vaccine_data(db) as v:
        await v.product("MODERNA", 28)
        await v.product("PFIZER", 21)
        await v.product("AZ", 56, active=False)
        kcn = await v.enterprise(zone_type="KCN")
        for n, code in enumerate(["PFIZER", "PFIZER", "MODERNA"]):
            p = await v.person(kcn)
            await v.dose(p, 1, code, at_local(date(2021, 8, 1 + n)))
        await v.person(kcn)
    assert (await post(scheduler, minter, {"daily_capacity": 10})).json()["product_code"] == "PFIZER"
    named = (await post(scheduler, minter, {"daily_capacity": 10, "product_code": "MODERNA"})).json()
    assert named["product_code"] == "MODERNA"
    # One dose 1 on 11 Sep with Moderna opens dose 2 on 9 Oct.
    assert group(named, 1, 2)[1] == "2021-10-09"
    error(
        await post(scheduler, minter, {"daily_capacity": 10, "product_code": "X"}),
        422,
        "unknown_product",
        "body.product_code",
    )
    error(
        await post(scheduler, minter, {"daily_capacity": 10, "product_code": "AZ"}),
        422,
        "product_inactive",
        "body.product_code",
    )


async def test_no_product_to_plan_with(db: str, scheduler: httpx.AsyncClient, minter: InternalTokenMinter) -> None:
    error(await post(scheduler, minter, {"daily_capacity": 10}), 422, "no_vaccine_product", "body.product_code")


async def test_july_plan_sets_no_deadlines(db: str, scheduler: httpx.AsyncClient, minter: InternalTokenMinter) -> None:
    """On 1 Aug 2021 the July plan (seeds/004) is in force: no deadlines, nothing to meet."""
    await park_of_sixty(db)
    body = (await post(scheduler, minter, {"daily_capacity": 10, "as_of": "2021-08-01T08:00:00+07:00"})).json()
    assert body["policy_version"] == "2021-07-20"
    assert (body["start"], body["end"]) == ("2021-08-01", "2021-10-30")
    assert group(body, 1, 1) == (60, "2021-08-06", None, None)
    assert body["all_deadlines_met"] is None
    assert body["minimal_capacity"]["reason"] == "no_deadlines"


async def test_scope(db: str, scheduler: httpx.AsyncClient, minter: InternalTokenMinter) -> None:
    """A district authority plans its district; an enterprise its own people."""
    kcn, _ = await park_of_sixty(db)
    mine = (await post(scheduler, minter, {"daily_capacity": 3}, district_authority(YEN_DUNG))).json()
    assert [t["people"] for t in mine["totals"]] == [30, 30]
    assert mine["minimal_capacity"]["total"] == 2
    own = (await post(scheduler, minter, {"daily_capacity": 3}, enterprise(kcn))).json()
    assert [t["people"] for t in own["totals"]] == [60, 60]
    assert own["minimal_capacity"]["total"] == 3


@pytest.mark.parametrize("who", [lab(uuid.UUID(int=7)), worker(uuid.UUID(int=7))])
async def test_labs_and_workers_may_not_plan(
    db: str, scheduler: httpx.AsyncClient, minter: InternalTokenMinter, who: Caller
) -> None:
    error(await post(scheduler, minter, {"daily_capacity": 10}, who), 403, "role_not_allowed")
    error(await post(scheduler, minter, {"daily_capacity": 0}, who), 403, "role_not_allowed")


@pytest.mark.parametrize(
    ("rule", "body", "status", "code", "field"),
    [
        ("capacity must be positive", {"daily_capacity": 0}, 422, "capacity_out_of_range", "body.daily_capacity"),
        (
            "each district's capacity must be positive",
            {"daily_capacity": {VIET_YEN: 10, YEN_DUNG: 0}},
            422,
            "capacity_out_of_range",
            f"body.daily_capacity.{YEN_DUNG}",
        ),
        ("a per-district map names a district", {"daily_capacity": {}}, 422, "capacity_empty", "body.daily_capacity"),
        ("capacity is a whole number", {"daily_capacity": 1.5}, 422, "validation_error", None),
        ("capacity is a number or a map", {"daily_capacity": "ten"}, 422, "validation_error", None),
        ("capacity is required", {}, 422, "validation_error", "body.daily_capacity"),
        (
            "no plan before 2021",
            {"daily_capacity": 10, "start": "2020-12-31"},
            422,
            "start_too_early",
            "body.start",
        ),
        (
            "the end is after the start",
            {"daily_capacity": 10, "start": "2021-09-20", "end": "2021-09-20"},
            422,
            "end_not_after_start",
            "body.end",
        ),
        (
            "at most 366 days",
            {"daily_capacity": 10, "start": "2021-09-20", "end": "2022-12-01"},
            422,
            "horizon_too_long",
            "body.end",
        ),
        (
            "as_of needs a time zone",
            {"daily_capacity": 10, "as_of": "2021-09-11T08:00:00"},
            422,
            "validation_error",
            "body.as_of",
        ),
        (
            "no policy before 13 May 2021 (seeds/002)",
            {"daily_capacity": 10, "as_of": "2021-05-12T08:00:00+07:00"},
            404,
            "no_policy_in_force",
            "body.as_of",
        ),
        ("unknown fields are refused", {"daily_capacity": 10, "speed": 2}, 422, "validation_error", "body.speed"),
    ],
)
async def test_input_errors_are_enveloped(
    db: str,
    scheduler: httpx.AsyncClient,
    minter: InternalTokenMinter,
    rule: str,
    body: dict[str, Any],
    status: int,
    code: str,
    field: str | None,
) -> None:
    await park_of_sixty(db)
    error(await post(scheduler, minter, body), status, code, field)
