"""Enterprises: registration rules (tax code, zones, headcount), operating status, tenant
scope, keyset lists, and the OpenAPI contract of this part of the registry."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pytest
from fastapi import FastAPI

from safework_common.timezone import LOCAL_TZ
from tests.callers import PROVINCE, SYSTEM, As, district_authority, enterprise, lab, worker
from tests.registry.conftest import MakeEnterprise, Sql

BASE: dict[str, Any] = {
    "tax_code": "2400123456",
    "name": "Công ty TNHH May Việt Yên",
    "district": "Việt Yên",
    "zone_type": "KCN",
    "zone_name": "KCN Vân Trung",
    "industry": "garment",
    "headcount": 3200,
}


async def test_province_authority_registers_an_enterprise_and_the_write_is_audited(api: As, sql: Sql) -> None:
    r = await api(PROVINCE).post("/v1/enterprises", json=BASE)
    assert r.status_code == 201, r.text
    body = r.json()
    assert {k: body[k] for k in BASE} == BASE
    assert body["operating_status"] == "cleared"
    assert body["status_reason"] is None
    rows = await sql("SELECT action, entity, entity_id, role FROM audit_log")
    assert [tuple(r) for r in rows] == [("enterprise.create", "enterprise", body["id"], "authority")]


@pytest.mark.parametrize(
    ("rule", "change", "status", "code", "field"),
    [
        ("tax code: 10 digits", {"tax_code": "2400123456"}, 201, None, None),
        ("tax code: branch is 10 digits, '-', 3 digits", {"tax_code": "2400123456-001"}, 201, None, None),
        ("tax code: 9 digits refused", {"tax_code": "240012345"}, 422, "invalid_tax_code", "body.tax_code"),
        ("tax code: 11 digits refused", {"tax_code": "24001234567"}, 422, "invalid_tax_code", "body.tax_code"),
        ("tax code: branch needs 3 digits", {"tax_code": "2400123456-01"}, 422, "invalid_tax_code", "body.tax_code"),
        ("tax code: branch needs the dash", {"tax_code": "2400123456001"}, 422, "invalid_tax_code", "body.tax_code"),
        ("zone: a park names its zone", {"zone_name": None}, 422, "zone_name_required", "body.zone_name"),
        (
            "zone: a cluster names its zone",
            {"zone_type": "CCN", "zone_name": None},
            422,
            "zone_name_required",
            "body.zone_name",
        ),
        ("zone: outside has no zone name", {"zone_type": "OUTSIDE"}, 422, "zone_name_not_allowed", "body.zone_name"),
        ("zone: outside without a name", {"zone_type": "OUTSIDE", "zone_name": None}, 201, None, None),
        ("zone type: only KCN, CCN, OUTSIDE", {"zone_type": "EPZ"}, 422, "literal_error", "body.zone_type"),
        ("industry: garment, shuttlecock, other", {"industry": "textile"}, 422, "literal_error", "body.industry"),
        ("headcount: zero is fine", {"headcount": 0}, 201, None, None),
        ("headcount: never negative", {"headcount": -1}, 422, "greater_than_equal", "body.headcount"),
        ("unknown fields refused", {"owner": "x"}, 422, "extra_forbidden", "body.owner"),
    ],
)
async def test_registration_rules(
    api: As, sql: Sql, rule: str, change: dict[str, Any], status: int, code: str | None, field: str | None
) -> None:
    r = await api(PROVINCE).post("/v1/enterprises", json={**BASE, **change})
    assert r.status_code == status, (rule, r.text)
    if code is not None:
        error = r.json()["error"]
        assert error["details"][0]["code"] == code, rule
        assert error["details"][0]["field"] == field, rule
        assert await sql("SELECT id FROM enterprise") == [], "bad input changes nothing"


async def test_a_tax_code_is_unique(api: As) -> None:
    assert (await api(PROVINCE).post("/v1/enterprises", json=BASE)).status_code == 201
    r = await api(PROVINCE).post("/v1/enterprises", json={**BASE, "name": "Another"})
    assert r.status_code == 409
    assert r.json()["error"]["code"] == "tax_code_taken"
    assert r.json()["error"]["details"][0]["field"] == "body.tax_code"


@pytest.mark.parametrize(
    ("who", "caller", "status", "code"),
    [
        ("district authority in its district", district_authority("Việt Yên"), 201, None),
        ("district authority elsewhere", district_authority("Yên Dũng"), 404, "district_not_found"),
        (
            "an enterprise cannot register one",
            enterprise("4c6f9d64-3c2b-4c4e-9b8a-1d0f8e9a7b61"),
            403,
            "role_not_allowed",
        ),
        ("a lab cannot", lab("4c6f9d64-3c2b-4c4e-9b8a-1d0f8e9a7b62"), 403, "role_not_allowed"),
        ("the system can", SYSTEM, 201, None),
    ],
)
async def test_who_registers_enterprises(api: As, who: str, caller: Any, status: int, code: str | None) -> None:
    r = await api(caller).post("/v1/enterprises", json=BASE)
    assert r.status_code == status, (who, r.text)
    if code:
        assert r.json()["error"]["code"] == code, who


async def test_enterprise_reads_only_its_own_and_districts_only_theirs(
    api: As, make_enterprise: MakeEnterprise
) -> None:
    """Scope (docs/ARCHITECTURE.md): another tenant's enterprise is 404, as if it did not exist."""
    mine = await make_enterprise(district="Việt Yên")
    other = await make_enterprise(district="Yên Dũng", zone_type="OUTSIDE", zone_name=None)
    cases = [
        (enterprise(mine["id"]), mine, 200),
        (enterprise(mine["id"]), other, 404),
        (district_authority("Việt Yên"), mine, 200),
        (district_authority("Việt Yên"), other, 404),
        (PROVINCE, other, 200),
        (worker("0b7e3f0e-9a52-4a53-8f3f-0d1c2b3a4f50"), mine, 404),
        (lab("0b7e3f0e-9a52-4a53-8f3f-0d1c2b3a4f51"), mine, 404),
    ]
    for caller, target, status in cases:
        r = await api(caller).get(f"/v1/enterprises/{target['id']}")
        assert r.status_code == status, (caller.role, caller.district, target["district"])
        if status == 404:
            assert r.json()["error"]["code"] == "enterprise_not_found"
    r = await api(PROVINCE).get("/v1/enterprises/6a3c3a5e-8d8e-4f6a-9d7c-0e1f2a3b4c5d")
    assert r.status_code == 404


