"""Health declarations (seeds/000 §2.2 (4)) and travels (seeds/000 §2.3), posted by the worker."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from safework_common.geo import canonical_province
from safework_common.internal_auth import InternalTokenMinter
from tests import callers
from tests.callers import As
from tests.registry.factories import OTHER_DISTRICT, Seed, cipher_for


@pytest.fixture
def seed(db: str, keys_dir: Path) -> Seed:
    return Seed(db, cipher_for(keys_dir))


def soon(minutes: int) -> str:
    return (datetime.now(UTC) + timedelta(minutes=minutes)).isoformat()


@pytest.mark.parametrize(
    ("rule", "body", "status", "code", "field"),
    [
        (
            "symptoms are a set from the list, stored in a stable order",
            {"declared_at": "2021-09-21T08:00:00+07:00", "symptoms": ["fever", "cough", "fever"]},
            201,
            None,
            None,
        ),
        ("no symptoms is a declaration too", {"declared_at": "2021-09-21T08:00:00+07:00"}, 201, None, None),
        ("a phone clock a little ahead is tolerated (5 min skew)", {"declared_at": soon(2)}, 201, None, None),
        (
            "a declaration in the future is refused",
            {"declared_at": soon(60)},
            422,
            "declared_in_future",
            "body.declared_at",
        ),
        (
            "an unknown symptom is refused",
            {"declared_at": "2021-09-21T08:00:00+07:00", "symptoms": ["headache"]},
            422,
            "validation_error",
            "body.symptoms[0]",
        ),
        (
            "a time without a time zone is refused",
            {"declared_at": "2021-09-21T08:00:00"},
            422,
            "validation_error",
            "body.declared_at",
        ),
    ],
)
async def test_declaration_rules(
    registry: httpx.AsyncClient,
    minter: InternalTokenMinter,
    seed: Seed,
    rule: str,
    body: dict[str, Any],
    status: int,
    code: str | None,
    field: str | None,
) -> None:
    ent = await seed.enterprise()
    pid = await seed.person(ent)

    r = await As(registry, minter)(callers.worker(pid, ent)).post(f"/v1/persons/{pid}/declarations", json=body)

    assert r.status_code == status, (rule, r.text)
    if code:
        error = r.json()["error"]
        assert (error["code"], error["details"][0]["field"]) == (code, field), rule
        assert await seed.count("health_declaration") == 0, rule
    else:
        out = r.json()
        assert out["symptoms"] == sorted(set(body.get("symptoms", []))), rule
        assert out["contact_with_confirmed_case"] is False, rule


@pytest.mark.parametrize(
    ("rule", "who", "status", "code"),
    [
        ("a worker declares for themself", "self", 201, None),
        ("a worker cannot declare for another worker", "other_worker", 404, "person_not_found"),
        ("the enterprise does not declare for its workers", "enterprise", 403, "role_not_allowed"),
        ("the authority does not declare for people", "authority", 403, "role_not_allowed"),
    ],
)
async def test_only_the_worker_declares_for_themself(
    registry: httpx.AsyncClient,
    minter: InternalTokenMinter,
    seed: Seed,
    rule: str,
    who: str,
    status: int,
    code: str | None,
) -> None:
    ent = await seed.enterprise()
    pid, other = await seed.person(ent), await seed.person(ent)
    caller = {
        "self": callers.worker(pid, ent),
        "other_worker": callers.worker(other, ent),
        "enterprise": callers.enterprise(ent),
        "authority": callers.PROVINCE,
    }[who]
    r = await As(registry, minter)(caller).post(
        f"/v1/persons/{pid}/declarations", json={"declared_at": "2021-09-21T08:00:00+07:00"}
    )
    assert r.status_code == status, rule
    if code:
        assert r.json()["error"]["code"] == code, rule


async def test_declarations_are_read_in_scope_newest_first(
    registry: httpx.AsyncClient, minter: InternalTokenMinter, seed: Seed
) -> None:
    ent = await seed.enterprise()
    far = await seed.enterprise(district=OTHER_DISTRICT)
    pid = await seed.person(ent)
    as_ = As(registry, minter)
    for day in (20, 22, 21):
        await as_(callers.worker(pid, ent)).post(
            f"/v1/persons/{pid}/declarations",
            json={"declared_at": f"2021-09-{day}T08:00:00+07:00", "contact_with_confirmed_case": day == 22},
        )

    page1 = (await as_(callers.enterprise(ent)).get(f"/v1/persons/{pid}/declarations", params={"limit": 2})).json()
    page2 = (
        await as_(callers.enterprise(ent)).get(
            f"/v1/persons/{pid}/declarations", params={"limit": 2, "cursor": page1["next_cursor"]}
        )
    ).json()

    days = [d["declared_at"][:10] for d in page1["items"] + page2["items"]]
    assert days == ["2021-09-22", "2021-09-21", "2021-09-20"]
    assert page2["next_cursor"] is None
    assert (await as_(callers.district_authority("Việt Yên")).get(f"/v1/persons/{pid}/declarations")).status_code == 200
    for stranger in (callers.enterprise(far), callers.district_authority(OTHER_DISTRICT), callers.worker(uuid.uuid4())):
        assert (await as_(stranger).get(f"/v1/persons/{pid}/declarations")).status_code == 404


@pytest.mark.parametrize(
    ("rule", "body", "status", "code", "field"),
    [
        (
            "a trip returned to a boarding house",
            {
                "left_at": "2021-09-10T06:00:00+07:00",
                "destination_province": "Hà Nội",
                "returned_at": "2021-09-12T19:00:00+07:00",
                "returned_to_boarding_house": True,
            },
            201,
            None,
            None,
        ),
        (
            "an open trip (not yet returned)",
            {"left_at": "2021-09-10T06:00:00+07:00", "destination_province": "Bắc Ninh"},
            201,
            None,
            None,
        ),
        (
            "seeds/000 §2.3 'ở quê xuống': a trip to a home town inside the province, back to a boarding house",
            {
                "left_at": "2021-09-10T06:00:00+07:00",
                "destination_province": "Tỉnh Bắc Giang",
                "returned_at": "2021-09-12T19:00:00+07:00",
                "returned_to_boarding_house": True,
                "to_home_town": True,
            },
            201,
            None,
            None,
        ),
        (
            "a destination that is no province of 2021",
            {"left_at": "2021-09-10T06:00:00+07:00", "destination_province": "Atlantis"},
            422,
            "unknown_province",
            "body.destination_province",
        ),
        (
            "returned before leaving",
            {
                "left_at": "2021-09-10T06:00:00+07:00",
                "destination_province": "Hà Nội",
                "returned_at": "2021-09-09T19:00:00+07:00",
            },
            422,
            "returned_before_left",
            "body.returned_at",
        ),
        (
            "left in the future",
            {"left_at": soon(60 * 24), "destination_province": "Hà Nội"},
            422,
            "left_in_future",
            "body.left_at",
        ),
        (
            "returned in the future",
            {"left_at": "2021-09-10T06:00:00+07:00", "destination_province": "Hà Nội", "returned_at": soon(90)},
            422,
            "returned_in_future",
            "body.returned_at",
        ),
    ],
)
async def test_travel_rules(
    registry: httpx.AsyncClient,
    minter: InternalTokenMinter,
    seed: Seed,
    rule: str,
    body: dict[str, Any],
    status: int,
    code: str | None,
    field: str | None,
) -> None:
    ent = await seed.enterprise()
    pid = await seed.person(ent)
    r = await As(registry, minter)(callers.worker(pid, ent)).post(f"/v1/persons/{pid}/travels", json=body)
    assert r.status_code == status, (rule, r.text)
    if code:
        error = r.json()["error"]
        # A service rule's own code, or a validation error whose detail names the rule.
        assert code in (error["code"], error["details"][0]["code"]), rule
        assert error["details"][0]["field"] == field, rule
        assert await seed.count("travel") == 0, rule
    else:
        out = r.json()
        assert out["returned_to_boarding_house"] is body.get("returned_to_boarding_house", False), rule
        assert out["to_home_town"] is body.get("to_home_town", False), rule
        # Stored by its canonical name: "Tỉnh Bắc Giang" is Bắc Giang (safework_common.geo).
        assert out["destination_province"] == canonical_province(body["destination_province"]), rule


async def test_the_open_trip_is_closed_by_patch_and_then_stays_closed(
    registry: httpx.AsyncClient, minter: InternalTokenMinter, seed: Seed
) -> None:
    ent = await seed.enterprise()
    pid = await seed.person(ent)
    worker = As(registry, minter)(callers.worker(pid, ent))
    trip = (
        await worker.post(
            f"/v1/persons/{pid}/travels",
            json={"left_at": "2021-09-10T06:00:00+07:00", "destination_province": "Hà Nội"},
        )
    ).json()
    second = await worker.post(
        f"/v1/persons/{pid}/travels", json={"left_at": "2021-09-11T06:00:00+07:00", "destination_province": "Lạng Sơn"}
    )
    assert (second.status_code, second.json()["error"]["code"]) == (409, "travel_open_exists")
    open_trips = (await worker.get(f"/v1/persons/{pid}/travels", params={"open": "true"})).json()
    assert [t["id"] for t in open_trips["items"]] == [trip["id"]]

    early = await worker.patch(
        f"/v1/persons/{pid}/travels/{trip['id']}", json={"returned_at": "2021-09-09T20:00:00+07:00"}
    )
    assert (early.status_code, early.json()["error"]["code"]) == (422, "returned_before_left")
    closed = await worker.patch(
        f"/v1/persons/{pid}/travels/{trip['id']}",
        json={"returned_at": "2021-09-12T20:00:00+07:00", "returned_to_boarding_house": True},
    )
    assert closed.status_code == 200
    assert (closed.json()["returned_at"][:10], closed.json()["returned_to_boarding_house"]) == ("2021-09-12", True)
    again = await worker.patch(f"/v1/persons/{pid}/travels/{trip['id']}", json={"returned_to_boarding_house": False})
    assert (again.status_code, again.json()["error"]["code"]) == (409, "travel_closed")
    assert (await worker.get(f"/v1/persons/{pid}/travels", params={"open": "true"})).json()["items"] == []

    other = await seed.person(ent)
    foreign = await As(registry, minter)(callers.worker(other, ent)).patch(
        f"/v1/persons/{other}/travels/{trip['id']}", json={"returned_to_boarding_house": True}
    )
    assert (foreign.status_code, foreign.json()["error"]["code"]) == (404, "travel_not_found")
