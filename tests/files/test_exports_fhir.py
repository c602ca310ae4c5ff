"""Exports and FHIR (issue 16) through the gateway: the JSON routes' filters and scope, whole
files, formula injection neutralised, FHIR resources valid against the FHIR R4B models of
``fhir.resources`` (R4B's Patient, Immunization, Observation, Organization and Bundle are R4's)."""

from __future__ import annotations

import csv
import io
from typing import Any

import orjson
from fhir.resources.R4B.bundle import Bundle
from fhir.resources.R4B.immunization import Immunization
from fhir.resources.R4B.observation import Observation
from fhir.resources.R4B.organization import Organization
from fhir.resources.R4B.patient import Patient
from openpyxl import load_workbook

from tests.gateway.conftest import Stack, bearer
from tests.gateway.world import DISTRICT_A, DISTRICT_B, enterprise, lab, ok

AS_OF = "2021-09-20T12:00:00%2B07:00"
MODELS: dict[str, Any] = {
    "Patient": Patient,
    "Immunization": Immunization,
    "Observation": Observation,
    "Organization": Organization,
}


def rows(content: bytes) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(content.decode("utf-8-sig"))))


async def test_due_exports_follow_the_json_routes_scope_and_neutralise_formulas(stack: Stack) -> None:
    a = await enterprise(stack, DISTRICT_A, people=2)
    b = await enterprise(stack, DISTRICT_B, people=1)
    province = stack.province()
    evil = '=HYPERLINK("http://x","click")'
    await ok(await stack.http.patch(f"/api/v1/persons/{a.people[0]}", json={"full_name": evil}, headers=province))

    r = await stack.http.get(f"/api/v1/exports/due.csv?as_of={AS_OF}&status=all", headers=province)
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    got = rows(r.content)
    assert {g["person_id"] for g in got} == {*a.people, *b.people}
    assert {g["status"] for g in got} == {"overdue"}  # never tested: overdue and not cleared
    assert [g["full_name"] for g in got if g["person_id"] == a.people[0]] == ["'" + evil]

    # A district authority: its district only; naming the other is 404, as on /due.
    district = bearer(stack.token("authority", district=DISTRICT_A))
    mine = rows((await stack.http.get(f"/api/v1/exports/due.csv?as_of={AS_OF}&status=all", headers=district)).content)
    assert {g["person_id"] for g in mine} == set(a.people)
    other = await stack.http.get(f"/api/v1/exports/due.csv?district={DISTRICT_B}", headers=district)
    assert other.status_code == 404 and other.json()["error"]["code"] == "district_not_found"

    # An enterprise: its own due list as XLSX; another's is 404; the province's export is 403.
    x = await stack.http.get(f"/api/v1/enterprises/{a.enterprise_id}/exports/due.xlsx", headers=a.headers)
    assert x.status_code == 200
    sheet = load_workbook(io.BytesIO(x.content), read_only=True).active
    assert sheet is not None
    values = list(sheet.iter_rows(values_only=True))
    assert values[0][:3] == ("enterprise_id", "enterprise", "district") and len(values) == 3
    names = [v[5] for v in values[1:]]
    assert "'" + evil in names  # a string cell, never a formula
    assert (
        await stack.http.get(f"/api/v1/enterprises/{b.enterprise_id}/exports/due.csv", headers=a.headers)
    ).status_code == 404
    assert (await stack.http.get("/api/v1/exports/due.csv", headers=a.headers)).status_code == 403
    bad = await stack.http.get("/api/v1/exports/due.pdf", headers=province)
    assert bad.status_code == 422


