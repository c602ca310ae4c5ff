"""Compliance routes against real PostgreSQL: one enterprise's status with reason codes, and the
enterprises in violation across the province or a district (seeds/000 §2.4: parks first)."""

from __future__ import annotations

import uuid
from typing import Any

import httpx

from safework_common.internal_auth import InternalTokenMinter
from tests.callers import PROVINCE, As, district_authority, enterprise, lab, worker
from tests.scheduler.factories import Registry, local, registry

AS_OF = {"as_of": "2021-09-20T10:00:00+07:00"}
VIET_YEN = "Việt Yên"
YEN_DUNG = "Yên Dũng"


async def staffed(reg: Registry, *, zone_type: str = "KCN", district: str = VIET_YEN, app: bool = True) -> uuid.UUID:
    """An enterprise with two vaccinated, tested workers; with ``app``, its account and both
    workers on the sanctioned app, synced on the morning of 20 Sep 2021."""
    eid = await reg.enterprise(district=district, zone_type=zone_type)
    for cohort in (0, 1):
        pid = await reg.person(eid, cohort=cohort)
        await reg.dose(pid, 1, local(2021, 8, 1, 9))
        await reg.result(pid, local(2021, 9, 19, 9))
        if app:
            await reg.device(person_id=pid, first_seen_at=local(2021, 9, 1), last_sync_at=local(2021, 9, 19))
    if app:
        await reg.device(enterprise_id=eid, first_seen_at=local(2021, 9, 1), last_sync_at=local(2021, 9, 20, 8))
    return eid


async def test_an_enterprise_in_order_is_compliant(
    db: str, scheduler: httpx.AsyncClient, minter: InternalTokenMinter
) -> None:
    async with registry(db) as reg:
        eid = await staffed(reg)
    r = await As(scheduler, minter)(enterprise(eid)).get(f"/v1/enterprises/{eid}/compliance", params=AS_OF)
    assert r.status_code == 200, r.text
    body = r.json()
    assert (body["status"], body["reasons"], body["policy_version"]) == ("compliant", [], "2021-09-11")
    figures = body["figures"]
    assert (figures["account_devices"], figures["workers_with_device"], figures["device_coverage"]) == (1, 2, 1.0)
    assert figures["last_data_update_at"] == "2021-09-20T08:00:00+07:00"
    assert (figures["overdue_tests"], figures["dose1_coverage"], figures["app_enforced"]) == (0, 1.0, True)


async def test_a_park_without_the_app_is_in_violation(
    db: str, scheduler: httpx.AsyncClient, minter: InternalTokenMinter
) -> None:
    async with registry(db) as reg:
        eid = await staffed(reg, app=False)
        # An unsanctioned app does not count (seeds/000 §2.4: one app only).
        await reg.device(
            enterprise_id=eid, first_seen_at=local(2021, 9, 1), last_sync_at=local(2021, 9, 20, 8), app_id="com.other"
        )
    body = (await As(scheduler, minter)(PROVINCE).get(f"/v1/enterprises/{eid}/compliance", params=AS_OF)).json()
    assert body["status"] == "violation"
    assert body["reasons"] == ["APP_NOT_INSTALLED", "DEVICE_COVERAGE_LOW"]
    assert [f["severity"] for f in body["findings"]] == ["violation", "violation"]


async def test_stale_data_revoked_devices_overdue_tests_and_suspension(
    db: str, scheduler: httpx.AsyncClient, minter: InternalTokenMinter
) -> None:
    async with registry(db) as reg:
        stale = await reg.enterprise(district=VIET_YEN, zone_type="KCN")
        pid = await reg.person(stale)  # unvaccinated, never tested: overdue (seeds/000 §2.2 (1))
        await reg.device(person_id=pid, first_seen_at=local(2021, 9, 1), last_sync_at=local(2021, 9, 19))
        await reg.device(enterprise_id=stale, first_seen_at=local(2021, 9, 1), last_sync_at=local(2021, 9, 16, 8))
        await reg.device(
            enterprise_id=stale,
            first_seen_at=local(2021, 9, 1),
            last_sync_at=local(2021, 9, 20, 9),
            revoked_at=local(2021, 9, 20, 9),
        )
        suspended = await reg.enterprise(district=VIET_YEN, zone_type="OUTSIDE", operating_status="suspended")
    as_ = As(scheduler, minter)(PROVINCE)
    body = (await as_.get(f"/v1/enterprises/{stale}/compliance", params=AS_OF)).json()
    assert body["reasons"] == ["DATA_STALE", "TESTS_OVERDUE"]
    assert body["figures"]["last_data_update_at"] == "2021-09-16T08:00:00+07:00"  # the revoked device does not count
    assert body["figures"]["overdue_tests"] == 1 and body["status"] == "violation"
    body = (await as_.get(f"/v1/enterprises/{suspended}/compliance", params=AS_OF)).json()
    assert body["status"] == "violation"
    assert body["reasons"] == ["SUSPENDED", "APP_NOT_INSTALLED"]
    assert [f["severity"] for f in body["findings"]] == ["violation", "warning"]  # the app: outside the parks


