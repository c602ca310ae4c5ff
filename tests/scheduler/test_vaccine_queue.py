"""GET /v1/vaccines/queue against real PostgreSQL: order, eligibility, keyset pages, filters,
scope and errors. The SQL is also held to the pure rules applied to the same rows."""

from __future__ import annotations

import base64
import uuid
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import asyncpg
import httpx
import pytest

from safework_common.db import make_engine, make_sessionmaker
from safework_common.internal_auth import Caller, InternalTokenMinter
from safework_common.scope import Reach
from safework_common.timezone import local_date
from safework_scheduler.policy.files import read_versions
from safework_scheduler.vaccines import repository
from safework_scheduler.vaccines.repository import DueQuery
from safework_scheduler.vaccines.rules import LastDose, PersonFacts, order_queue, queue_entry, tier_table
from tests.callers import PROVINCE, SYSTEM, As, district_authority, enterprise, lab, worker
from tests.scheduler.vaccine_factories import VIET_YEN, YEN_DUNG, at_local, vaccine_data

AS_OF = "2021-09-20T10:00:00+07:00"
AS_OF_DT = datetime.fromisoformat(AS_OF)
POLICY = {d.version: d for d in read_versions()}


def pid(n: int) -> uuid.UUID:
    """Person ids in a known order, so ties on (tier, rank, date) break predictably."""
    return uuid.UUID(int=n)


@dataclass
class Scenario:
    kcn: uuid.UUID
    ccn: uuid.UUID
    out: uuid.UUID


async def seed(url: str) -> Scenario:
    """A province on 20 Sep 2021 (seeds/000 §2.1 in force since 11 Sep)."""
    async with vaccine_data(url) as v:
        await v.product("PFIZER", 21)
        await v.product("AZ", 56)
        await v.product("ABDALA", 14, 3)
        await v.product("JANSSEN", 0, 1)
        kcn = await v.enterprise(district=VIET_YEN, zone_type="KCN")
        ccn = await v.enterprise(district=VIET_YEN, zone_type="CCN")
        out = await v.enterprise(district=YEN_DUNG, zone_type="OUTSIDE")
        # a: park worker, no dose, hired 2019: dose 1 since the programme start, 11 Sep.
        await v.person(kcn, hire_date=date(2019, 5, 1), person_id=pid(1))
        # b: Pfizer dose 1 on 20 Aug: dose 2 since 10 Sep.
        await v.person(kcn, person_id=pid(2))
        await v.dose(pid(2), 1, "PFIZER", at_local(date(2021, 8, 20)))
        # c: a freight driver of an outside enterprise hired 15 Sep: tier 1 (seeds/003), since 15 Sep.
        await v.person(out, job_role="freight_driver", hire_date=date(2021, 9, 15), person_id=pid(3))
        # d: cluster worker, AstraZeneca dose 1 on 1 Jul: dose 2 since 26 Aug.
        await v.person(ccn, person_id=pid(4))
        await v.dose(pid(4), 1, "AZ", at_local(date(2021, 7, 1)))
        # e: cluster manager, no dose, no hire date: since 11 Sep.
        await v.person(ccn, job_role="manager", person_id=pid(5))
        # f: outside worker, no dose: tier 3 since 11 Sep.
        await v.person(out, person_id=pid(6))
        # g: outside worker, Abdala doses on 20 Aug and 3 Sep: dose 3 since 17 Sep.
        await v.person(out, person_id=pid(7))
        await v.dose(pid(7), 1, "ABDALA", at_local(date(2021, 8, 20)))
        await v.dose(pid(7), 2, "ABDALA", at_local(date(2021, 9, 3)))
        # h: Pfizer dose 1 on 5 Sep: dose 2 opens 26 Sep, not in the queue yet.
        await v.person(kcn, person_id=pid(8))
        await v.dose(pid(8), 1, "PFIZER", at_local(date(2021, 9, 5)))
        # i: two Pfizer doses: series complete.
        await v.person(kcn, person_id=pid(9))
        await v.dose(pid(9), 1, "PFIZER", at_local(date(2021, 8, 1)))
        await v.dose(pid(9), 2, "PFIZER", at_local(date(2021, 8, 22)))
        # j: left the enterprise.
        await v.person(kcn, status="left", person_id=pid(10))
        # k: hired 1 Oct: not eligible yet on 20 Sep.
        await v.person(kcn, hire_date=date(2021, 10, 1), person_id=pid(11))
        # l: a single-dose product: complete.
        await v.person(kcn, person_id=pid(12))
        await v.dose(pid(12), 1, "JANSSEN", at_local(date(2021, 9, 1)))
        # m: dose 1 given that afternoon, after as_of: not counted yet, so due dose 1 since 11 Sep.
        await v.person(kcn, person_id=pid(13))
        await v.dose(pid(13), 1, "PFIZER", at_local(date(2021, 9, 20), hour=15))
        # n: Pfizer dose 1 at 18:30 UTC on 29 Aug = 01:30 on 30 Aug in Bắc Giang: dose 2 since 20 Sep.
        await v.person(kcn, person_id=pid(14))
        await v.dose(pid(14), 1, "PFIZER", datetime.fromisoformat("2021-08-29T18:30:00+00:00"))
        # o: no enterprise: outside the workforce programme.
        await v.person(None, person_id=pid(15))
    return Scenario(kcn=kcn, ccn=ccn, out=out)


