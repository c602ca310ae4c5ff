"""The public contract and the services agree (session 3, finding 6): whatever a client generated
from the gateway's OpenAPI may send, the services accept.

- every declared ``limit`` maximum is served (2xx) by every list, and one more is refused;
- every PATCH field declared nullable is accepted with null (2xx); every one not declared
  nullable is refused with 422 ``null_not_allowed``;
- a district is one of Bắc Giang's ten, declared as such; anything else ("Atlantis") is 422
  ``unknown_district`` with the field, wherever a district is named; other spellings of a real
  one are stored canonical, so an enterprise and its district authority always agree.

The routes are read from the OpenAPI document itself, so a list or a PATCH added later is
checked too."""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from typing import Any

from safework_common.internal_auth import Caller
from tests.gateway.conftest import Stack, bearer
from tests.gateway.world import DISTRICT_A, enterprise, lab, national_id, ok, tax_code

_PARAM = re.compile(r"{(\w+)}")
WHEN = "2021-09-15T07:30:00+07:00"


@dataclass
class World:
    params: dict[str, str]
    tokens: dict[str, str]

    def headers(self, access: dict[str, Any]) -> dict[str, str]:
        """The token of a role the operation allows: the province authority when it may."""
        roles = access["roles"]
        role = "authority" if "authority" in roles else roles[0]
        return bearer(self.tokens[role])

    def url(self, path: str) -> str:
        return _PARAM.sub(lambda m: self.params[m.group(1)], path)


async def build(stack: Stack) -> World:
    """One object of each kind a path names: an enterprise with a person, a site, a venue, a lab,
    a vaccine product, and a worker with an open trip."""
    assert stack.registry is not None
    province = stack.province()
    a = await enterprise(stack, DISTRICT_A, people=1)
    lab_id = await lab(stack)
    site = await ok(
        await stack.http.post(
            "/api/v1/accommodations",
            json={"name": "Nhà trọ", "address": "Thôn Đông", "district": DISTRICT_A},
            headers=province,
        ),
        201,
    )
    venue = await ok(
        await stack.http.post(
            f"/api/v1/enterprises/{a.enterprise_id}/venues", json={"name": "Cổng", "kind": "gate"}, headers=province
        ),
        201,
    )
    product = {"code": "AZD1222", "name": "AstraZeneca", "min_interval_days": 56}
    await ok(await stack.http.post("/api/v1/vaccine-products", json=product, headers=province), 201)
    worker = Caller(subject="device:w", role="worker", person_id=a.people[0], enterprise_id=a.enterprise_id)
    trip = {"left_at": WHEN, "destination_province": "Hà Nội"}
    travel = await ok(await stack.registry(worker).post(f"/v1/persons/{a.people[0]}/travels", json=trip), 201)
    f0 = await ok(
        await stack.http.post(
            "/api/v1/persons",
            json={"national_id": national_id(), "full_name": "Lê Văn F", "date_of_birth": "1990-05-06", "sex": "male",
                  "enterprise_id": a.enterprise_id, "employee_code": "NV-F0"},
            headers=province,
        ),
        201,
    )  # fmt: skip
    positive = {"sample_id": "S-F0", "person_id": f0["id"], "kind": "PCR", "collected_at": WHEN,
                "resulted_at": WHEN, "result": "POSITIVE"}  # fmt: skip
    await ok(await stack.http.post(f"/api/v1/labs/{lab_id}/results", json={"items": [positive]}, headers=province))
    # An individual positive PCR makes the case on ingest (issue 14).
    cases = await ok(await stack.http.get("/api/v1/cases", headers=province))
    (case,) = [c for c in cases["items"] if c["person_id"] == f0["id"]]
    facility = await ok(
        await stack.http.post(
            "/api/v1/isolation/facilities",
            json={"name": "KTX", "address": "x", "district": DISTRICT_A, "rooms": [{"code": "A1", "capacity": 4}]},
            headers=province,
        ),
        201,
    )
    return World(
        params={
            "enterprise_id": a.enterprise_id,
            "person_id": a.people[0],
            "lab_id": lab_id,
            "accommodation_id": site["id"],
            "venue_id": venue["id"],
            "code": "AZD1222",
            "travel_id": str(travel["id"]),
            "district": "Việt Yên",
            "case_id": case["id"],
            "facility_id": facility["id"],
        },
        tokens={
            "authority": stack.token("authority"),
            "enterprise": a.token,
            "lab": stack.token("lab", lab_id=lab_id),
            "worker": stack.token("worker", person_id=a.people[0], enterprise_id=a.enterprise_id),
        },
    )