async def test_the_answer_is_stable_while_nothing_changes(
    db: str, scheduler: httpx.AsyncClient, minter: InternalTokenMinter
) -> None:
    """The gateway serves it with an ETag: no clock in the body."""
    async with registry(db) as reg:
        eid = await staffed(reg)
    as_ = As(scheduler, minter)(enterprise(eid))
    first = await as_.get(f"/v1/enterprises/{eid}/compliance")
    second = await as_.get(f"/v1/enterprises/{eid}/compliance")
    assert first.status_code == 200 and first.content == second.content


async def test_compliance_is_in_scope_only(db: str, scheduler: httpx.AsyncClient, minter: InternalTokenMinter) -> None:
    async with registry(db) as reg:
        ours = await staffed(reg)
        theirs = await staffed(reg, district=YEN_DUNG)
        pid = await reg.person(ours)
    as_ = As(scheduler, minter)
    url = f"/v1/enterprises/{ours}/compliance"
    for caller in (enterprise(theirs), district_authority(YEN_DUNG)):
        r = await as_(caller).get(url, params=AS_OF)
        assert r.status_code == 404 and r.json()["error"]["code"] == "enterprise_not_found", caller
    for caller in (worker(pid, ours), lab(uuid.uuid4())):
        r = await as_(caller).get(url, params=AS_OF)
        assert r.status_code == 403 and r.json()["error"]["code"] == "role_not_allowed", caller
    assert (await as_(district_authority(VIET_YEN)).get(url, params=AS_OF)).status_code == 200
    r = await as_(PROVINCE).get(url, params={"as_of": "2021-09-20T10:00:00"})
    assert r.status_code == 422 and r.json()["error"]["details"][0]["field"] == "query.as_of"


async def test_violations_across_the_province_by_zone_and_district(
    db: str, scheduler: httpx.AsyncClient, minter: InternalTokenMinter
) -> None:
    async with registry(db) as reg:
        park_no_app = await staffed(reg, app=False)
        park_ok = await staffed(reg)
        outside_no_app = await staffed(reg, zone_type="OUTSIDE", app=False)
        other_district = await staffed(reg, district=YEN_DUNG, app=False)
    as_ = As(scheduler, minter)
    r = await as_(PROVINCE).get("/v1/compliance/violations", params=AS_OF)
    assert r.status_code == 200, r.text
    body = r.json()
    ids = {i["enterprise_id"] for i in body["items"]}
    assert ids == {str(park_no_app), str(other_district)}
    assert str(park_ok) not in ids and str(outside_no_app) not in ids
    warnings = (await as_(PROVINCE).get("/v1/compliance/violations", params={**AS_OF, "status": "warning"})).json()
    assert {i["enterprise_id"] for i in warnings["items"]} == {str(outside_no_app)}

    zoned = (
        await as_(PROVINCE).get("/v1/compliance/violations", params={**AS_OF, "zone_type": "KCN", "district": VIET_YEN})
    ).json()
    assert [i["enterprise_id"] for i in zoned["items"]] == [str(park_no_app)]
    district = (await as_(district_authority(YEN_DUNG)).get("/v1/compliance/violations", params=AS_OF)).json()
    assert [i["enterprise_id"] for i in district["items"]] == [str(other_district)]

    params: dict[str, Any] = {**AS_OF, "limit": 1}
    paged = []
    while True:
        page = (await as_(PROVINCE).get("/v1/compliance/violations", params=params)).json()
        paged += [i["enterprise_id"] for i in page["items"]]
        if page["next_cursor"] is None:
            break
        params["cursor"] = page["next_cursor"]
    assert paged == sorted(ids, key=uuid.UUID)
    for caller in (enterprise(park_ok), lab(uuid.uuid4())):
        r = await as_(caller).get("/v1/compliance/violations")
        assert r.status_code == 403 and r.json()["error"]["code"] == "role_not_allowed"
