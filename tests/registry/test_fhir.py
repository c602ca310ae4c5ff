"""FHIR R4 (issue 16) against real PostgreSQL: every resource the registry emits validates with
``fhir.resources`` (its R4B models: R4's Patient, Immunization, Observation, Organization and
Bundle unchanged for what is used here); national IDs follow the caller's masking rule; the bulk
NDJSON export holds exactly the caller's scope; a lab's Bundle goes through the JSON batch's
ingest and outcomes."""

from __future__ import annotations

import uuid
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import orjson
import pytest
from fhir.resources.R4B import get_fhir_model_class

from safework_common.fhir import FHIR_NDJSON
from tests.callers import PROVINCE, As, district_authority, enterprise, lab, worker
from tests.registry.factories import DISTRICT, OTHER_DISTRICT, Seed, cipher_for

TZ = ZoneInfo("Asia/Ho_Chi_Minh")


@pytest.fixture
def seed(db: str, keys_dir: Path) -> Seed:
    return Seed(db, cipher_for(keys_dir))


def valid(resource: dict[str, Any]) -> Any:
    """The resource parsed by the FHIR model library (raises on anything not valid FHIR)."""
    return get_fhir_model_class(resource["resourceType"]).model_validate(resource)


class World:
    async def build(self, seed: Seed) -> None:
        self.a = await seed.enterprise(district=DISTRICT)
        self.b = await seed.enterprise(district=OTHER_DISTRICT, zone_type="CCN")
        (self.p1, self.nid1), (self.p2, _) = await seed.people(self.a, 2)
        ((self.p3, _),) = await seed.people(self.b, 1)
        self.lab = await seed.lab()
        await seed.product("AZ", min_interval_days=56)
        await seed.dose(self.p1, 1, "AZ", datetime(2021, 8, 1, 9, tzinfo=TZ), site="TTYT Việt Yên", lot="ABV1234")
        await seed.dose(self.p1, 2, "AZ", datetime(2021, 9, 26, 9, tzinfo=TZ), lot="ABV5678")


def batch(w: World) -> dict[str, Any]:
    return {
        "items": [
            {"sample_id": "S-1", "person_id": str(w.p1), "kind": "PCR", "collected_at": "2021-09-13T07:30:00+07:00",
             "resulted_at": "2021-09-13T15:00:00+07:00", "result": "NEGATIVE"},
            {"sample_id": "S-2", "person_id": str(w.p1), "kind": "RAPID_ANTIGEN",
             "collected_at": "2021-09-14T07:30:00+07:00", "resulted_at": "2021-09-14T07:50:00+07:00",
             "result": "POSITIVE"},
            {"type": "pool", "pool_sample_id": "P-1", "members": [{"person_id": str(w.p2)}, {"person_id": str(w.p3)}],
             "collected_at": "2021-09-13T08:00:00+07:00", "resulted_at": "2021-09-13T18:00:00+07:00",
             "result": "NEGATIVE"},
        ]
    }  # fmt: skip


