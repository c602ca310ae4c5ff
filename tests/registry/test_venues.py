"""QR check-in venues (seeds/004: QR-code check-in at premises): unique QR values, generated
when not given; per-enterprise lists; scope."""

from __future__ import annotations

from typing import Any

import pytest

from tests.callers import PROVINCE, As, district_authority, enterprise, worker
from tests.registry.conftest import MakeEnterprise, Sql


async def test_a_venue_gets_a_generated_unguessable_qr_code(api: As, make_enterprise: MakeEnterprise, sql: Sql) -> None:
    ent = await make_enterprise()
    r = await api(enterprise(ent["id"])).post(
        f"/v1/enterprises/{ent['id']}/venues", json={"name": "Cổng số 1", "kind": "gate"}
    )
    assert r.status_code == 201, r.text
    venue = r.json()
    assert venue["qr_code"].startswith("SW-") and len(venue["qr_code"]) >= 20
    assert venue["enterprise_id"] == ent["id"] and venue["active"] is True
    other = (
        await api(PROVINCE).post(f"/v1/enterprises/{ent['id']}/venues", json={"name": "Cổng 2", "kind": "gate"})
    ).json()
    assert other["qr_code"] != venue["qr_code"]
    assert [a["action"] for a in await sql("SELECT action FROM audit_log WHERE entity = 'venue'")] == [
        "venue.create"
    ] * 2


@pytest.mark.parametrize(
    ("rule", "body", "status", "code"),
    [
        ("kinds: gate", {"kind": "gate"}, 201, None),
        ("kinds: production unit", {"kind": "production_unit"}, 201, None),
        ("kinds: canteen", {"kind": "canteen"}, 201, None),
        ("kinds: shuttle bus", {"kind": "shuttle_bus", "qr_code": "SW-BUS-LN-01"}, 201, None),
        ("no other kinds", {"kind": "dormitory"}, 422, "literal_error"),
        ("a QR value is plain characters", {"kind": "gate", "qr_code": "SW 01/../x"}, 422, "string_pattern_mismatch"),
        ("a QR value has at least 4 characters", {"kind": "gate", "qr_code": "SW"}, 422, "string_too_short"),
    ],
)
async def test_venue_rules(
    api: As, make_enterprise: MakeEnterprise, rule: str, body: dict[str, Any], status: int, code: str | None
) -> None:
    ent = await make_enterprise()
    r = await api(PROVINCE).post(f"/v1/enterprises/{ent['id']}/venues", json={"name": "Điểm quét", **body})
    assert r.status_code == status, (rule, r.text)
    if code:
        assert r.json()["error"]["details"][0]["code"] == code, rule


async def test_a_qr_code_is_unique_across_enterprises(api: As, make_enterprise: MakeEnterprise) -> None:
    a = await make_enterprise()
    b = await make_enterprise()
    body = {"name": "Canteen", "kind": "canteen", "qr_code": "SW-CANTEEN-01"}
    assert (await api(PROVINCE).post(f"/v1/enterprises/{a['id']}/venues", json=body)).status_code == 201
    r = await api(PROVINCE).post(f"/v1/enterprises/{b['id']}/venues", json=body)
    assert r.status_code == 409 and r.json()["error"]["code"] == "qr_code_taken"
    second = (
        await api(PROVINCE).post(f"/v1/enterprises/{b['id']}/venues", json={"name": "Gate", "kind": "gate"})
    ).json()
    r = await api(PROVINCE).patch(f"/v1/venues/{second['id']}", json={"qr_code": "SW-CANTEEN-01"})
    assert r.status_code == 409 and r.json()["error"]["code"] == "qr_code_taken"


async def test_venue_scope_and_updates(api: As, make_enterprise: MakeEnterprise) -> None:
    mine = await make_enterprise(district="Việt Yên")
    other = await make_enterprise(district="Yên Dũng")
    venue = (
        await api(enterprise(mine["id"])).post(
            f"/v1/enterprises/{mine['id']}/venues", json={"name": "Gate", "kind": "gate"}
        )
    ).json()
    cases = [
        (enterprise(other["id"]), 404),
        (district_authority("Yên Dũng"), 404),
        (district_authority("Việt Yên"), 200),
        (worker("2f3e4d5c-6b7a-4890-9a1b-2c3d4e5f6a7b"), 403),
        (enterprise(mine["id"]), 200),
    ]
    for caller, status in cases:
        assert (await api(caller).get(f"/v1/venues/{venue['id']}")).status_code == status, caller
        listed = await api(caller).get(f"/v1/enterprises/{mine['id']}/venues")
        assert listed.status_code == status, caller
    r = await api(enterprise(other["id"])).post(
        f"/v1/enterprises/{mine['id']}/venues", json={"name": "x", "kind": "gate"}
    )
    assert r.status_code == 404
    r = await api(enterprise(mine["id"])).patch(f"/v1/venues/{venue['id']}", json={"active": False, "name": "Cổng cũ"})
    assert r.status_code == 200 and r.json()["active"] is False and r.json()["name"] == "Cổng cũ"
    r = await api(enterprise(mine["id"])).patch(f"/v1/venues/{venue['id']}", json={"kind": None})
    assert r.status_code == 422 and r.json()["error"]["code"] == "null_not_allowed"


async def test_venues_list_filters_and_pages(api: As, make_enterprise: MakeEnterprise) -> None:
    ent = await make_enterprise()
    url = f"/v1/enterprises/{ent['id']}/venues"
    for name, kind in (("Gate 2", "gate"), ("Canteen", "canteen"), ("Gate 1", "gate"), ("Line 3", "production_unit")):
        await api(PROVINCE).post(url, json={"name": name, "kind": kind})
    gates = (await api(PROVINCE).get(url, params={"kind": "gate"})).json()["items"]
    assert [v["name"] for v in gates] == ["Gate 1", "Gate 2"]
    first = (await api(PROVINCE).get(url, params={"limit": 3})).json()
    second = (await api(PROVINCE).get(url, params={"limit": 3, "cursor": first["next_cursor"]})).json()
    assert [v["name"] for v in first["items"] + second["items"]] == ["Canteen", "Gate 1", "Gate 2", "Line 3"]
    assert second["next_cursor"] is None