EXPECTED = [
    # (person, tier, dose, product, eligible since)
    (2, 1, 2, "PFIZER", "2021-09-10"),
    (14, 1, 2, "PFIZER", "2021-09-20"),
    (1, 1, 1, None, "2021-09-11"),
    (13, 1, 1, None, "2021-09-11"),
    (3, 1, 1, None, "2021-09-15"),
    (4, 2, 2, "AZ", "2021-08-26"),
    (5, 2, 1, None, "2021-09-11"),
    (7, 3, 3, "ABDALA", "2021-09-17"),
    (6, 3, 1, None, "2021-09-11"),
]


def summary(items: list[dict[str, Any]]) -> list[tuple[int, int, int, str | None, str]]:
    return [
        (uuid.UUID(i["person_id"]).int, i["tier"], i["dose"], i["product_code"], i["eligible_since"]) for i in items
    ]


def people(items: list[dict[str, Any]]) -> list[int]:
    return [uuid.UUID(i["person_id"]).int for i in items]


async def get(
    client: httpx.AsyncClient, minter: InternalTokenMinter, caller: Caller = PROVINCE, **params: Any
) -> httpx.Response:
    return await As(client, minter)(caller).get("/v1/vaccines/queue", params={"as_of": AS_OF, **params})


def error(r: httpx.Response, status: int, code: str, field: str | None = None) -> None:
    assert r.status_code == status, r.text
    body = r.json()["error"]
    assert body["code"] == code, body
    if field is not None:
        assert field in [d["field"] for d in body["details"]], body


async def test_queue_order_of_seeds_000(db: str, scheduler: httpx.AsyncClient, minter: InternalTokenMinter) -> None:
    """Tier (parks and drivers, clusters, the rest), then a started series before dose 1
    (dose2_first), then eligible since, then person id; only people eligible on 20 Sep 2021."""
    s = await seed(db)
    r = await get(scheduler, minter)
    assert r.status_code == 200, r.text
    body = r.json()
    assert summary(body["items"]) == EXPECTED
    assert (body["date"], body["policy_version"], body["dose2_ranking"]) == ("2021-09-20", "2021-09-11", "dose2_first")
    assert body["next_cursor"] is None
    first = body["items"][0]
    assert set(first) == {
        "person_id",
        "enterprise_id",
        "district",
        "tier",
        "dose",
        "product_code",
        "eligible_since",
    }, "no national IDs or names"
    assert (first["enterprise_id"], first["district"]) == (str(s.kcn), VIET_YEN)


