"""seeds/000 §2.3 "xét nghiệm ngẫu nhiên đối với công nhân, người lao động, người làm thuê... đang ở
trọ và chủ quản lý các khu nhà trọ, ký túc xá công nhân": a district's random sample of its
boarding-house renters **and** owners/managers (people linked to the site, not a text field), drawn
reproducibly round by round at the ratio the district sets, through the public door."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from safework_scheduler.lodging import rules
from tests.gateway.conftest import Stack, bearer
from tests.gateway.world import ok
from tests.scheduler.factories import registry

VIET_YEN = "Việt Yên"


async def sites_with_people(db: str, renters: int) -> tuple[list[uuid.UUID], uuid.UUID, uuid.UUID]:
    """Two boarding houses in Việt Yên with ``renters`` active renters between them, one in Yên
    Dũng with one; an owner (a person of no enterprise) to link."""
    async with registry(db) as reg:
        eid = await reg.enterprise(district=VIET_YEN)
        houses = []
        for name in ("Nhà trọ Hoàng Mai", "Nhà trọ Hương Sen"):
            hid = uuid.uuid4()
            await reg.conn.execute(
                "INSERT INTO accommodation (id, name, address, district, kind)"
                " VALUES ($1, $2, 'Thôn 1', $3, 'boarding_house')",
                hid,
                name,
                VIET_YEN,
            )
            houses.append(hid)
        elsewhere = uuid.uuid4()
        await reg.conn.execute(
            "INSERT INTO accommodation (id, name, address, district, kind)"
            " VALUES ($1, 'KTX', 'Thôn 2', 'Yên Dũng', 'dormitory')",
            elsewhere,
        )
        people = []
        for i in range(renters):
            pid = await reg.person(eid)
            await reg.conn.execute("UPDATE person SET accommodation_id = $1 WHERE id = $2", houses[i % 2], pid)
            people.append(pid)
        gone = await reg.person(eid, status="left")
        await reg.conn.execute("UPDATE person SET accommodation_id = $1 WHERE id = $2", houses[0], gone)
        away = await reg.person(eid)
        await reg.conn.execute("UPDATE person SET accommodation_id = $1 WHERE id = $2", elsewhere, away)
        owner = await reg.person(None)
    return people, houses[0], owner


async def test_the_district_sample_draws_renters_and_owners_at_its_ratio(stack: Stack, db: str) -> None:
    renters, house, owner = await sites_with_people(db, 19)
    viet_yen = bearer(stack.token("authority", district=VIET_YEN))
    # The owner works for no enterprise: a district authority does not reach them (safework_common.scope),
    # the province authority links them.
    body = {"person_id": str(owner), "role": "owner"}
    r = await stack.http.post(f"/api/v1/accommodations/{house}/managers", json=body, headers=viet_yen)
    assert (r.status_code, r.json()["error"]["details"][0]["field"]) == (404, "body.person_id")
    linked = await stack.http.post(f"/api/v1/accommodations/{house}/managers", json=body, headers=stack.province())
    assert (await ok(linked, 201))["role"] == "owner"
    listed = await ok(await stack.http.get(f"/api/v1/accommodations/{house}/managers", headers=viet_yen))
    assert [m["person_id"] for m in listed["items"]] == [str(owner)]

    url = "/api/v1/districts/Việt Yên/boarding-house-sample"
    first = await ok(await stack.http.get(url, params={"date": "2021-09-20"}, headers=viet_yen))
    # 19 renters and the owner; the one who left and the one in Yên Dũng are not drawn from.
    assert (first["population"], first["sample_size"]) == (20, 2)  # the default 10% ("not in the source")
    assert first["district_ratio"]["default"] is True and first["round"]["starts_on"] == "2021-09-20"
    again = await ok(await stack.http.get(url, params={"date": "2021-09-22"}, headers=viet_yen))
    assert again["items"] == first["items"], "reproducible within the round"

    r = await stack.http.post(
        "/api/v1/districts/Việt Yên/ratios",
        json={"kind": "boarding_house", "ratio": 0.25, "effective_from": "2021-09-20"},
        headers=viet_yen,
    )
    await ok(r, 201)
    drawn: set[str] = set()
    roles: set[str] = set()
    for monday in ("2021-09-20", "2021-09-27", "2021-10-04", "2021-10-11"):
        body = await ok(await stack.http.get(url, params={"date": monday, "limit": 100}, headers=viet_yen))
        assert body["sample_size"] == 5 and body["district_ratio"]["ratio"] == 0.25
        names = {i["person_id"] for i in body["items"]}
        assert not names & drawn, "nobody twice before everyone once"
        drawn |= names
        roles |= {i["role"] for i in body["items"]}
    assert drawn == {str(p) for p in [*renters, owner]}
    assert roles == {"renter", "owner"}


async def test_the_sample_is_the_districts_own(stack: Stack, db: str) -> None:
    await sites_with_people(db, 3)
    yen_dung = bearer(stack.token("authority", district="Yên Dũng"))
    r = await stack.http.get("/api/v1/districts/Việt Yên/boarding-house-sample", headers=yen_dung)
    assert (r.status_code, r.json()["error"]["code"]) == (404, "district_not_found")
    r = await stack.http.get(
        "/api/v1/districts/Việt Yên/boarding-house-sample", params={"date": "2021-08-01"}, headers=stack.province()
    )
    assert (r.status_code, r.json()["error"]["code"]) == (404, "no_boarding_house_sample")  # before 11 Sep 2021
    # as_of alone (issue 15): its date is the day, and the rules in force then answer.
    r = await stack.http.get(
        "/api/v1/districts/Việt Yên/boarding-house-sample",
        params={"as_of": "2021-09-10T23:00:00+07:00"},
        headers=stack.province(),
    )
    assert (r.status_code, r.json()["error"]["code"]) == (404, "no_boarding_house_sample")  # seeds/000 comes 11 Sep
    r = await stack.http.get(
        "/api/v1/districts/Việt Yên/boarding-house-sample",
        params={"as_of": "2021-09-20T09:00:00+07:00"},
        headers=stack.province(),
    )
    assert r.status_code == 200 and r.json()["date"] == "2021-09-20"
    enterprise = bearer(stack.token("enterprise", enterprise_id=str(uuid.uuid4())))
    r = await stack.http.get("/api/v1/districts/Việt Yên/boarding-house-sample", headers=enterprise)
    assert r.status_code == 403


@pytest.mark.parametrize(
    ("rule", "n", "ratio", "size"),
    [
        ("10% of 20", 20, 0.1, 2),
        ("at least the ratio: 10% of 21 is 3", 21, 0.1, 3),
        ("a whole district", 5, 1.0, 5),
        ("nobody to draw", 0, 0.5, 0),
    ],
)
def test_sample_sizes(rule: str, n: int, ratio: float, size: int) -> None:
    people: list[Any] = [uuid.UUID(int=i + 1) for i in range(n)]
    assert len(rules.draw(VIET_YEN, people, ratio, 37)) == size == rules.sample_size(n, ratio), rule