def operations(stack: Stack, method: str) -> list[tuple[str, dict[str, Any]]]:
    doc = stack.app.openapi()
    return [(path, ops[method]) for path, ops in doc["paths"].items() if method in ops]


def _declared_limit(op: dict[str, Any]) -> int | None:
    for p in op.get("parameters", []):
        if p["name"] == "limit" and p["in"] == "query":
            schema = p["schema"]
            return int(schema["maximum"])
    return None


async def test_every_declared_limit_maximum_is_served(stack: Stack) -> None:
    """Session 3: ``limit`` was declared up to 1000 and ten lists refused more than 500 (422), so a
    client paging at the declared maximum failed."""
    world = await build(stack)
    lists = [(path, op) for path, op in operations(stack, "get") if _declared_limit(op) is not None]
    assert len(lists) >= 15, [p for p, _ in lists]
    failures = []
    for path, op in lists:
        top = _declared_limit(op)
        assert top is not None
        # The public routes declare no access: they need no token.
        headers = world.headers(op["x-safework-access"]) if "x-safework-access" in op else {}
        r = await stack.http.get(world.url(path), params={"limit": top}, headers=headers)
        if not 200 <= r.status_code < 300:
            failures.append(f"GET {path}?limit={top}: {r.status_code} {r.text[:200]}")
        r = await stack.http.get(world.url(path), params={"limit": top + 1}, headers=headers)
        if r.status_code != 422:
            failures.append(f"GET {path}?limit={top + 1}: {r.status_code}, expected 422 (beyond the declared maximum)")
    assert not failures, "\n".join(failures)


def _nullable(schema: dict[str, Any]) -> bool:
    return any(branch.get("type") == "null" for branch in schema.get("anyOf", []))


async def _fresh_object(stack: Stack, world: World, path: str) -> World:
    """A new object for the path, so each field's null is judged on its own (a released site, a
    person without an employer...). The same world for paths whose objects nothing changes."""
    province = stack.province()
    params = dict(world.params)
    if path == "/api/v1/persons/{person_id}":
        person = {"national_id": national_id(), "full_name": "Lê Thị E", "date_of_birth": "1990-05-06",
                  "sex": "female", "enterprise_id": world.params["enterprise_id"],
                  "employee_code": f"NV-{uuid.uuid4().hex[:6]}", "phone": "0912345678",
                  "accommodation_id": world.params["accommodation_id"]}  # fmt: skip
        params["person_id"] = (await ok(await stack.http.post("/api/v1/persons", json=person, headers=province), 201))[
            "id"
        ]
    elif path == "/api/v1/enterprises/{enterprise_id}":
        body = {"tax_code": tax_code(), "name": "Công ty F", "district": DISTRICT_A, "zone_type": "OUTSIDE"}
        params["enterprise_id"] = (
            await ok(await stack.http.post("/api/v1/enterprises", json=body, headers=province), 201)
        )["id"]
    elif path == "/api/v1/accommodations/{accommodation_id}":
        body = {"name": "KTX", "address": "Số 3", "district": DISTRICT_A, "owner_name": "Ông G",
                "enterprise_id": world.params["enterprise_id"]}  # fmt: skip
        params["accommodation_id"] = (
            await ok(await stack.http.post("/api/v1/accommodations", json=body, headers=province), 201)
        )["id"]
    return World(params=params, tokens=world.tokens)