async def test_sql_matches_the_pure_rules(db: str, scheduler: httpx.AsyncClient, minter: InternalTokenMinter) -> None:
    """The adapter computes tier, next dose and eligible date in SQL; the rules module computes
    them from the same rows in Python: the two orders must be identical."""
    await seed(db)
    conn = await asyncpg.connect(db)
    try:
        rows = await conn.fetch(
            "SELECT p.id, p.enterprise_id, e.district, e.zone_type, p.job_role, p.status, p.hire_date"
            " FROM person p JOIN enterprise e ON e.id = p.enterprise_id"
        )
        doses = await conn.fetch(
            "SELECT d.person_id, d.dose_number, d.product_code, d.administered_at, vp.min_interval_days,"
            " vp.doses_in_primary_series FROM dose d JOIN vaccine_product vp ON vp.code = d.product_code"
        )
    finally:
        await conn.close()
    last: dict[uuid.UUID, LastDose] = {}
    for d in doses:
        if d["administered_at"] > AS_OF_DT:
            continue
        if d["person_id"] not in last or last[d["person_id"]].number < d["dose_number"]:
            last[d["person_id"]] = LastDose(
                d["dose_number"],
                d["product_code"],
                local_date(d["administered_at"]),
                d["min_interval_days"],
                d["doses_in_primary_series"],
            )
    policy = POLICY["2021-09-11"]
    tiers = tier_table(policy.vaccines)
    entries = [
        queue_entry(
            PersonFacts(
                r["id"],
                r["enterprise_id"],
                r["district"],
                r["zone_type"],
                r["job_role"],
                r["status"] == "active",
                r["hire_date"],
                last.get(r["id"]),
            ),
            tiers,
            policy.effective_from,
            local_date(AS_OF_DT),
        )
        for r in rows
    ]
    expected = order_queue([e for e in entries if e is not None], policy.vaccines.dose2_ranking)
    r = await get(scheduler, minter)
    assert summary(r.json()["items"]) == [
        (e.person_id.int, e.tier, e.dose, e.product_code, e.eligible_since.isoformat()) for e in expected
    ]


async def test_policy_in_force_on_as_of(db: str, scheduler: httpx.AsyncClient, minter: InternalTokenMinter) -> None:
    """On 15 Aug 2021 the July plan (seeds/004, from 20 Jul) is in force: dose 1 opens 20 Jul;
    doses given after 15 Aug do not count yet."""
    await seed(db)
    r = await get(scheduler, minter, as_of="2021-08-15T12:00:00+07:00", tier=1)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["policy_version"] == "2021-07-20"
    assert summary(body["items"]) == [
        (1, 1, 1, None, "2021-07-20"),
        (2, 1, 1, None, "2021-07-20"),  # Pfizer dose 1 on 20 Aug is in the future
        (8, 1, 1, None, "2021-07-20"),
        (12, 1, 1, None, "2021-07-20"),
        (13, 1, 1, None, "2021-07-20"),
        (14, 1, 1, None, "2021-07-20"),
    ]


async def test_keyset_pages_walk_the_whole_queue(
    db: str, scheduler: httpx.AsyncClient, minter: InternalTokenMinter
) -> None:
    await seed(db)
    seen: list[dict[str, Any]] = []
    cursor: str | None = None
    pages = 0
    while True:
        params: dict[str, Any] = {"limit": 2}
        if cursor is not None:
            params["cursor"] = cursor
        body = (await get(scheduler, minter, **params)).json()
        seen.extend(body["items"])
        pages += 1
        cursor = body["next_cursor"]
        if cursor is None:
            break
    assert summary(seen) == EXPECTED
    assert pages == 5


async def test_stream_gives_the_same_order(db: str) -> None:
    """The province-wide streaming read (server-side cursor) yields the API's order."""
    await seed(db)
    policy = POLICY["2021-09-11"]
    engine = make_engine(db, read_only=True)
    try:
        q = DueQuery(AS_OF_DT, tier_table(policy.vaccines), policy.effective_from, Reach())
        async with make_sessionmaker(engine)() as session:
            streamed = [
                e async for e in repository.stream_queue(session, q, policy.vaccines.dose2_ranking, date(2021, 9, 20))
            ]
    finally:
        await engine.dispose()
    assert [(e.person_id.int, e.tier, e.dose) for e in streamed] == [(p, t, d) for p, t, d, _, _ in EXPECTED]


@pytest.mark.parametrize(
    ("rule", "params", "expected"),
    [
        ("filter by district", {"district": YEN_DUNG}, [3, 7, 6]),
        ("filter by tier", {"tier": 2}, [4, 5]),
        ("filter by dose", {"dose": 2}, [2, 14, 4]),
        ("filters combine", {"dose": 1, "tier": 1}, [1, 13, 3]),
    ],
)
async def test_filters(
    db: str,
    scheduler: httpx.AsyncClient,
    minter: InternalTokenMinter,
    rule: str,
    params: dict[str, Any],
    expected: list[int],
) -> None:
    await seed(db)
    r = await get(scheduler, minter, **params)
    assert people(r.json()["items"]) == expected, rule


async def test_filter_by_enterprise(db: str, scheduler: httpx.AsyncClient, minter: InternalTokenMinter) -> None:
    s = await seed(db)
    r = await get(scheduler, minter, enterprise_id=str(s.kcn))
    assert people(r.json()["items"]) == [2, 14, 1, 13]
    error(
        await get(scheduler, minter, enterprise_id=str(uuid.uuid4())),
        404,
        "enterprise_not_found",
        "query.enterprise_id",
    )