async def test_violations_coverage_queue_and_plan_exports(stack: Stack) -> None:
    a = await enterprise(stack, DISTRICT_A, people=3)
    province = stack.province()
    product = {"code": "AZD1222", "name": "AstraZeneca", "min_interval_days": 56}
    await ok(await stack.http.post("/api/v1/vaccine-products", json=product, headers=province), 201)
    dose = {"dose_number": 1, "product_code": "AZD1222", "administered_at": "2021-09-01T09:00:00+07:00"}
    await ok(await stack.http.post(f"/api/v1/persons/{a.people[0]}/doses", json=dose, headers=province), 201)

    cov = rows((await stack.http.get(f"/api/v1/exports/coverage.csv?as_of={AS_OF}", headers=province)).content)
    assert [(c["district"], c["zone_type"], c["people"], c["dose_1"], c["dose_2"]) for c in cov] == [
        (DISTRICT_A, "KCN", "3", "1", "0")
    ]
    assert cov[0]["not_cleared"] == "3"

    queue = await stack.http.get(f"/api/v1/exports/vaccine-queue.csv?as_of={AS_OF}", headers=province)
    json_queue = await ok(await stack.http.get(f"/api/v1/vaccines/queue?as_of={AS_OF}&limit=1000", headers=province))
    assert [q["person_id"] for q in rows(queue.content)] == [i["person_id"] for i in json_queue["items"]]

    plan = await stack.http.post(
        "/api/v1/exports/vaccine-plan.csv",
        json={"daily_capacity": 1, "as_of": "2021-09-20T12:00:00+07:00"},
        headers=province,
    )
    assert plan.status_code == 200
    assert {p["tier"] for p in rows(plan.content)} >= {"all"}
    v = await stack.http.get(f"/api/v1/exports/violations.xlsx?as_of={AS_OF}", headers=province)
    assert v.status_code == 200 and v.content[:2] == b"PK"
    refused = await stack.http.post("/api/v1/exports/vaccine-plan.csv", json={"daily_capacity": 0}, headers=province)
    assert refused.status_code == 422


async def _world_with_records(stack: Stack) -> tuple[Any, Any, str]:
    a = await enterprise(stack, DISTRICT_A, people=2)
    b = await enterprise(stack, DISTRICT_B, people=1)
    province = stack.province()
    product = {"code": "AZD1222", "name": "AstraZeneca", "min_interval_days": 56}
    await ok(await stack.http.post("/api/v1/vaccine-products", json=product, headers=province), 201)
    dose = {"dose_number": 1, "product_code": "AZD1222", "administered_at": "2021-09-01T09:00:00+07:00", "lot": "A1"}
    await ok(await stack.http.post(f"/api/v1/persons/{a.people[0]}/doses", json=dose, headers=province), 201)
    lab_id = await lab(stack)
    when = {"collected_at": "2021-09-15T07:30:00+07:00", "resulted_at": "2021-09-15T18:00:00+07:00"}
    items = [
        {"sample_id": "F-1", "person_id": a.people[0], "kind": "RAPID_ANTIGEN", "result": "NEGATIVE", **when},
        {
            "type": "pool",
            "pool_sample_id": "FP-1",
            "result": "NEGATIVE",
            **when,
            "members": [{"person_id": a.people[1]}, {"person_id": b.people[0]}],
        },
    ]
    body = await ok(
        await stack.http.post(
            f"/api/v1/labs/{lab_id}/results", json={"items": items}, headers=bearer(stack.token("lab", lab_id=lab_id))
        )
    )
    assert body["accepted"] == 2
    return a, b, lab_id


async def test_a_persons_bundle_is_valid_fhir_and_masks_the_id_for_the_enterprise(stack: Stack) -> None:
    a, b, _lab = await _world_with_records(stack)
    province = stack.province()
    r = await stack.http.get(f"/api/v1/fhir/persons/{a.people[0]}", headers=province)
    assert r.status_code == 200 and r.headers["content-type"] == "application/fhir+json"
    bundle = Bundle.model_validate(r.json())
    kinds = sorted(e.resource.get_resource_type() for e in bundle.entry or [])
    assert kinds == ["Immunization", "Observation", "Organization", "Organization", "Patient"]
    patient = next(e["resource"] for e in r.json()["entry"] if e["resource"]["resourceType"] == "Patient")
    ids = {i["system"]: i["value"] for i in patient["identifier"]}
    assert ids["urn:safework:vn:national-id"] == a.national_ids[0]
    imm = next(e["resource"] for e in r.json()["entry"] if e["resource"]["resourceType"] == "Immunization")
    assert (imm["lotNumber"], imm["protocolApplied"][0]["doseNumberPositiveInt"]) == ("A1", 1)
    obs = next(e["resource"] for e in r.json()["entry"] if e["resource"]["resourceType"] == "Observation")
    assert obs["code"]["coding"][0]["code"] == "94558-4"  # LOINC: SARS-CoV-2 Ag rapid immunoassay

    mine = await ok(await stack.http.get(f"/api/v1/fhir/persons/{a.people[1]}", headers=a.headers))
    patient = mine["entry"][0]["resource"]
    assert {i["value"] for i in patient["identifier"]} >= {"********" + a.national_ids[1][-4:]}
    assert a.national_ids[1] not in orjson.dumps(mine).decode()
    pooled = [e["resource"] for e in mine["entry"] if e["resource"]["resourceType"] == "Observation"]
    assert pooled[0]["extension"][0]["valueString"] == "FP-1" and pooled[0]["code"]["coding"][0]["code"] == "94500-6"
    assert (await stack.http.get(f"/api/v1/fhir/persons/{b.people[0]}", headers=a.headers)).status_code == 404


