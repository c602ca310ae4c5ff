"""Tenant isolation inside bodies and query strings (issue "Hardening", item 3).

``tests/gateway/test_authorization_matrix.py`` drives every route with every role against its own
and another tenant's IDs *in the path*. These tests put the other tenant's IDs where the matrix
does not: in request bodies (a person, a roster item, a site, a device), in search and filter
parameters, in a lab's sample IDs, and in the worker's own sub-resources. Each is refused (or
finds nothing) and changes no row of the other tenant: every table is compared before and after.

(Activation codes naming another enterprise's person: ``tests/gateway/test_worker_flow.py``
``test_codes_only_for_people_on_the_callers_active_roster``.)"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import pytest

from safework_common.internal_auth import Caller
from tests.gateway.conftest import Stack, bearer
from tests.gateway.world import DISTRICT_A, DISTRICT_B, Tenant, enterprise, lab, national_id, new_device_id, ok
from tests.hardening.conftest import Snapshot

WHEN = "2021-09-15T07:30:00+07:00"
LATER = "2021-09-15T15:00:00+07:00"
Take = Callable[[], Awaitable[Snapshot]]


@dataclass
class World:
    a: Tenant
    b: Tenant
    lab1: str
    lab2: str
    b_site: str
    b_venue_qr: str
    b_travel: int
    b_device: str
    headers: dict[str, dict[str, str]]


@pytest.fixture(scope="module")
async def world(module_stack: Stack) -> World:
    """Enterprise A (district A) and B (district B), two people each; B has a boarding house, a
    venue, and its first worker a device and an open trip; two labs, lab 2 has posted sample
    ``SHARED-1`` for B's first worker."""
    stack = module_stack
    assert stack.registry is not None
    a = await enterprise(stack, DISTRICT_A)
    b = await enterprise(stack, DISTRICT_B)
    province = stack.province()
    site = {
        "name": "Nhà trọ B",
        "address": "Thôn Đông",
        "district": DISTRICT_B,
        "enterprise_id": b.enterprise_id,
        "concentrated": True,
    }  # seeds/003: a concentrated site houses one enterprise
    b_site = (await ok(await stack.http.post("/api/v1/accommodations", json=site, headers=province), 201))["id"]
    venue = await ok(
        await stack.http.post(
            f"/api/v1/enterprises/{b.enterprise_id}/venues", json={"name": "Cổng B", "kind": "gate"}, headers=b.headers
        ),
        201,
    )
    b_worker = Caller(subject="device:b", role="worker", person_id=b.people[0], enterprise_id=b.enterprise_id)
    b_device = new_device_id()
    app = {"device_id": b_device, "app_id": "vn.gov.bluezone", "app_version": "4.2.1", "platform": "android"}
    await ok(await stack.registry(b_worker).post("/v1/installations/sync", json=app), 201)
    trip = {"left_at": WHEN, "destination_province": "Hà Nội"}
    travel = await ok(await stack.registry(b_worker).post(f"/v1/persons/{b.people[0]}/travels", json=trip), 201)
    lab1, lab2 = await lab(stack), await lab(stack)
    lab2_headers = bearer(stack.token("lab", lab_id=lab2))
    shared = {"sample_id": "SHARED-1", "person_id": b.people[0], "kind": "PCR", "collected_at": WHEN,
              "resulted_at": LATER, "result": "NEGATIVE"}  # fmt: skip
    posted = await ok(await stack.http.post(f"/api/v1/labs/{lab2}/results", json={"items": [shared]},
                                            headers=lab2_headers))  # fmt: skip
    assert posted["accepted"] == 1
    worker_a = stack.token("worker", person_id=a.people[0], enterprise_id=a.enterprise_id)
    return World(
        a=a,
        b=b,
        lab1=lab1,
        lab2=lab2,
        b_site=b_site,
        b_venue_qr=venue["qr_code"],
        b_travel=travel["id"],
        b_device=b_device,
        headers={
            "a": a.headers,
            "b": b.headers,
            "lab1": bearer(stack.token("lab", lab_id=lab1)),
            "lab2": lab2_headers,
            "worker_a": bearer(worker_a),
            "district_a": bearer(stack.token("authority", district=DISTRICT_A)),
        },
    )


def error_of(r: Any, status: int, code: str) -> dict[str, Any]:
    assert r.status_code == status, r.text
    error: dict[str, Any] = r.json()["error"]
    assert error["code"] == code, r.text
    return error