async def test_scope(db: str, scheduler: httpx.AsyncClient, minter: InternalTokenMinter) -> None:
    """Province and system see all; a district authority its district; an enterprise its people.
    Naming another tenant's district or enterprise is 404."""
    s = await seed(db)
    everyone = [p for p, *_ in EXPECTED]
    assert people((await get(scheduler, minter, SYSTEM)).json()["items"]) == everyone
    viet_yen = district_authority(VIET_YEN)
    assert people((await get(scheduler, minter, viet_yen)).json()["items"]) == [2, 14, 1, 13, 4, 5]
    assert people((await get(scheduler, minter, viet_yen, enterprise_id=str(s.ccn))).json()["items"]) == [4, 5]
    error(await get(scheduler, minter, viet_yen, district=YEN_DUNG), 404, "district_not_found", "query.district")
    error(await get(scheduler, minter, viet_yen, enterprise_id=str(s.out)), 404, "enterprise_not_found")
    own = enterprise(s.kcn)
    assert people((await get(scheduler, minter, own)).json()["items"]) == [2, 14, 1, 13]
    assert people((await get(scheduler, minter, own, enterprise_id=str(s.kcn))).json()["items"]) == [2, 14, 1, 13]
    error(await get(scheduler, minter, own, enterprise_id=str(s.ccn)), 404, "enterprise_not_found")


@pytest.mark.parametrize(
    ("who", "code"),
    [
        (lab(uuid.UUID(int=99)), "role_not_allowed"),
        (worker(uuid.UUID(int=1)), "role_not_allowed"),
        (Caller(subject="client:x", role="enterprise", client_id="x"), "scope_missing"),
    ],
)
async def test_roles_not_allowed(
    db: str, scheduler: httpx.AsyncClient, minter: InternalTokenMinter, who: Caller, code: str
) -> None:
    """Labs and workers get 403 even when their parameters are also wrong."""
    error(await get(scheduler, minter, who), 403, code)
    error(await get(scheduler, minter, who, limit=0), 403, code)


def cursor_of(values: object) -> str:
    import json

    return base64.urlsafe_b64encode(json.dumps(values).encode()).decode().rstrip("=")


@pytest.mark.parametrize(
    ("rule", "params", "status", "code", "field"),
    [
        ("as_of needs a time zone", {"as_of": "2021-09-20T10:00:00"}, 422, "validation_error", "query.as_of"),
        (
            "no policy before 13 May 2021 (seeds/002)",
            {"as_of": "2021-05-12T10:00:00+07:00"},
            404,
            "no_policy_in_force",
            "query.as_of",
        ),
        ("limit at most 1000", {"limit": 1001}, 422, "validation_error", "query.limit"),
        ("limit at least 1", {"limit": 0}, 422, "validation_error", "query.limit"),
        ("tier at least 1", {"tier": 0}, 422, "validation_error", "query.tier"),
        ("enterprise id is a UUID", {"enterprise_id": "acme"}, 422, "validation_error", "query.enterprise_id"),
        ("cursor not base64 JSON", {"cursor": "!!!"}, 422, "invalid_cursor", "query.cursor"),
        ("cursor of the wrong shape", {"cursor": cursor_of([1, 2])}, 422, "invalid_cursor", "query.cursor"),
        (
            "cursor with a bad date",
            {"cursor": cursor_of([1, 0, "2021-13-01", str(uuid.UUID(int=1))])},
            422,
            "invalid_cursor",
            "query.cursor",
        ),
    ],
)
async def test_errors_are_enveloped(
    db: str,
    scheduler: httpx.AsyncClient,
    minter: InternalTokenMinter,
    rule: str,
    params: dict[str, Any],
    status: int,
    code: str,
    field: str,
) -> None:
    error(await get(scheduler, minter, **params), status, code, field)


async def test_as_of_defaults_to_now(db: str, scheduler: httpx.AsyncClient, minter: InternalTokenMinter) -> None:
    await seed(db)
    r = await As(scheduler, minter)(PROVINCE).get("/v1/vaccines/queue")
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["policy_version"] == "2021-11-01"  # the latest version
    assert datetime.fromisoformat(body["as_of"]).tzinfo is not None
    # Long after 2021 everyone not complete is eligible: h's dose 2 and k's dose 1 are open too.
    assert sorted(people(body["items"])) == sorted([p for p, *_ in EXPECTED] + [8, 11])