async def test_lists_filter_and_page_by_tax_code(api: As, make_enterprise: MakeEnterprise) -> None:
    made = [
        await make_enterprise(tax_code=f"24001000{n:02d}", district=district, zone_type=zone, zone_name=name)
        for n, (district, zone, name) in enumerate(
            [
                ("Việt Yên", "KCN", "KCN Vân Trung"),
                ("Việt Yên", "KCN", "KCN Quang Châu"),
                ("Yên Dũng", "OUTSIDE", None),
                ("Việt Yên", "CCN", "CCN Già Khê"),
                ("Yên Dũng", "KCN", "KCN Song Khê - Nội Hoàng"),
            ]
        )
    ]
    seen: list[str] = []
    cursor = None
    pages = 0
    while True:
        params: dict[str, Any] = {"limit": 2}
        if cursor:
            params["cursor"] = cursor
        page = (await api(PROVINCE).get("/v1/enterprises", params=params)).json()
        seen += [e["tax_code"] for e in page["items"]]
        pages += 1
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert pages == 3
    assert seen == sorted(e["tax_code"] for e in made)

    kcn = (await api(PROVINCE).get("/v1/enterprises", params={"zone_type": "KCN"})).json()["items"]
    assert len(kcn) == 3
    district = (await api(district_authority("Yên Dũng")).get("/v1/enterprises")).json()["items"]
    assert {e["district"] for e in district} == {"Yên Dũng"} and len(district) == 2
    forced = await api(district_authority("Yên Dũng")).get("/v1/enterprises", params={"district": "Việt Yên"})
    assert (forced.status_code, forced.json()["error"]["code"]) == (404, "district_not_found"), (
        "a district filter cannot widen a district authority's scope"
    )
    own = (await api(enterprise(made[0]["id"])).get("/v1/enterprises")).json()["items"]
    assert [e["id"] for e in own] == [made[0]["id"]]
    r = await api(PROVINCE).get("/v1/enterprises", params={"cursor": "not-a-cursor"})
    assert r.status_code == 422 and r.json()["error"]["code"] == "invalid_cursor"


