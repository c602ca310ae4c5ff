"""Quarantine rooms (seeds/002 §4: "không để người có nguy cơ cao ở chung phòng với người có nguy cơ
thấp"), suspension facts, and the public list of safe enterprises (seeds/002 §2: "công bố sơ đồ
các doanh nghiệp đảm bảo an toàn") with nothing personal."""

from __future__ import annotations

import uuid
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from safework_common.internal_auth import Caller, InternalTokenMinter
from safework_registry.outbreak.rules import HIGH, LOW, Risk, Room, refusal, suggest
from tests import callers
from tests.callers import PROVINCE, As
from tests.registry.factories import OTHER_DISTRICT, Seed, cipher_for
from tests.registry.test_outbreak import TRACED, case_body, positive

R1, R2, R3 = (uuid.UUID(int=i) for i in (1, 2, 3))
P = [uuid.UUID(int=100 + i) for i in range(6)]


@pytest.fixture
def seed(db: str, keys_dir: Path) -> Seed:
    return Seed(db, cipher_for(keys_dir))


@pytest.fixture
def api(registry: httpx.AsyncClient, minter: InternalTokenMinter) -> As:
    return As(registry, minter)


@pytest.mark.parametrize(
    ("rule", "room", "risk", "code"),
    [
        ("seeds/002 §4: an empty room takes anyone", Room(R1, 2), HIGH, None),
        ("seeds/002 §4: high-risk beside high-risk", Room(R1, 2, (HIGH,)), HIGH, None),
        ("seeds/002 §4: never low-risk beside high-risk", Room(R1, 2, (HIGH,)), LOW, "room_risk_mix"),
        ("seeds/002 §4: never high-risk beside low-risk", Room(R1, 2, (LOW,)), HIGH, "room_risk_mix"),
        ("a full room takes no one", Room(R1, 1, (LOW,)), LOW, "room_full"),
    ],
)
def test_room_rules(rule: str, room: Room, risk: Any, code: str | None) -> None:
    assert refusal(room, risk) == code, rule


def test_a_suggestion_never_mixes_and_fills_rooms() -> None:
    """seeds/002 §4: classes apart; rooms holding a class are filled before empty ones are opened."""
    rooms = [Room(R1, 3, (HIGH,)), Room(R2, 2), Room(R3, 4, (LOW,))]
    people: list[tuple[uuid.UUID, Risk]] = [
        (P[0], HIGH),
        (P[1], LOW),
        (P[2], HIGH),
        (P[3], HIGH),
        (P[4], LOW),
        (P[5], HIGH),
    ]
    plan = {p.person_id: p for p in suggest(rooms, people)}
    holds = {R1: {HIGH}, R3: {LOW}, R2: set()}
    for p in plan.values():
        if p.room_id is not None:
            holds[p.room_id].add(p.risk)
    assert all(len(classes) <= 1 for classes in holds.values())
    assert [plan[pid].room_id for pid in (P[0], P[2])] == [R1, R1]  # R1 filled first
    assert {plan[P[3]].room_id, plan[P[5]].room_id} == {R2}  # then an empty room
    assert {plan[P[1]].room_id, plan[P[4]].room_id} == {R3}  # the low-risk room, not an empty one
    one = suggest([Room(R1, 1)], [(P[0], HIGH), (P[1], LOW)])
    assert [(p.room_id) for p in one] == [R1, None]  # nowhere that would not mix