# A null another rule ties to another field, sent with it: a person of an enterprise has an
# employee code (422 employee_code_required), so it is cleared when the person leaves the
# enterprise.
TOGETHER: dict[tuple[str, str], dict[str, Any]] = {
    ("/api/v1/persons/{person_id}", "employee_code"): {"enterprise_id": None},
}


async def test_patch_fields_declared_nullable_take_null_and_the_others_are_refused(stack: Stack) -> None:
    """Session 3: 29 PATCH fields were declared nullable and refused with
    ``null_not_allowed`` (a venue's name, a lab's licence, a vaccine product's interval...)."""
    world = await build(stack)
    patches = operations(stack, "patch")
    assert len(patches) == 7, [p for p, _ in patches]
    failures = []
    nullable_seen = 0
    components = stack.app.openapi()["components"]["schemas"]
    for path, op in patches:
        schema = op["requestBody"]["content"]["application/json"]["schema"]
        schema = components[schema["$ref"].rsplit("/", 1)[1]]
        for name, field in schema["properties"].items():
            target = await _fresh_object(stack, world, path)
            headers = target.headers(op["x-safework-access"])
            body = {name: None, **TOGETHER.get((path, name), {})}
            r = await stack.http.patch(target.url(path), json=body, headers=headers)
            if _nullable(field):
                nullable_seen += 1
                if not 200 <= r.status_code < 300:
                    failures.append(f"PATCH {path} {{{name}: null}} declared nullable: {r.status_code} {r.text[:200]}")
                elif r.json().get(name) is not None:
                    failures.append(f"PATCH {path} {{{name}: null}} answered 2xx but kept {r.json()[name]!r}")
            elif r.status_code != 422 or r.json()["error"]["code"] != "null_not_allowed":
                failures.append(f"PATCH {path} {{{name}: null}} not nullable: {r.status_code} {r.text[:200]}")
    assert nullable_seen >= 15
    assert not failures, "\n".join(failures)


async def test_a_district_that_does_not_exist_is_refused_wherever_a_district_is_named(stack: Stack) -> None:
    """Session 3: "Atlantis" was given an authority client (and could be an enterprise's
    district); every district is now checked against Bắc Giang's ten: 422 ``unknown_district``
    with the field, nothing stored."""
    world = await build(stack)
    province = stack.province()
    writes = [
        ("POST", "/api/v1/clients", {"name": "Ban chỉ đạo", "role": "authority", "district": "Atlantis"}),
        ("POST", "/api/v1/enterprises", {"tax_code": tax_code(), "name": "C", "district": "Atlantis",
                                          "zone_type": "OUTSIDE"}),
        ("PATCH", f"/api/v1/enterprises/{world.params['enterprise_id']}", {"district": "Atlantis"}),
        ("POST", "/api/v1/accommodations", {"name": "N", "address": "A", "district": "Atlantis"}),
        ("PATCH", f"/api/v1/accommodations/{world.params['accommodation_id']}", {"district": "Atlantis"}),
    ]  # fmt: skip
    for method, url, body in writes:
        r = await stack.http.request(method, url, json=body, headers=province)
        assert r.status_code == 422, (method, url, r.text)
        detail = r.json()["error"]["details"][0]
        assert (detail["field"], detail["code"]) == ("body.district", "unknown_district"), (method, url, r.text)
    listed = (await ok(await stack.http.get("/api/v1/clients", headers=province)))["items"]
    assert [c for c in listed if c["role"] == "authority"] == []
    r = await stack.http.post("/api/v1/vaccines/plan", json={"daily_capacity": {"Atlantis": 10}}, headers=province)
    assert r.status_code == 422, r.text
    assert r.json()["error"]["details"][0] == {
        "field": "body.daily_capacity.Atlantis",
        "code": "unknown_district",
        "message": r.json()["error"]["details"][0]["message"],
    }
    filtered = [
        path
        for path, op in operations(stack, "get")
        if any(p["name"] == "district" and p["in"] == "query" for p in op.get("parameters", []))
    ]
    # with the public list and map, cases, isolation facilities, and four exports (issue 16)
    assert len(filtered) == 14, filtered
    for path in filtered:
        r = await stack.http.get(path, params={"district": "Atlantis"}, headers=province)
        assert r.status_code == 422, (path, r.text)
        detail = r.json()["error"]["details"][0]
        assert (detail["field"], detail["code"]) == ("query.district", "unknown_district"), (path, r.text)