async def test_a_patient_and_everything_about_them(seed: Seed, api: As) -> None:
    w = World()
    await w.build(seed)
    r = await api(PROVINCE).post(f"/v1/labs/{w.lab}/results", json=batch(w))
    assert r.status_code == 200 and r.json()["accepted"] == 3, r.text

    # The national ID: in full to the authority, masked (as PersonOut) to the enterprise.
    r = await api(PROVINCE).get(f"/v1/fhir/Patient/{w.p1}")
    assert r.status_code == 200 and r.headers["content-type"] == "application/fhir+json", r.text
    patient = valid(r.json())
    assert patient.identifier[0].value == w.nid1 and patient.identifier[0].type.coding[0].code == "NI"
    assert patient.managingOrganization.reference == f"Organization/{w.a}"
    r = await api(enterprise(w.a)).get(f"/v1/fhir/Patient/{w.p1}")
    assert valid(r.json()).identifier[0].value == "********" + w.nid1[-4:]
    r = await api(worker(w.p1, w.a)).get(f"/v1/fhir/Patient/{w.p1}")
    assert r.status_code == 200 and valid(r.json()).identifier[0].value.startswith("****")
    for caller in (enterprise(w.b), district_authority(OTHER_DISTRICT), worker(w.p2, w.a)):
        r = await api(caller).get(f"/v1/fhir/Patient/{w.p1}")
        assert r.status_code == 404 and r.json()["error"]["code"] == "person_not_found", caller
    r = await api(lab(w.lab)).get(f"/v1/fhir/Patient/{w.p1}")
    assert r.status_code == 403 and r.json()["error"]["code"] == "role_not_allowed"

    r = await api(PROVINCE).get(f"/v1/fhir/Patient/{w.p1}/$everything")
    assert r.status_code == 200, r.text
    bundle = valid(r.json())
    kinds = [e.resource.get_resource_type() for e in bundle.entry]
    assert kinds == ["Patient", "Organization", "Organization", "Immunization", "Immunization", "Observation",
                     "Observation"]  # fmt: skip
    doses = [e.resource for e in bundle.entry if e.resource.get_resource_type() == "Immunization"]
    lots = [(d.protocolApplied[0].doseNumberPositiveInt, d.lotNumber) for d in doses]
    assert lots == [(1, "ABV1234"), (2, "ABV5678")]
    assert doses[0].vaccineCode.coding[0].code == "210"  # CVX AstraZeneca
    assert doses[0].occurrenceDateTime.isoformat() == "2021-08-01T09:00:00+07:00"
    observations = [e.resource for e in bundle.entry if e.resource.get_resource_type() == "Observation"]
    # LOINC: 94500-6 RT-PCR, 94558-4 rapid antigen; SNOMED CT not detected / detected.
    assert [(o.code.coding[0].code, o.valueCodeableConcept.coding[0].code) for o in observations] == [
        ("94500-6", "260415000"),
        ("94558-4", "260373001"),
    ]
    # seeds/001 (mẫu gộp): a negative pool's member has a pooled negative PCR, marked as such.
    r = await api(PROVINCE).get(f"/v1/fhir/Patient/{w.p2}/$everything")
    (pooled,) = [e.resource for e in valid(r.json()).entry if e.resource.get_resource_type() == "Observation"]
    assert pooled.method.coding[0].code == "pooled" and pooled.identifier[0].value == "P-1#1"


def ndjson(body: bytes) -> list[dict[str, Any]]:
    return [orjson.loads(line) for line in body.splitlines() if line]


async def test_bulk_export_is_the_callers_scope_as_ndjson(seed: Seed, api: As) -> None:
    w = World()
    await w.build(seed)
    assert (await api(PROVINCE).post(f"/v1/labs/{w.lab}/results", json=batch(w))).status_code == 200
    r = await api(PROVINCE).get("/v1/fhir/export")
    assert r.status_code == 200 and r.headers["content-type"] == FHIR_NDJSON, r.text
    lines = ndjson(r.content)
    for resource in lines:
        valid(resource)
    kinds = [x["resourceType"] for x in lines]
    # Organizations (2 enterprises, 1 lab), 3 patients, 2 doses, 4 results (2 single, 2 pooled).
    assert kinds == ["Organization"] * 3 + ["Patient"] * 3 + ["Immunization"] * 2 + ["Observation"] * 4
    patients = {x["id"]: x for x in lines if x["resourceType"] == "Patient"}
    assert patients[str(w.p1)]["identifier"][0]["value"] == w.nid1

    r = await api(district_authority(OTHER_DISTRICT)).get("/v1/fhir/export", params={"_type": "Patient,Observation"})
    lines = ndjson(r.content)
    assert [(x["resourceType"], x.get("id")) for x in lines if x["resourceType"] == "Patient"] == [
        ("Patient", str(w.p3))
    ]
    assert {x["subject"]["reference"] for x in lines if x["resourceType"] == "Observation"} == {f"Patient/{w.p3}"}

    r = await api(enterprise(w.a)).get("/v1/fhir/export", params={"_type": "Organization,Patient"})
    lines = ndjson(r.content)
    assert [x["id"] for x in lines] == [str(w.a), *sorted([str(w.p1), str(w.p2)])]
    assert all(x["identifier"][0]["value"].startswith("********") for x in lines if x["resourceType"] == "Patient")

    r = await api(PROVINCE).get("/v1/fhir/export", params={"_type": "Patient,Encounter"})
    assert r.status_code == 422 and r.json()["error"]["code"] == "unknown_resource_type"
    assert r.json()["error"]["details"][0]["field"] == "query._type"
    for caller in (lab(w.lab), worker(w.p1, w.a)):
        r = await api(caller).get("/v1/fhir/export")
        assert r.status_code == 403 and r.json()["error"]["code"] == "role_not_allowed"