async def test_the_bulk_export_is_ndjson_of_valid_resources_in_the_callers_reach(stack: Stack) -> None:
    a, b, _lab = await _world_with_records(stack)
    r = await stack.http.get("/api/v1/fhir/$export", headers=stack.province())
    assert r.status_code == 200 and r.headers["content-type"].startswith("application/fhir+ndjson")
    lines = [orjson.loads(line) for line in r.content.splitlines()]
    for resource in lines:
        MODELS[resource["resourceType"]].model_validate(resource)
    by_type: dict[str, int] = {}
    for resource in lines:
        by_type[resource["resourceType"]] = by_type.get(resource["resourceType"], 0) + 1
    # 2 enterprises + 1 lab; 3 people; 1 dose; 1 antigen + 2 pooled negatives.
    assert by_type == {"Organization": 3, "Patient": 3, "Immunization": 1, "Observation": 3}

    mine = [
        orjson.loads(x) for x in (await stack.http.get("/api/v1/fhir/$export", headers=a.headers)).content.splitlines()
    ]
    patients = [x for x in mine if x["resourceType"] == "Patient"]
    assert {p["id"] for p in patients} == set(a.people)
    assert all(i["value"].startswith("*") for p in patients for i in p["identifier"] if "national-id" in i["system"])
    assert b.people[0] not in orjson.dumps(mine).decode()
    only = await stack.http.get("/api/v1/fhir/$export?_type=Patient", headers=a.headers)
    assert {orjson.loads(x)["resourceType"] for x in only.content.splitlines()} == {"Patient"}
    assert (await stack.http.get("/api/v1/fhir/$export?_type=Claim", headers=a.headers)).status_code == 422
    other = await stack.http.get(f"/api/v1/fhir/$export?enterprise_id={b.enterprise_id}", headers=a.headers)
    assert other.status_code == 404


async def test_a_lab_posts_a_fhir_bundle_of_observations(stack: Stack) -> None:
    a = await enterprise(stack, DISTRICT_A, people=1)
    lab_id = await lab(stack)
    observation = {
        "resourceType": "Observation",
        "status": "final",
        "identifier": [{"system": f"urn:safework:lab-sample:{lab_id}", "value": "FB-1"}],
        "code": {"coding": [{"system": "http://loinc.org", "code": "94500-6"}]},
        "subject": {"identifier": {"system": "urn:safework:vn:national-id", "value": a.national_ids[0]}},
        "effectiveDateTime": "2021-09-15T07:30:00+07:00",
        "issued": "2021-09-15T18:00:00+07:00",
        "valueCodeableConcept": {"coding": [{"system": "http://snomed.info/sct", "code": "260385009"}]},
    }
    Observation.model_validate(observation)
    naive = {**observation, "identifier": [{"value": "FB-2"}], "effectiveDateTime": "2021-09-15T07:30:00"}
    unknown = {**observation, "code": {"coding": [{"system": "http://loinc.org", "code": "1234-5"}]}}
    bundle = {
        "resourceType": "Bundle",
        "type": "collection",
        "entry": [{"resource": r} for r in (observation, naive, unknown)],
    }
    headers = {**bearer(stack.token("lab", lab_id=lab_id)), "content-type": "application/fhir+json"}
    body = await ok(
        await stack.http.post(f"/api/v1/labs/{lab_id}/results", content=orjson.dumps(bundle), headers=headers)
    )
    assert [(o["status"], o.get("code"), o.get("field")) for o in body["items"]] == [
        ("accepted", None, None),
        ("rejected", "timezone_aware", "body.items[1].collected_at"),
        ("rejected", "invalid_fhir_observation", "body.entry[2].resource"),
    ]
    not_a_bundle = await stack.http.post(
        f"/api/v1/labs/{lab_id}/results", content=b'{"resourceType": "Patient"}', headers=headers
    )
    assert not_a_bundle.status_code == 422 and not_a_bundle.json()["error"]["code"] == "invalid_fhir_bundle"