async def test_every_district_field_declares_the_ten_districts(stack: Stack) -> None:
    """A client generated from the OpenAPI offers the ten districts, not free text."""
    doc = stack.app.openapi()
    found = []

    schemas, seen = doc["components"]["schemas"], set()

    def walk(node: Any, where: str) -> None:
        if isinstance(node, dict):
            name = node.get("$ref", "").rsplit("/", 1)[-1]
            if name and name not in seen:  # a body's model, and the models it is made of, once each
                seen.add(name)
                walk(schemas[name], name)
            for key, value in node.items():
                if key == "responses":
                    continue
                if key in ("district", "propertyNames") and isinstance(value, dict):
                    branches = [b for b in value.get("anyOf", [value]) if b.get("type") != "null"]
                    if all("type" in b or "enum" in b for b in branches):
                        found.append((where + "." + key, branches[0].get("enum") if len(branches) == 1 else None))
                walk(value, f"{where}.{key}")
        elif isinstance(node, list):
            for n, value in enumerate(node):
                if isinstance(value, dict) and value.get("name") == "district" and value.get("in") == "query":
                    found.append((f"{where}[{n}]", value["schema"].get("enum")))
                walk(value, f"{where}[{n}]")

    walk(doc["paths"], "paths")  # the bodies (the gateway's own ClientCreate too) and query parameters
    # Five forwarded bodies (with an isolation facility), the client's, ten query parameters (with
    # the public list and map, cases, isolation facilities) and the plan's capacity keys.
    assert len(found) == 21, [w for w, _ in found]  # four exports (issue 16) take a district
    enums = {tuple(e) if e else None for _, e in found}
    assert len(enums) == 1 and None not in enums, found
    (ten,) = enums
    assert ten is not None and len(ten) == 10 and "Việt Yên" in ten


async def test_spellings_are_stored_canonical_so_enterprise_and_authority_agree(stack: Stack) -> None:
    """Session 3: districts were compared as written: an enterprise registered in "Huyện Việt
    Yên" was invisible to the "Việt Yên" authority. Now both are "Việt Yên"."""
    province = stack.province()
    body = {"tax_code": tax_code(), "name": "Công ty H", "district": "huyen viet yen", "zone_type": "OUTSIDE"}
    created = await ok(await stack.http.post("/api/v1/enterprises", json=body, headers=province), 201)
    assert created["district"] == "Việt Yên"
    site = {"name": "N", "address": "A", "district": "TP. Bắc Giang"}
    assert (await ok(await stack.http.post("/api/v1/accommodations", json=site, headers=province), 201))[
        "district"
    ] == "Bắc Giang"
    client = {"name": "Ban chỉ đạo Việt Yên", "role": "authority", "district": "Huyện Việt Yên"}
    made = await ok(await stack.http.post("/api/v1/clients", json=client, headers=province), 201)
    assert made["district"] == "Việt Yên"
    for spelling in ("Việt Yên", "Huyện Việt Yên", "viet yen"):  # a token issued before, or after
        district = bearer(stack.token("authority", district=spelling))
        r = await stack.http.get(f"/api/v1/enterprises/{created['id']}", headers=district)
        assert r.status_code == 200, (spelling, r.text)
        listed = await ok(
            await stack.http.get("/api/v1/enterprises", params={"district": "Viet Yen"}, headers=district)
        )
        assert [e["id"] for e in listed["items"]] == [created["id"]], spelling