def new_person(w: World, **over: Any) -> dict[str, Any]:
    return {"national_id": national_id(), "full_name": "Phạm Văn D", "date_of_birth": "1992-02-02", "sex": "male",
            "employee_code": f"NV-{uuid.uuid4().hex[:6]}", **over}  # fmt: skip


async def test_a_person_cannot_be_created_in_or_moved_to_another_enterprise(
    module_stack: Stack, world: World, snapshot: Take
) -> None:
    http, w = module_stack.http, world
    before = await snapshot()
    r = await http.post("/api/v1/persons", json=new_person(w, enterprise_id=w.b.enterprise_id), headers=w.headers["a"])
    assert error_of(r, 404, "enterprise_not_found")["details"][0]["field"] == "body.enterprise_id"
    r = await http.patch(f"/api/v1/persons/{w.a.people[0]}", json={"enterprise_id": w.b.enterprise_id},
                         headers=w.headers["a"])  # fmt: skip
    error_of(r, 403, "enterprise_change_not_allowed")
    r = await http.patch(f"/api/v1/persons/{w.b.people[0]}", json={"full_name": "X"}, headers=w.headers["a"])
    error_of(r, 404, "person_not_found")
    assert await snapshot() == before


async def test_a_roster_item_naming_another_enterprises_person_is_rejected_and_reveals_nothing(
    module_stack: Stack, world: World, snapshot: Take
) -> None:
    """An item carrying B's active worker's national ID does not move, change or reveal them."""
    http, w = module_stack.http, world
    before = await snapshot()
    items = [new_person(w, national_id=w.b.national_ids[0], full_name="Tên mới")]
    r = await http.put(f"/api/v1/enterprises/{w.a.enterprise_id}/roster", json={"items": items}, headers=w.headers["a"])
    (item,) = (await ok(r))["items"]
    assert (item["outcome"], item["code"], item["person_id"]) == ("rejected", "national_id_taken", None)
    assert w.b.people[0] not in r.text
    assert await snapshot() == before


async def test_another_enterprises_boarding_house_cannot_be_claimed_through_a_body(
    module_stack: Stack, world: World, snapshot: Take
) -> None:
    """One site, one enterprise (seeds/003): B's site named by A in a new site, a person, a
    person's change or a roster item is refused."""
    http, w = module_stack.http, world
    before = await snapshot()
    site = {"name": "KTX", "address": "Số 2", "district": DISTRICT_A, "enterprise_id": w.b.enterprise_id}
    r = await http.post("/api/v1/accommodations", json=site, headers=w.headers["a"])
    error_of(r, 404, "enterprise_not_found")
    r = await http.post("/api/v1/persons", json=new_person(w, accommodation_id=w.b_site), headers=w.headers["a"])
    error_of(r, 409, "accommodation_other_enterprise")
    r = await http.patch(f"/api/v1/persons/{w.a.people[0]}", json={"accommodation_id": w.b_site},
                         headers=w.headers["a"])  # fmt: skip
    error_of(r, 409, "accommodation_other_enterprise")
    items = [new_person(w, accommodation_id=w.b_site)]
    r = await http.put(f"/api/v1/enterprises/{w.a.enterprise_id}/roster", json={"items": items}, headers=w.headers["a"])
    (item,) = (await ok(r))["items"]
    assert (item["outcome"], item["code"]) == ("rejected", "accommodation_other_enterprise")
    r = await http.patch(f"/api/v1/accommodations/{w.b_site}", json={"owner_name": "A"}, headers=w.headers["a"])
    error_of(r, 404, "accommodation_not_found")
    assert await snapshot() == before


DISTRICT_FILTERED = (
    "/api/v1/enterprises",
    "/api/v1/accommodations",
    "/api/v1/due",
    "/api/v1/due/people",
    "/api/v1/compliance/violations",
    "/api/v1/vaccines/queue",
)


async def test_searches_and_filters_do_not_reach_another_tenant(module_stack: Stack, world: World) -> None:
    http, w = module_stack.http, world
    r = await http.get(f"/api/v1/enterprises/{w.a.enterprise_id}/roster", params={"q": w.b.national_ids[0]},
                       headers=w.headers["a"])  # fmt: skip
    assert (await ok(r))["items"] == []
    r = await http.get("/api/v1/accommodations", params={"district": DISTRICT_B}, headers=w.headers["a"])
    assert w.b_site not in r.text
    # A district authority naming another district: one answer everywhere, 404 with the field
    # (session 3: it was 200 with an empty page, 403 or 404 depending on the route).
    district_a = w.headers["district_a"]
    for path in DISTRICT_FILTERED:
        r = await http.get(path, params={"district": DISTRICT_B}, headers=district_a)
        assert error_of(r, 404, "district_not_found")["details"][0]["field"] == "query.district", path
    r = await http.get("/api/v1/vaccines/queue", params={"enterprise_id": w.b.enterprise_id}, headers=district_a)
    error_of(r, 404, "enterprise_not_found")


