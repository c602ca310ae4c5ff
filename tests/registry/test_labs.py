"""Labs: the province authority licenses them (unique licence code); authorities read them;
a lab reads only itself."""

from __future__ import annotations

from typing import Any

import pytest

from tests.callers import PROVINCE, SYSTEM, As, district_authority, enterprise, lab
from tests.registry.conftest import Sql

LAB: dict[str, Any] = {"name": "CDC Bắc Giang", "licence_code": "BG-CDC-2021/01"}


@pytest.mark.parametrize(
    ("who", "caller", "status", "code"),
    [
        ("the province authority licenses labs", PROVINCE, 201, None),
        ("the system may (CLI seeding)", SYSTEM, 201, None),
        ("a district authority may not", district_authority("Việt Yên"), 403, "province_only"),
        ("an enterprise may not", enterprise("3a4b5c6d-7e8f-4091-a2b3-c4d5e6f7a8b9"), 403, "role_not_allowed"),
        ("a lab may not", lab("3a4b5c6d-7e8f-4091-a2b3-c4d5e6f7a8ba"), 403, "role_not_allowed"),
    ],
)
async def test_who_licenses_a_lab(api: As, sql: Sql, who: str, caller: Any, status: int, code: str | None) -> None:
    r = await api(caller).post("/v1/labs", json=LAB)
    assert r.status_code == status, (who, r.text)
    if code:
        assert r.json()["error"]["code"] == code, who
        assert await sql("SELECT id FROM lab") == []
    else:
        assert {k: r.json()[k] for k in LAB} == LAB and r.json()["active"] is True


@pytest.mark.parametrize(
    ("rule", "body", "code"),
    [
        ("a licence code is plain characters", {**LAB, "licence_code": "BG CDC"}, "string_pattern_mismatch"),
        ("a name is required", {"licence_code": "X-1"}, "missing"),
        ("no unknown fields", {**LAB, "beds": 3}, "extra_forbidden"),
    ],
)
async def test_lab_input_rules(api: As, rule: str, body: dict[str, Any], code: str) -> None:
    r = await api(PROVINCE).post("/v1/labs", json=body)
    assert r.status_code == 422, rule
    assert r.json()["error"]["details"][0]["code"] == code, rule


async def test_a_licence_code_is_unique(api: As) -> None:
    assert (await api(PROVINCE).post("/v1/labs", json=LAB)).status_code == 201
    r = await api(PROVINCE).post("/v1/labs", json={**LAB, "name": "Another"})
    assert r.status_code == 409 and r.json()["error"]["code"] == "licence_code_taken"
    other = (await api(PROVINCE).post("/v1/labs", json={"name": "BV Sản Nhi", "licence_code": "BG-SN-01"})).json()
    r = await api(PROVINCE).patch(f"/v1/labs/{other['id']}", json={"licence_code": LAB["licence_code"]})
    assert r.status_code == 409 and r.json()["error"]["code"] == "licence_code_taken"


async def test_reading_labs(api: As) -> None:
    mine = (await api(PROVINCE).post("/v1/labs", json=LAB)).json()
    other = (await api(PROVINCE).post("/v1/labs", json={"name": "BV Sản Nhi", "licence_code": "BG-SN-01"})).json()
    assert (await api(lab(mine["id"])).get(f"/v1/labs/{mine['id']}")).status_code == 200
    r = await api(lab(mine["id"])).get(f"/v1/labs/{other['id']}")
    assert r.status_code == 404 and r.json()["error"]["code"] == "lab_not_found"
    assert (await api(district_authority("Yên Dũng")).get(f"/v1/labs/{other['id']}")).status_code == 200
    assert (await api(lab(mine["id"])).get("/v1/labs")).status_code == 403


async def test_deactivating_and_listing_labs(api: As, sql: Sql) -> None:
    made = [
        (await api(PROVINCE).post("/v1/labs", json={"name": f"Lab {c}", "licence_code": f"BG-{c}"})).json()
        for c in "DBCA"
    ]
    r = await api(PROVINCE).patch(f"/v1/labs/{made[0]['id']}", json={"active": False})
    assert r.status_code == 200 and r.json()["active"] is False
    r = await api(district_authority("Việt Yên")).patch(f"/v1/labs/{made[0]['id']}", json={"active": True})
    assert r.status_code == 403
    active = (await api(PROVINCE).get("/v1/labs", params={"active": True})).json()["items"]
    assert [x["licence_code"] for x in active] == ["BG-A", "BG-B", "BG-C"]
    first = (await api(PROVINCE).get("/v1/labs", params={"limit": 3})).json()
    rest = (await api(PROVINCE).get("/v1/labs", params={"limit": 3, "cursor": first["next_cursor"]})).json()
    assert [x["licence_code"] for x in first["items"] + rest["items"]] == ["BG-A", "BG-B", "BG-C", "BG-D"]
    audit = await sql("SELECT action FROM audit_log WHERE entity = 'lab' ORDER BY id")
    assert [a["action"] for a in audit] == ["lab.create"] * 4 + ["lab.update"]