async def test_update_rules(api: As, make_enterprise: MakeEnterprise, sql: Sql) -> None:
    ent = await make_enterprise()
    taken = await make_enterprise()
    url = f"/v1/enterprises/{ent['id']}"
    r = await api(PROVINCE).patch(url, json={"headcount": 3350})
    assert r.status_code == 200 and r.json()["headcount"] == 3350
    r = await api(PROVINCE).patch(url, json={"zone_type": "OUTSIDE"})
    assert r.status_code == 200 and r.json()["zone_name"] is None, "moving outside drops the zone name"
    r = await api(PROVINCE).patch(url, json={"zone_type": "KCN"})
    assert r.status_code == 422 and r.json()["error"]["code"] == "zone_name_required"
    r = await api(PROVINCE).patch(url, json={"tax_code": taken["tax_code"]})
    assert r.status_code == 409 and r.json()["error"]["code"] == "tax_code_taken"
    r = await api(PROVINCE).patch(url, json={"name": None})
    assert r.status_code == 422 and r.json()["error"]["code"] == "null_not_allowed"
    r = await api(enterprise(ent["id"])).patch(url, json={"headcount": 1})
    assert r.status_code == 403, "an enterprise reads its record but does not edit it"
    r = await api(district_authority("Việt Yên")).patch(url, json={"district": "Yên Dũng"})
    assert r.status_code == 404 and r.json()["error"]["code"] == "district_not_found"
    actions = [r["action"] for r in await sql("SELECT action FROM audit_log WHERE entity_id = $1", ent["id"])]
    assert actions.count("enterprise.update") == 2


@pytest.mark.parametrize(
    ("rule", "body", "status", "code"),
    [
        (
            "suspension with reason and time (seeds/004: unsafe enterprises are stopped)",
            {"status": "suspended", "reason": "F0 case in line 3", "at": "2021-05-14T18:00:00+07:00"},
            200,
            None,
        ),
        ("a suspension needs a reason", {"status": "suspended"}, 422, "status_reason_required"),
        ("clearing may omit the reason", {"status": "cleared", "at": "2021-06-10T08:00:00+07:00"}, 200, None),
        (
            "no time in the future",
            {"status": "cleared", "at": "2999-01-01T00:00:00+07:00"},
            422,
            "status_time_in_future",
        ),
        ("a time needs its zone", {"status": "cleared", "at": "2021-06-10T08:00:00"}, 422, "timezone_aware"),
        ("only cleared or suspended", {"status": "closed", "reason": "x"}, 422, "literal_error"),
    ],
)
async def test_operating_status_rules(
    api: As, make_enterprise: MakeEnterprise, rule: str, body: dict[str, Any], status: int, code: str | None
) -> None:
    ent = await make_enterprise()
    r = await api(PROVINCE).post(f"/v1/enterprises/{ent['id']}/status", json=body)
    assert r.status_code == status, (rule, r.text)
    if code is not None:
        assert r.json()["error"]["details"][0]["code"] == code, rule
        return
    out = r.json()
    assert out["operating_status"] == body["status"]
    assert out["status_reason"] == body.get("reason")
    assert out["status_changed_at"] is not None


async def test_status_changes_are_the_authoritys_in_scope(api: As, make_enterprise: MakeEnterprise) -> None:
    ent = await make_enterprise(district="Việt Yên")
    url = f"/v1/enterprises/{ent['id']}/status"
    body = {"status": "suspended", "reason": "F0 case", "at": "2021-05-14T18:00:00+07:00"}
    assert (await api(enterprise(ent["id"])).post(url, json=body)).status_code == 403
    assert (await api(district_authority("Yên Dũng")).post(url, json=body)).status_code == 404
    r = await api(district_authority("Việt Yên")).post(url, json=body)
    assert r.status_code == 200
    changed_at = datetime.fromisoformat(r.json()["status_changed_at"])
    assert changed_at == datetime(2021, 5, 14, 18, 0, tzinfo=LOCAL_TZ)


MY_PATHS = (
    "/v1/enterprises",
    "/v1/enterprises/{enterprise_id}",
    "/v1/enterprises/{enterprise_id}/status",
    "/v1/enterprises/{enterprise_id}/roster",
    "/v1/persons",
    "/v1/persons/lookup",
    "/v1/persons/{person_id}",
    "/v1/accommodations",
    "/v1/accommodations/{accommodation_id}",
    "/v1/enterprises/{enterprise_id}/venues",
    "/v1/venues/{venue_id}",
    "/v1/labs",
    "/v1/labs/{lab_id}",
)


def test_openapi_documents_summary_response_model_and_request_examples(registry_app: FastAPI) -> None:
    spec = registry_app.openapi()
    for path in MY_PATHS:
        for method, op in spec["paths"][path].items():
            where = f"{method.upper()} {path}"
            assert op.get("summary"), where
            ok = op["responses"].get("200") or op["responses"].get("201")
            assert ok and "$ref" in str(ok["content"]["application/json"]["schema"]), where
            if "requestBody" in op:
                assert op["requestBody"]["content"]["application/json"].get("examples"), where
            assert "422" in op["responses"] and "404" in op["responses"], where