async def test_a_lab_reusing_another_labs_sample_id_neither_matches_nor_touches_it(
    module_stack: Stack, world: World, snapshot: Take
) -> None:
    """Sample IDs are the lab's own (UNIQUE (lab, sample id)): lab 1 posting lab 2's
    ``SHARED-1`` with other data is a new result of lab 1, not a duplicate of or a conflict with
    lab 2's, and lab 2's row is as it was."""
    http, w = module_stack.http, world
    before = await snapshot()
    item = {"sample_id": "SHARED-1", "person_id": w.a.people[0], "kind": "RAPID_ANTIGEN", "collected_at": WHEN,
            "resulted_at": LATER, "result": "POSITIVE"}  # fmt: skip
    r = await http.post(f"/api/v1/labs/{w.lab1}/results", json={"items": [item]}, headers=w.headers["lab1"])
    assert (await ok(r))["items"][0]["status"] == "accepted"
    after = await snapshot()
    # (person_rollup: the person's latest result and positive, kept by the database.)
    # test_result_sample: the lab's sample-ID key, kept beside the partitioned results (issue 18).
    assert {t for t in after if after[t] != before[t]} == {
        "test_result",
        "test_result_sample",
        "audit_log",
        "person_rollup",
    }
    assert after["test_result"][0] == before["test_result"][0] + 1
    own = (await ok(await http.get(f"/api/v1/labs/{w.lab1}/results", headers=w.headers["lab1"])))["items"]
    assert [(x["sample_id"], x["person_id"], x["result"]) for x in own] == [("SHARED-1", w.a.people[0], "POSITIVE")]
    theirs = (await ok(await http.get(f"/api/v1/labs/{w.lab2}/results", headers=w.headers["lab2"])))["items"]
    assert [(x["sample_id"], x["person_id"], x["result"]) for x in theirs] == [("SHARED-1", w.b.people[0], "NEGATIVE")]
    r = await http.get(f"/api/v1/labs/{w.lab2}/results", headers=w.headers["lab1"])
    error_of(r, 404, "lab_not_found")


async def test_a_worker_reaches_only_their_own_records(module_stack: Stack, world: World, snapshot: Take) -> None:
    """Another worker's trip ID in the path, another enterprise's QR code in the body: not
    found, nothing written; the worker's lists hold only their own."""
    http, w = module_stack.http, world
    me = w.headers["worker_a"]
    before = await snapshot()
    r = await http.patch(f"/api/v1/me/travels/{w.b_travel}", json={"returned_at": LATER}, headers=me)
    error_of(r, 404, "travel_not_found")
    r = await http.post("/api/v1/me/checkins", json={"qr_code": w.b_venue_qr, "checked_in_at": LATER}, headers=me)
    error_of(r, 404, "venue_not_found")
    assert await snapshot() == before
    for path in ("/api/v1/me/travels", "/api/v1/me/checkins", "/api/v1/me/declarations"):
        listed = (await ok(await http.get(path, headers=me)))["items"]
        assert {x["person_id"] for x in listed} <= {w.a.people[0]}, path
    assert w.b_travel not in [x["id"] for x in (await ok(await http.get("/api/v1/me/travels", headers=me)))["items"]]
    assert (await ok(await http.get("/api/v1/me", headers=me)))["id"] == w.a.people[0]
    r = await http.get(f"/api/v1/persons/{w.b.people[0]}", headers=me)
    error_of(r, 403, "role_not_allowed")


async def test_an_enterprise_account_cannot_take_over_another_tenants_device(
    module_stack: Stack, world: World, snapshot: Take
) -> None:
    """A device belongs to one owner for life: A's app account syncing B's worker's device ID
    is refused and B's installation is untouched; A cannot revoke it either."""
    http, w = module_stack.http, world
    before = await snapshot()
    body = {"device_id": w.b_device, "app_id": "vn.gov.bluezone", "app_version": "9.9.9", "platform": "web"}
    r = await http.post(f"/api/v1/enterprises/{w.a.enterprise_id}/app/sync", json=body, headers=w.headers["a"])
    error_of(r, 409, "device_owned_by_other")
    r = await http.post(f"/api/v1/devices/{w.b_device}/revoke", headers=w.headers["a"])
    assert r.status_code == 404, r.text
    assert await snapshot() == before
