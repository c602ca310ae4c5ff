"""A district authority reaches its own district only, in bodies as in paths (session 3,
findings 1 and 8).

The attack: an authority scoped to district A posts, on behalf of any lab, a POSITIVE PCR for a
worker of an enterprise in district B. It was stored (200 ``accepted``) and the worker was no
longer cleared to work, while the same caller got 404 reading that worker or recording a dose.
Every item naming someone out of reach is now rejected on its own (``person_not_found`` and the
field, as an unknown person), the rest of the batch goes on, and B's tables do not change.

The audit of every route for the same shape (allowed the route, not the object in the body)
found the boarding house: a district authority could name another district's site for a
person, a person's change or a roster item, claiming it for an enterprise of its own district.
And "naming another district" had four answers (200 with an empty page, 403
``out_of_district``, 403 ``district_out_of_scope``, 404): it has one now, 404
``district_not_found`` with the field, in query strings and in bodies."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import pytest

from tests.gateway.conftest import Stack, bearer
from tests.gateway.world import DISTRICT_A, DISTRICT_B, Tenant, enterprise, lab, national_id, ok, tax_code
from tests.hardening.conftest import Snapshot

COLLECTED = "2021-09-15T07:30:00+07:00"
RESULTED = "2021-09-15T15:00:00+07:00"
AS_OF = "2021-09-16T08:00:00+07:00"
Take = Callable[[], Awaitable[Snapshot]]


@dataclass
class World:
    a: Tenant
    b: Tenant
    lab_id: str
    b_site: str  # B's boarding house, claimed by enterprise B
    b_free_site: str  # a boarding house in district B that no enterprise has claimed yet
    district_a: dict[str, str]
    province: dict[str, str]


@pytest.fixture(scope="module")
async def world(module_stack: Stack) -> World:
    stack = module_stack
    a = await enterprise(stack, DISTRICT_A, people=3)
    b = await enterprise(stack, DISTRICT_B, people=3)
    province = stack.province()
    sites = []
    for owner in (b.enterprise_id, None):
        body = {"name": "Nhà trọ B", "address": "Thôn Nội", "district": DISTRICT_B, "enterprise_id": owner}
        sites.append(
            (await ok(await stack.http.post("/api/v1/accommodations", json=body, headers=province), 201))["id"]
        )
    product = {"code": "AZD1222", "name": "AstraZeneca", "min_interval_days": 56}
    await ok(await stack.http.post("/api/v1/vaccine-products", json=product, headers=province), 201)
    return World(
        a=a,
        b=b,
        lab_id=await lab(stack),
        b_site=sites[0],
        b_free_site=sites[1],
        district_a=bearer(stack.token("authority", district=DISTRICT_A)),
        province=province,
    )


def single(person: dict[str, str], result: str = "POSITIVE") -> dict[str, Any]:
    return {"sample_id": f"S-{uuid.uuid4().hex[:12]}", **person, "kind": "PCR", "collected_at": COLLECTED,
            "resulted_at": RESULTED, "result": result}  # fmt: skip


def pool(members: list[dict[str, str]], result: str) -> dict[str, Any]:
    return {"type": "pool", "pool_sample_id": f"P-{uuid.uuid4().hex[:12]}", "members": members,
            "collected_at": COLLECTED, "resulted_at": RESULTED, "result": result}  # fmt: skip


async def due_of(stack: Stack, world: World, person_id: str) -> dict[str, Any]:
    r = await stack.http.get(f"/api/v1/persons/{person_id}/due", params={"as_of": AS_OF}, headers=world.province)
    answer: dict[str, Any] = await ok(r)
    return {k: answer[k] for k in ("cleared_to_work", "not_cleared", "kind", "due_at")}


async def test_a_district_authority_cannot_write_another_districts_results(
    module_stack: Stack, world: World, snapshot: Take
) -> None:
    stack, w = module_stack, world
    b0, b1, b2 = w.b.people
    before_due = {pid: await due_of(stack, w, pid) for pid in (b0, b1, b2)}
    before = await snapshot()
    items = [
        single({"person_id": b0}),  # B's worker by person ID
        single({"national_id": w.b.national_ids[1]}),  # ... by national ID
        pool([{"person_id": w.a.people[0]}, {"person_id": b2}], "POSITIVE"),  # one member out of reach
        pool([{"person_id": w.a.people[1]}, {"national_id": w.b.national_ids[0]}], "NEGATIVE"),
        single({"person_id": w.a.people[2]}, "NEGATIVE"),  # its own district's: stored
        pool([{"person_id": w.a.people[0]}, {"person_id": w.a.people[1]}], "NEGATIVE"),  # its own: stored
    ]
    r = await stack.http.post(f"/api/v1/labs/{w.lab_id}/results", json={"items": items}, headers=w.district_a)
    outcome = await ok(r)
    got = [(o["status"], o.get("code"), o.get("field")) for o in outcome["items"]]
    assert got == [
        ("rejected", "person_not_found", "body.items[0].person_id"),
        ("rejected", "person_not_found", "body.items[1].national_id"),
        ("rejected", "person_not_found", "body.items[2].members[1].person_id"),
        ("rejected", "person_not_found", "body.items[3].members[1].national_id"),
        ("accepted", None, None),
        ("accepted", None, None),
    ]
    assert (outcome["accepted"], outcome["rejected"]) == (2, 4)
    for pid in (b0, b1, b2):
        assert w.b.national_ids[w.b.people.index(pid)] not in r.text
    after = await snapshot()
    # A's results, pool and roll-ups were written; of B nothing: its people have no result, no
    # pool membership, and the same due answer as before.
    assert {t for t in after if after[t] != before[t]} <= {
        "test_result", "test_result_sample", "pool", "pool_member", "person_rollup", "audit_log",
    }  # fmt: skip
    for pid in (b0, b1, b2):
        r = await stack.http.get(f"/api/v1/persons/{pid}/results", headers=w.province)
        assert (await ok(r))["items"] == [], pid
        assert await due_of(stack, w, pid) == before_due[pid], pid
    pools = (await ok(await stack.http.get(f"/api/v1/labs/{w.lab_id}/results", headers=w.province)))["items"]
    assert {x["person_id"] for x in pools} <= set(w.a.people)

    # The same items from those who may name anyone: the lab itself and the province authority.
    for headers in (bearer(stack.token("lab", lab_id=w.lab_id)), w.province):
        again = [single({"person_id": b0}, "NEGATIVE"), pool([{"person_id": w.a.people[0]}, {"person_id": b2}],
                                                              "NEGATIVE")]  # fmt: skip
        r = await stack.http.post(f"/api/v1/labs/{w.lab_id}/results", json={"items": again}, headers=headers)
        assert [o["status"] for o in (await ok(r))["items"]] == ["accepted", "accepted"]


async def test_another_districts_boarding_house_cannot_be_named(
    module_stack: Stack, world: World, snapshot: Take
) -> None:
    """A district authority naming a site of another district, claimed or not, finds none: the
    unclaimed one is not claimed for its enterprise, the claimed one does not reveal its owner."""
    http, w = module_stack.http, world
    before = await snapshot()
    for site in (w.b_free_site, w.b_site):
        person = {"national_id": national_id(), "full_name": "Đỗ Văn K", "date_of_birth": "1993-03-03", "sex": "male",
                  "enterprise_id": w.a.enterprise_id, "employee_code": f"NV-{uuid.uuid4().hex[:6]}",
                  "accommodation_id": site}  # fmt: skip
        r = await http.post("/api/v1/persons", json=person, headers=w.district_a)
        assert (r.status_code, r.json()["error"]["code"]) == (404, "accommodation_not_found"), r.text
        assert r.json()["error"]["details"][0]["field"] == "body.accommodation_id"
        r = await http.patch(f"/api/v1/persons/{w.a.people[0]}", json={"accommodation_id": site}, headers=w.district_a)
        assert (r.status_code, r.json()["error"]["code"]) == (404, "accommodation_not_found"), r.text
        item = {k: v for k, v in person.items() if k != "enterprise_id"}
        r = await http.put(f"/api/v1/enterprises/{w.a.enterprise_id}/roster", json={"items": [item]},
                           headers=w.district_a)  # fmt: skip
        (outcome,) = (await ok(r))["items"]
        assert (outcome["outcome"], outcome["code"], outcome["field"]) == (
            "rejected",
            "accommodation_not_found",
            "body.items[0].accommodation_id",
        ), outcome
    assert await snapshot() == before
    # The province authority may (the site is then claimed by A: this test module is done with it).
    r = await http.patch(f"/api/v1/persons/{w.a.people[0]}", json={"accommodation_id": w.b_free_site},
                         headers=w.province)  # fmt: skip
    assert r.status_code == 200, r.text


async def test_naming_another_district_has_one_answer_404(module_stack: Stack, world: World, snapshot: Take) -> None:
    http, w = module_stack.http, world
    before = await snapshot()
    doc = module_stack.app.openapi()
    filtered = [path for path, ops in doc["paths"].items()
                if any(p["name"] == "district" and p["in"] == "query"
                       for p in ops.get("get", {}).get("parameters", []))
                and not path.startswith("/api/v1/public/")]  # fmt: skip
    # The public list and map filter by district for anyone: no district is another's there.
    assert len(filtered) == 12, filtered  # 8 lists and 4 of their exports (issue 16)
    for path in filtered:
        r = await http.get(path, params={"district": DISTRICT_B}, headers=w.district_a)
        assert r.status_code == 404, (path, r.text)
        assert r.json()["error"]["code"] == "district_not_found", path
        assert r.json()["error"]["details"][0]["field"] == "query.district", path
        # Its own district, in any spelling, is its own.
        r = await http.get(path, params={"district": "huyện viet yen"}, headers=w.district_a)
        assert r.status_code == 200, (path, r.text)
    writes = [
        ("POST", "/api/v1/enterprises", {"tax_code": tax_code(), "name": "C", "district": DISTRICT_B,
                                          "zone_type": "OUTSIDE"}, "body.district"),
        ("PATCH", f"/api/v1/enterprises/{w.a.enterprise_id}", {"district": DISTRICT_B}, "body.district"),
        ("POST", "/api/v1/accommodations", {"name": "N", "address": "A", "district": DISTRICT_B}, "body.district"),
        ("POST", "/api/v1/vaccines/plan", {"daily_capacity": {DISTRICT_A: 100, DISTRICT_B: 100}, "as_of": AS_OF},
         f"body.daily_capacity.{DISTRICT_B}"),
    ]  # fmt: skip
    for method, url, body, field in writes:
        r = await http.request(method, url, json=body, headers=w.district_a)
        assert r.status_code == 404, (method, url, r.text)
        error = r.json()["error"]
        assert (error["code"], error["details"][0]["field"]) == ("district_not_found", field), (method, url)
    assert await snapshot() == before
    r = await http.post("/api/v1/vaccines/plan", json={"daily_capacity": {"Huyện Việt Yên": 100}, "as_of": AS_OF},
                        headers=w.district_a)  # fmt: skip
    assert (await ok(r))["capacity"]["by_district"] == {DISTRICT_A: 100}