def observation(person: uuid.UUID, sample: str, loinc: str = "94500-6", snomed: str = "260415000") -> dict[str, Any]:
    return {
        "resourceType": "Observation",
        "status": "final",
        "identifier": [{"value": sample}],
        "code": {"coding": [{"system": "http://loinc.org", "code": loinc}]},
        "subject": {"reference": f"Patient/{person}"},
        "effectiveDateTime": "2021-09-13T07:30:00+07:00",
        "issued": "2021-09-13T15:00:00+07:00",
        "valueCodeableConcept": {"coding": [{"system": "http://snomed.info/sct", "code": snomed}]},
    }


async def test_a_lab_posts_a_fhir_bundle_through_the_same_ingest(seed: Seed, api: As) -> None:
    w = World()
    await w.build(seed)
    entries = [
        observation(w.p1, "F-1"),
        observation(w.p2, "F-2", "94558-4", "260373001"),
        observation(uuid.uuid4(), "F-3"),  # nobody: rejected per item, as in the JSON batch
    ]
    bundle = {"resourceType": "Bundle", "type": "batch", "entry": [{"resource": valid(e).model_dump(mode="json")}
                                                                      for e in entries]}  # fmt: skip
    r = await api(lab(w.lab)).post(f"/v1/labs/{w.lab}/results/fhir", json=bundle)
    assert r.status_code == 200, r.text
    out = r.json()
    assert (out["accepted"], out["rejected"]) == (2, 1)
    assert out["items"][2]["code"] == "person_not_found"
    assert await seed.count("test_result", "sample_id LIKE 'F-%'") == 2
    # Posted again: duplicates, nothing new.
    r = await api(lab(w.lab)).post(f"/v1/labs/{w.lab}/results/fhir", json=bundle)
    assert r.json()["duplicate"] == 2

    # A Bundle that cannot be read as results is refused whole, naming the entry's field.
    bad_cases = [
        ({"resourceType": "Patient"}, "body.resourceType", 422),
        ({"resourceType": "Bundle", "entry": [{"resource": {"resourceType": "Patient"}}]},
         "body.entry[0].resource.resourceType", 422),
        ({"resourceType": "Bundle", "entry": [{"resource": observation(w.p1, "X-1", loinc="12345-6")}]},
         "body.entry[0].resource.code", 422),
        ({"resourceType": "Bundle", "entry": [{"resource": observation(w.p1, "X-2", snomed="1")}]},
         "body.entry[0].resource.valueCodeableConcept", 422),
        ({"resourceType": "Bundle", "entry": [{"resource": {**observation(w.p1, "X-3"), "issued": "2021-09-13"}}]},
         "body.entry[0].resource.issued", 422),
        ({"resourceType": "Bundle", "entry": [{"resource": {**observation(w.p1, "X-4"), "subject": {}}}]},
         "body.entry[0].resource.subject", 422),
    ]  # fmt: skip
    for body, field, status in bad_cases:
        r = await api(lab(w.lab)).post(f"/v1/labs/{w.lab}/results/fhir", json=body)
        assert r.status_code == status, (body, r.text)
        error = r.json()["error"]
        fields = {error.get("field"), *(d["field"] for d in error.get("details", []))}
        assert field in fields, (field, error)
    assert await seed.count("test_result", "sample_id LIKE 'X-%'") == 0
    # Another lab's path: 404, as the JSON batch.
    r = await api(lab(uuid.uuid4())).post(f"/v1/labs/{w.lab}/results/fhir", json=bundle)
    assert r.status_code == 404 and r.json()["error"]["code"] == "lab_not_found"
