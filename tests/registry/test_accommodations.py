"""Boarding houses and dormitories: a concentrated lodging site houses the workers of one
enterprise only (seeds/003: "một nơi ở tập trung chỉ bố trí cho lao động của một doanh nghiệp"),
enforced on every assignment under a row lock; a private boarding house may house several
enterprises' workers; who sees and edits which site."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from tests.callers import PROVINCE, As, district_authority, enterprise, worker
from tests.registry.conftest import MakeEnterprise, Sql, person_body

SITE: dict[str, Any] = {
    "name": "Nhà trọ Hoàng Mai",
    "address": "Thôn Nam Ngạn, xã Quang Châu",
    "owner_name": "Hoàng Văn Mai",
    "district": "Việt Yên",
}


async def new_site(api: As, caller: Any, **overrides: Any) -> dict[str, Any]:
    r = await api(caller).post("/v1/accommodations", json={**SITE, **overrides})
    assert r.status_code == 201, r.text
    body: dict[str, Any] = r.json()
    return body


async def test_an_enterprise_site_is_its_own_and_an_authority_site_starts_unclaimed(
    api: As, make_enterprise: MakeEnterprise
) -> None:
    ent = await make_enterprise()
    own = await new_site(api, enterprise(ent["id"]), kind="dormitory")
    assert own["enterprise_id"] == ent["id"] and own["kind"] == "dormitory"
    free = await new_site(api, PROVINCE)
    assert free["enterprise_id"] is None and free["kind"] == "boarding_house"
    r = await api(PROVINCE).post("/v1/accommodations", json={**SITE, "kind": "hotel"})
    assert r.status_code == 422
    # Another district is not found, as everywhere (safework_common.scope; it was 403 out_of_district).
    r = await api(district_authority("Yên Dũng")).post("/v1/accommodations", json=SITE)
    assert r.status_code == 404 and r.json()["error"]["code"] == "district_not_found"


@pytest.mark.parametrize(
    ("rule", "owner", "worker_of", "status", "code"),
    [
        ("seeds/003: an unclaimed concentrated site is claimed by the first worker's enterprise", None, "a", 201, None),
        ("seeds/003: a concentrated site houses more workers of its enterprise", "a", "a", 201, None),
        (
            "seeds/003: a concentrated site never houses workers of two enterprises",
            "a",
            "b",
            409,
            "accommodation_other_enterprise",
        ),
    ],
)
async def test_one_site_one_enterprise(
    api: As,
    make_enterprise: MakeEnterprise,
    sql: Sql,
    rule: str,
    owner: str | None,
    worker_of: str,
    status: int,
    code: str | None,
) -> None:
    ents = {"a": await make_enterprise(), "b": await make_enterprise()}
    site = await new_site(api, PROVINCE, concentrated=True, enterprise_id=ents[owner]["id"] if owner else None)
    r = await api(enterprise(ents[worker_of]["id"])).post(
        "/v1/persons", json=person_body("E1", accommodation_id=site["id"])
    )
    assert r.status_code == status, (rule, r.text)
    (row,) = await sql("SELECT enterprise_id FROM accommodation")
    if code:
        assert r.json()["error"]["code"] == code
        assert r.json()["error"]["details"][0]["field"] == "body.accommodation_id"
        assert str(row["enterprise_id"]) == ents[owner or "a"]["id"]
    else:
        assert str(row["enterprise_id"]) == ents[worker_of]["id"], rule


async def test_a_private_boarding_house_houses_workers_of_several_enterprises(
    api: As, make_enterprise: MakeEnterprise, sql: Sql
) -> None:
    """seeds/003's rule is for the concentrated sites the province introduces, not every private
    boarding house (nhà trọ), where workers of several enterprises may rent."""
    a = await make_enterprise()
    b = await make_enterprise()
    house = await new_site(api, enterprise(a["id"]))
    for n, ent in enumerate((a, b)):
        r = await api(enterprise(ent["id"])).post(
            "/v1/persons", json=person_body(f"P{n}", accommodation_id=house["id"])
        )
        assert r.status_code == 201, r.text
    rows = await sql("SELECT DISTINCT enterprise_id FROM person WHERE accommodation_id = $1", house["id"])
    assert len(rows) == 2
    # Only the authority marks a site concentrated; it refuses while two enterprises live there.
    r = await api(enterprise(a["id"])).patch(f"/v1/accommodations/{house['id']}", json={"concentrated": True})
    assert r.status_code == 403 and r.json()["error"]["details"][0]["field"] == "body.concentrated"
    r = await api(enterprise(a["id"])).post("/v1/accommodations", json={**SITE, "concentrated": True})
    assert r.status_code == 403
    r = await api(PROVINCE).patch(f"/v1/accommodations/{house['id']}", json={"concentrated": True})
    assert r.status_code == 409 and r.json()["error"]["code"] == "accommodation_other_enterprise"
    # A house of one enterprise's workers, once marked, is claimed by it.
    other = await new_site(api, PROVINCE, name="Nhà trọ Hương Sen")
    await api(enterprise(b["id"])).post("/v1/persons", json=person_body("Q1", accommodation_id=other["id"]))
    r = await api(PROVINCE).patch(f"/v1/accommodations/{other['id']}", json={"concentrated": True})
    assert r.status_code == 200 and (r.json()["concentrated"], r.json()["enterprise_id"]) == (True, b["id"])


async def test_a_move_between_sites_is_checked_too(api: As, make_enterprise: MakeEnterprise) -> None:
    a = await make_enterprise()
    b = await make_enterprise()
    mine = await new_site(api, PROVINCE, concentrated=True, enterprise_id=a["id"])
    theirs = await new_site(api, PROVINCE, concentrated=True, enterprise_id=b["id"])
    p = (await api(enterprise(a["id"])).post("/v1/persons", json=person_body("E1", accommodation_id=mine["id"]))).json()
    r = await api(enterprise(a["id"])).patch(f"/v1/persons/{p['id']}", json={"accommodation_id": theirs["id"]})
    assert r.status_code == 409 and r.json()["error"]["code"] == "accommodation_other_enterprise"
    r = await api(enterprise(a["id"])).patch(f"/v1/persons/{p['id']}", json={"accommodation_id": None})
    assert r.status_code == 200 and r.json()["accommodation_id"] is None


async def test_two_enterprises_racing_for_one_free_site_cannot_both_win(
    api: As, make_enterprise: MakeEnterprise, sql: Sql
) -> None:
    """The site row is locked while it is checked and claimed."""
    a = await make_enterprise()
    b = await make_enterprise()
    free = await new_site(api, PROVINCE, concentrated=True)
    responses = await asyncio.gather(
        *(
            api(enterprise(e["id"])).post("/v1/persons", json=person_body(f"R{n}", accommodation_id=free["id"]))
            for n, e in enumerate((a, b, a, b))
        )
    )
    statuses = sorted(r.status_code for r in responses)
    assert statuses == [201, 201, 409, 409]
    rows = await sql("SELECT DISTINCT enterprise_id FROM person WHERE accommodation_id = $1", free["id"])
    assert len(rows) == 1


async def test_who_sees_and_edits_which_site(api: As, make_enterprise: MakeEnterprise) -> None:
    a = await make_enterprise(district="Việt Yên")
    b = await make_enterprise(district="Yên Dũng")
    a_site = await new_site(api, enterprise(a["id"]), name="A")
    b_site = await new_site(api, enterprise(b["id"]), name="B", district="Yên Dũng")
    free = await new_site(api, PROVINCE, name="C")
    listed = (await api(enterprise(a["id"])).get("/v1/accommodations")).json()["items"]
    assert [s["name"] for s in listed] == ["A", "C"], "its own and unclaimed sites"
    district = (await api(district_authority("Yên Dũng")).get("/v1/accommodations")).json()["items"]
    assert [s["name"] for s in district] == ["B"]
    unclaimed = (await api(PROVINCE).get("/v1/accommodations", params={"unclaimed": True})).json()["items"]
    assert [s["name"] for s in unclaimed] == ["C"]
    assert (await api(enterprise(a["id"])).get(f"/v1/accommodations/{b_site['id']}")).status_code == 404
    assert (
        await api(worker("1e2d3c4b-5a69-4788-9a6b-5c4d3e2f1a0b")).get(f"/v1/accommodations/{a_site['id']}")
    ).status_code == 403
    r = await api(enterprise(a["id"])).patch(f"/v1/accommodations/{a_site['id']}", json={"owner_name": "Hoàng Thị Lan"})
    assert r.status_code == 200 and r.json()["owner_name"] == "Hoàng Thị Lan"
    r = await api(enterprise(a["id"])).patch(f"/v1/accommodations/{free['id']}", json={"name": "Mine now"})
    assert r.status_code == 403 and r.json()["error"]["code"] == "accommodation_not_claimed"
    r = await api(enterprise(a["id"])).patch(f"/v1/accommodations/{a_site['id']}", json={"enterprise_id": b["id"]})
    assert r.status_code == 403
    r = await api(PROVINCE).patch(f"/v1/accommodations/{a_site['id']}", json={"name": None})
    assert r.status_code == 422 and r.json()["error"]["code"] == "null_not_allowed"


async def test_the_authority_reassigns_a_site_only_when_no_other_enterprises_workers_live_there(
    api: As, make_enterprise: MakeEnterprise
) -> None:
    a = await make_enterprise()
    b = await make_enterprise()
    site = await new_site(api, PROVINCE, concentrated=True, enterprise_id=a["id"])
    p = (await api(enterprise(a["id"])).post("/v1/persons", json=person_body("E1", accommodation_id=site["id"]))).json()
    url = f"/v1/accommodations/{site['id']}"
    for target in (b["id"], None):
        r = await api(PROVINCE).patch(url, json={"enterprise_id": target})
        assert r.status_code == 409 and r.json()["error"]["code"] == "accommodation_other_enterprise", target
    await api(enterprise(a["id"])).patch(f"/v1/persons/{p['id']}", json={"status": "left"})
    r = await api(PROVINCE).patch(url, json={"enterprise_id": b["id"]})
    assert r.status_code == 200 and r.json()["enterprise_id"] == b["id"], "nobody active is left there"


async def test_sites_page_by_name(api: As) -> None:
    for name in ("E", "B", "D", "A", "C"):
        await new_site(api, PROVINCE, name=name)
    seen: list[str] = []
    cursor = None
    while True:
        params: dict[str, Any] = {"limit": 2, **({"cursor": cursor} if cursor else {})}
        page = (await api(PROVINCE).get("/v1/accommodations", params=params)).json()
        seen += [s["name"] for s in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == ["A", "B", "C", "D", "E"]
