"""Vaccine products and doses: the dose rules (seeds/000 §2.1, seeds/003) and who may do what."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from safework_common.internal_auth import InternalTokenMinter
from tests import callers
from tests.callers import As
from tests.registry.factories import OTHER_DISTRICT, Seed, cipher_for


@pytest.fixture
def seed(db: str, keys_dir: Path) -> Seed:
    return Seed(db, cipher_for(keys_dir))


async def products(seed: Seed) -> None:
    await seed.product("AZD1222", min_interval_days=28)
    await seed.product("BNT162B2", min_interval_days=21)
    await seed.fetch(
        "INSERT INTO vaccine_product (code, name, min_interval_days, active) VALUES ('RETIRED', 'Retired', 21, false)"
    )


def dose(number: int, product: str, at: str, **kw: Any) -> dict[str, Any]:
    return {"dose_number": number, "product_code": product, "administered_at": at, **kw}


def tomorrow() -> str:
    return (datetime.now(UTC) + timedelta(days=1)).isoformat()


D1 = dose(1, "AZD1222", "2021-09-05T09:00:00+07:00", site="Trạm y tế Vân Trung", lot="A1001")

# (rule, doses already recorded, the new dose, status, code, field)
DoseCase = tuple[str, list[dict[str, Any]], dict[str, Any], int, str | None, str | None]
CASES: list[DoseCase] = [
    ("dose 1 needs nothing before it", [], D1, 201, None, None),
    (
        "dose 2 exactly the product's minimum interval after dose 1",
        [D1],
        dose(2, "AZD1222", "2021-10-03T09:00:00+07:00"),
        201,
        None,
        None,
    ),
    (
        "the interval counts local calendar days (Asia/Ho_Chi_Minh), not 24 h periods",
        [dose(1, "AZD1222", "2021-09-05T23:30:00+07:00")],
        dose(2, "AZD1222", "2021-10-03T00:10:00+07:00"),
        201,
        None,
        None,
    ),
    (
        "dose 2 one day short of the minimum interval",
        [D1],
        dose(2, "AZD1222", "2021-10-02T09:00:00+07:00"),
        422,
        "dose_interval_too_short",
        "body.administered_at",
    ),
    (
        "the interval is dose n-1's product's, even when dose n is another product",
        [D1],
        dose(2, "BNT162B2", "2021-09-26T09:00:00+07:00"),
        422,
        "dose_interval_too_short",
        "body.administered_at",
    ),
    (
        "dose 2 before dose 1 is too short an interval",
        [D1],
        dose(2, "AZD1222", "2021-09-01T09:00:00+07:00"),
        422,
        "dose_interval_too_short",
        "body.administered_at",
    ),
    (
        "dose 2 needs dose 1",
        [],
        dose(2, "AZD1222", "2021-10-03T09:00:00+07:00"),
        409,
        "previous_dose_missing",
        "body.dose_number",
    ),
    (
        "dose 3 needs dose 2",
        [D1],
        dose(3, "AZD1222", "2021-11-30T09:00:00+07:00"),
        409,
        "previous_dose_missing",
        "body.dose_number",
    ),
    (
        "no dose in the future",
        [],
        dose(1, "AZD1222", tomorrow()),
        422,
        "administered_in_future",
        "body.administered_at",
    ),
    ("the same dose again with identical data is a replay", [D1], D1, 200, None, None),
    (
        "the same dose number with other data is a conflict",
        [D1],
        {**D1, "lot": "B2002"},
        409,
        "dose_conflict",
        "body.dose_number",
    ),
    (
        "an unknown product",
        [],
        dose(1, "SPUTNIK-X", "2021-09-05T09:00:00+07:00"),
        422,
        "vaccine_product_not_found",
        "body.product_code",
    ),
    (
        "a retired product takes no new doses",
        [],
        dose(1, "RETIRED", "2021-09-05T09:00:00+07:00"),
        422,
        "vaccine_product_inactive",
        "body.product_code",
    ),
    (
        "a time without a time zone is refused",
        [],
        dose(1, "AZD1222", "2021-09-05T09:00:00"),
        422,
        "validation_error",
        "body.administered_at",
    ),
]


@pytest.mark.parametrize(("rule", "before", "new", "status", "code", "field"), CASES, ids=[c[0] for c in CASES])
async def test_dose_rules(
    registry: httpx.AsyncClient,
    minter: InternalTokenMinter,
    seed: Seed,
    rule: str,
    before: list[dict[str, Any]],
    new: dict[str, Any],
    status: int,
    code: str | None,
    field: str | None,
) -> None:
    await products(seed)
    pid = await seed.person(await seed.enterprise())
    for d in before:
        at = datetime.fromisoformat(d["administered_at"])
        await seed.dose(pid, d["dose_number"], d["product_code"], at, site=d.get("site"), lot=d.get("lot"))
    count_before = await seed.count("dose")

    r = await As(registry, minter)(callers.PROVINCE).post(f"/v1/persons/{pid}/doses", json=new)

    assert r.status_code == status, (rule, r.text)
    if code is not None:
        error = r.json()["error"]
        assert error["code"] == code, rule
        assert field in [d["field"] for d in error["details"]], rule
        assert await seed.count("dose") == count_before, rule
    else:
        body = r.json()
        assert (body["dose_number"], body["product_code"]) == (new["dose_number"], new["product_code"]), rule
        assert await seed.count("dose") == count_before + (status == 201), rule


async def test_a_replayed_dose_answers_the_stored_record(
    registry: httpx.AsyncClient, minter: InternalTokenMinter, seed: Seed
) -> None:
    await products(seed)
    pid = await seed.person(await seed.enterprise())
    client = As(registry, minter)(callers.PROVINCE)
    first = await client.post(f"/v1/persons/{pid}/doses", json=D1)
    again = await client.post(f"/v1/persons/{pid}/doses", json=D1)
    assert (first.status_code, again.status_code) == (201, 200)
    assert again.json() == first.json()
    listed = (await client.get(f"/v1/persons/{pid}/doses")).json()
    assert listed["next_cursor"] is None  # a list is a page (issue 15), never a bare array
    assert [d["id"] for d in listed["items"]] == [first.json()["id"]]


@pytest.mark.parametrize(
    ("rule", "who", "status", "code"),
    [
        ("the province authority records doses", "province", 201, None),
        ("a district authority records doses of its district's people", "district", 201, None),
        ("another district's authority does not see the person", "other_district", 404, "person_not_found"),
        ("an enterprise does not record doses", "enterprise", 403, "role_not_allowed"),
        ("a worker does not record doses", "worker", 403, "role_not_allowed"),
        ("a lab does not record doses", "lab", 403, "role_not_allowed"),
    ],
)
async def test_who_records_doses(
    registry: httpx.AsyncClient,
    minter: InternalTokenMinter,
    seed: Seed,
    rule: str,
    who: str,
    status: int,
    code: str | None,
) -> None:
    await products(seed)
    ent = await seed.enterprise()
    pid = await seed.person(ent)
    caller = {
        "province": callers.PROVINCE,
        "district": callers.district_authority("Việt Yên"),
        "other_district": callers.district_authority(OTHER_DISTRICT),
        "enterprise": callers.enterprise(ent),
        "worker": callers.worker(pid, ent),
        "lab": callers.lab(uuid.uuid4()),
    }[who]
    r = await As(registry, minter)(caller).post(f"/v1/persons/{pid}/doses", json=D1)
    assert r.status_code == status, rule
    if code:
        assert r.json()["error"]["code"] == code, rule


@pytest.mark.parametrize(
    ("rule", "who", "status"),
    [
        ("a worker reads their own doses", "self", 200),
        ("the enterprise reads its roster's doses", "enterprise", 200),
        ("another enterprise does not see them", "other_enterprise", 404),
        ("another worker does not see them", "other_worker", 404),
        ("the district authority reads its district's doses", "district", 200),
    ],
)
async def test_who_reads_doses(
    registry: httpx.AsyncClient, minter: InternalTokenMinter, seed: Seed, rule: str, who: str, status: int
) -> None:
    await products(seed)
    ent, other = await seed.enterprise(), await seed.enterprise()
    pid = await seed.person(ent)
    await seed.dose(pid, 1, "AZD1222", datetime.fromisoformat(D1["administered_at"]))
    caller = {
        "self": callers.worker(pid, ent),
        "enterprise": callers.enterprise(ent),
        "other_enterprise": callers.enterprise(other),
        "other_worker": callers.worker(uuid.uuid4(), ent),
        "district": callers.district_authority("Việt Yên"),
    }[who]
    r = await As(registry, minter)(caller).get(f"/v1/persons/{pid}/doses")
    assert r.status_code == status, rule
    if status == 200:
        assert [d["dose_number"] for d in r.json()["items"]] == [1], rule


async def test_vaccine_products_are_kept_by_the_province_and_read_by_all(
    registry: httpx.AsyncClient, minter: InternalTokenMinter, seed: Seed
) -> None:
    as_ = As(registry, minter)
    body = {"code": "VERO-CELL", "name": "Sinopharm Vero Cell", "min_interval_days": 21}

    created = await as_(callers.PROVINCE).post("/v1/vaccine-products", json=body)
    assert created.status_code == 201
    assert created.json() == {**body, "doses_in_primary_series": 2, "active": True}
    again = await as_(callers.PROVINCE).post("/v1/vaccine-products", json=body)
    assert (again.status_code, again.json()["error"]["code"]) == (409, "vaccine_product_exists")
    denied = await as_(callers.district_authority("Việt Yên")).post(
        "/v1/vaccine-products", json={**body, "code": "OTHER"}
    )
    assert (denied.status_code, denied.json()["error"]["code"]) == (403, "province_only")

    patched = await as_(callers.PROVINCE).patch("/v1/vaccine-products/VERO-CELL", json={"min_interval_days": 28})
    assert patched.json()["min_interval_days"] == 28
    null = await as_(callers.PROVINCE).patch("/v1/vaccine-products/VERO-CELL", json={"name": None})
    assert (null.status_code, null.json()["error"]["code"]) == (422, "null_not_allowed")
    missing = await as_(callers.PROVINCE).patch("/v1/vaccine-products/NOPE", json={"min_interval_days": 28})
    assert (missing.status_code, missing.json()["error"]["code"]) == (404, "vaccine_product_not_found")

    for reader in (callers.enterprise(uuid.uuid4()), callers.worker(uuid.uuid4()), callers.lab(uuid.uuid4())):
        listed = await as_(reader).get("/v1/vaccine-products")
        assert [p["code"] for p in listed.json()["items"]] == ["VERO-CELL"]
        one = await as_(reader).get("/v1/vaccine-products/VERO-CELL")
        assert one.json()["min_interval_days"] == 28
    lowercase = await as_(callers.PROVINCE).post("/v1/vaccine-products", json={**body, "code": "vero"})
    assert lowercase.json()["error"]["details"][0]["field"] == "body.code"