async def test_assignments_refuse_a_room_that_would_mix(api: As, seed: Seed) -> None:
    eid = await seed.enterprise()
    f0, f1, clean, other_clean = [await seed.person(eid) for _ in range(4)]
    await positive(seed, f0)
    case = (await api(PROVINCE).post("/v1/cases", json=case_body(f0))).json()
    await api(PROVINCE).post(
        f"/v1/cases/{case['id']}/contacts", json={"person_ids": [str(f1)], "at": TRACED.isoformat()}
    )
    body = {"name": "KTX", "address": "Bích Sơn", "district": "Việt Yên",
            "rooms": [{"code": "A1", "capacity": 2}, {"code": "A2", "capacity": 2}]}  # fmt: skip
    facility = (await api(PROVINCE).post("/v1/isolation/facilities", json=body)).json()
    a1, a2 = (r["id"] for r in facility["rooms"])
    url = f"/v1/isolation/facilities/{facility['id']}/assignments"
    at = (TRACED + timedelta(hours=1)).isoformat()
    r = await api(PROVINCE).post(url, json={"room_id": a1, "person_id": str(f0), "at": at})
    assert (r.status_code, r.json()["risk"]) == (201, "high"), r.text
    assert (await api(PROVINCE).post(url, json={"room_id": a1, "person_id": str(f0), "at": at})).status_code == 200
    r = await api(PROVINCE).post(url, json={"room_id": a1, "person_id": str(clean), "at": at})
    assert (r.status_code, r.json()["error"]["code"], r.json()["error"]["details"][0]["field"]) == (
        409, "room_risk_mix", "body.room_id")  # fmt: skip
    r = await api(PROVINCE).post(url, json={"room_id": a1, "person_id": str(f1), "at": at})
    assert (r.status_code, r.json()["risk"]) == (201, "high")
    r = await api(PROVINCE).post(url, json={"room_id": a2, "person_id": str(f1), "at": at})
    assert (r.status_code, r.json()["error"]["code"]) == (409, "person_already_assigned")
    assert (await api(PROVINCE).post(url, json={"room_id": a2, "person_id": str(clean), "at": at})).status_code == 201
    r = await api(PROVINCE).post(url, json={"room_id": a2, "person_id": str(other_clean), "at": at})
    assert r.status_code == 201
    view = (await api(PROVINCE).get(f"/v1/isolation/facilities/{facility['id']}")).json()
    assert [(x["code"], x["occupied"], x["risk"]) for x in view["rooms"]] == [("A1", 2, "high"), ("A2", 2, "low")]
    r = await api(PROVINCE).post(url, json={"room_id": a2, "person_id": str(await seed.person(eid)), "at": at})
    assert (r.status_code, r.json()["error"]["code"]) == (409, "room_full")
    assert (await api(PROVINCE).delete(f"{url}/{clean}")).status_code == 204
    sug = (
        await api(PROVINCE).post(
            f"/v1/isolation/facilities/{facility['id']}/suggest", json={"person_ids": [str(clean)]}
        )
    ).json()
    assert sug["placements"][0]["room_code"] == "A2" and sug["unplaced"] == 0
    other = callers.district_authority(OTHER_DISTRICT)
    r = await api(other).get(f"/v1/isolation/facilities/{facility['id']}")
    assert (r.status_code, r.json()["error"]["code"]) == (404, "facility_not_found")
    r = await api(callers.enterprise(eid)).get("/v1/isolation/facilities")
    assert (r.status_code, r.json()["error"]["code"]) == (403, "role_not_allowed")


PUBLIC = Caller(subject="public", role="public")


async def test_suspension_follows_into_the_public_list_and_the_outbox(
    api: As, make_enterprise: Any, seed: Seed
) -> None:
    shown = await make_enterprise(latitude=21.2731, longitude=106.1946, name="Công ty An Toàn")
    stopped = await make_enterprise(latitude=21.3, longitude=106.2)
    unplaced = await make_enterprise()
    await seed.person(uuid.UUID(shown["id"]))
    r = await api(PROVINCE).post(
        f"/v1/enterprises/{stopped['id']}/status", json={"status": "suspended", "reason": "F0 in the canteen"}
    )
    assert r.status_code == 200, r.text
    listed = (await api(PUBLIC).get("/v1/public/safe-enterprises", params={"district": "Việt Yên"})).json()
    ids = {e["id"] for e in listed["items"]}
    assert shown["id"] in ids and unplaced["id"] in ids and stopped["id"] not in ids
    for e in listed["items"]:
        assert set(e) == {"id", "name", "district", "zone_type", "zone_name", "latitude", "longitude", "cleared_since"}
    geo = (await api(PUBLIC).get("/v1/public/safe-enterprises.geojson")).json()
    assert geo["type"] == "FeatureCollection"
    features = {f["id"]: f for f in geo["features"]}
    assert set(features) >= {shown["id"]} and unplaced["id"] not in features and stopped["id"] not in features
    assert features[shown["id"]]["geometry"] == {"type": "Point", "coordinates": [106.1946, 21.2731]}
    assert "Nguyễn" not in str(geo) and "Nguyễn" not in str(listed)
    events = await seed.fetch("SELECT kind, entity_id FROM outbox_event WHERE entity = 'enterprise'")
    assert [(e["kind"], e["entity_id"]) for e in events] == [("enterprise.suspended", stopped["id"])]
    r = await api(PROVINCE).post("/v1/enterprises", json={"tax_code": "2409999999", "name": "X", "district": "Việt Yên",
                                                          "zone_type": "OUTSIDE", "latitude": 21.0})  # fmt: skip
    assert (r.status_code, r.json()["error"]["code"], r.json()["error"]["details"][0]["field"]) == (
        422, "coordinates_incomplete", "body.longitude")  # fmt: skip
    r = await api(PROVINCE).patch(f"/v1/enterprises/{unplaced['id']}", json={"latitude": 21.0})
    assert (r.status_code, r.json()["error"]["code"]) == (422, "coordinates_incomplete")
