"""seeds/000 §2.2 "giao Ban chỉ đạo phòng, chống dịch cấp huyện quyết định tỷ lệ lấy mẫu tầm soát
ngẫu nhiên … trong từng giai đoạn": a district authority sets its district's sampling ratio from
a date, through the public door; the province authority any district's; no district another's
(404). The due list of a small enterprise then uses it and says which ratio applied and who set
it; before that date the policy's default applies, shown as a default."""

from __future__ import annotations

import uuid
from typing import Any

import asyncpg

from safework_common.settings import plain_pg_url
from tests.gateway.conftest import Stack, bearer
from tests.gateway.test_verdicts import DOSE_1, monday_enterprise
from tests.gateway.world import ok
from tests.scheduler.factories import registry

LUC_NAM = "Lục Nam"
YEN_DUNG = "Yên Dũng"


async def count(db: str) -> int:
    conn = await asyncpg.connect(plain_pg_url(db))
    try:
        n: int = await conn.fetchval("SELECT count(*) FROM district_ratio")
        return n
    finally:
        await conn.close()


async def test_a_district_sets_its_ratio_and_the_due_list_uses_it(stack: Stack, db: str) -> None:
    eid = monday_enterprise(7)
    async with registry(db) as reg:
        await reg.enterprise(enterprise_id=eid, district=LUC_NAM, zone_type="OUTSIDE")
        for _ in range(10):
            pid = await reg.person(eid)
            await reg.dose(pid, 1, DOSE_1)
    luc_nam = bearer(stack.token("authority", district=LUC_NAM, client_id="luc-nam-committee"))
    url = "/api/v1/districts/Lục Nam/ratios"
    body: dict[str, Any] = {"kind": "small_enterprise", "ratio": 0.5, "effective_from": "2021-09-20", "note": "QĐ 12"}
    r = await stack.http.post(url, json=body, headers=luc_nam)
    setting = await ok(r, 201)
    assert (setting["district"], setting["ratio"], setting["set_by"]) == (LUC_NAM, 0.5, "client:luc-nam-committee")
    # Any spelling of the district reaches it.
    listed = await ok(await stack.http.get("/api/v1/districts/huyen luc nam/ratios", headers=luc_nam))
    assert [i["id"] for i in listed["items"]] == [setting["id"]]

    province = stack.province()
    before = await ok(
        await stack.http.get(f"/api/v1/enterprises/{eid}/due", params={"date": "2021-09-13"}, headers=province)
    )
    assert before["round"]["reason"] == "SMALL_ENTERPRISE" and before["round"]["sample_size"] == 2
    assert before["round"]["district_ratio"] == {
        "district": LUC_NAM,
        "ratio": 0.2,
        "set_by": None,
        "effective_from": None,
        "default": True,
    }
    after = await ok(
        await stack.http.get(f"/api/v1/enterprises/{eid}/due", params={"date": "2021-09-20"}, headers=province)
    )
    assert after["round"]["sample_size"] == 5
    assert after["round"]["district_ratio"] == {
        "district": LUC_NAM,
        "ratio": 0.5,
        "set_by": "client:luc-nam-committee",
        "effective_from": "2021-09-20",
        "default": False,
    }
    # A correction from the same date is kept beside the first; the later one applies.
    await ok(await stack.http.post(url, json={**body, "ratio": 0.3}, headers=province), 201)
    corrected = await ok(
        await stack.http.get(f"/api/v1/enterprises/{eid}/due", params={"date": "2021-09-20"}, headers=province)
    )
    assert corrected["round"]["sample_size"] == 3 and corrected["round"]["district_ratio"]["ratio"] == 0.3
    assert len((await ok(await stack.http.get(url, headers=province)))["items"]) == 2


async def test_no_district_sets_another_and_bad_settings_change_nothing(stack: Stack, db: str) -> None:
    yen_dung = bearer(stack.token("authority", district=YEN_DUNG))
    good: dict[str, Any] = {"kind": "small_enterprise", "ratio": 0.25, "effective_from": "2021-09-20"}
    r = await stack.http.post("/api/v1/districts/Lục Nam/ratios", json=good, headers=yen_dung)
    assert (r.status_code, r.json()["error"]["code"]) == (404, "district_not_found")
    r = await stack.http.get("/api/v1/districts/Lục Nam/ratios", headers=yen_dung)
    assert r.status_code == 404
    enterprise = bearer(stack.token("enterprise", enterprise_id=str(uuid.uuid4())))
    r = await stack.http.post("/api/v1/districts/Yên Dũng/ratios", json=good, headers=enterprise)
    assert r.status_code == 403
    cases = [
        ("Atlantis", good, 422, "path.district"),
        ("Yên Dũng", {**good, "ratio": 1.5}, 422, "body.ratio"),
        ("Yên Dũng", {**good, "ratio": 0}, 422, "body.ratio"),
        ("Yên Dũng", {**good, "kind": "everyone"}, 422, "body.kind"),
        ("Yên Dũng", {**good, "effective_from": "2021-05-01"}, 422, "body.effective_from"),
        ("Yên Dũng", {**good, "effective_from": "20/09/2021"}, 422, "body.effective_from"),
    ]
    for district, body, status, field in cases:
        r = await stack.http.post(f"/api/v1/districts/{district}/ratios", json=body, headers=yen_dung)
        assert r.status_code == status, (district, body, r.text)
        assert r.json()["error"]["details"][0]["field"] == field, (district, body, r.text)
    assert await count(db) == 0
    ok_ = await stack.http.post("/api/v1/districts/Yên Dũng/ratios", json=good, headers=yen_dung)
    assert ok_.status_code == 201 and await count(db) == 1
