"""Safework's records as FHIR R4 resources (plain dicts, serialised with orjson: the tests hold
every kind to the FHIR R4B models of ``fhir.resources``, whose Patient, Immunization,
Observation, Organization and Bundle are R4's).

- ``Patient``: the person; the national ID is an identifier, in full for the authority and
  masked (``********1234``) for everyone else, as on every other route;
- ``Immunization``: a dose (product, lot, date, dose number);
- ``Observation``: a test result (LOINC for the kind, SNOMED CT for the value), a pooled one
  marked with the pool's sample ID;
- ``Organization``: an enterprise (with its tax code and district) or a lab."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime
from typing import Any

from safework_registry.fhir import codes
from safework_registry.persons.national_id import NationalIdCipher, mask

Row = Any  # a mapping of columns (SQLAlchemy RowMapping or dict)


def _instant(value: datetime) -> str:
    return value.isoformat()


def national_id(cipher: NationalIdCipher, reveal: bool) -> Callable[[Row], str]:
    """The number as the caller may see it: decrypted for the authority, masked otherwise."""
    if reveal:
        return lambda row: cipher.decrypt(bytes(row["national_id_enc"]))
    return lambda row: mask(row["national_id_last4"])


def patient(row: Row, shown_id: str) -> dict[str, Any]:
    birth: date = row["date_of_birth"]
    out: dict[str, Any] = {
        "resourceType": "Patient",
        "id": str(row["id"]),
        "identifier": [
            {"system": codes.PERSON_SYSTEM, "value": str(row["id"])},
            {
                "system": codes.NATIONAL_ID_SYSTEM,
                "value": shown_id,
                "type": {"text": "CCCD/CMND" if not shown_id.startswith("*") else "CCCD/CMND (masked)"},
            },
        ],
        "active": row["status"] == "active",
        "name": [{"text": row["full_name"]}],
        "gender": row["sex"],
        "birthDate": birth.isoformat(),
    }
    if row.get("phone"):
        out["telecom"] = [{"system": "phone", "value": row["phone"], "use": "mobile"}]
    if row.get("employee_code"):
        out["identifier"].append({"system": codes.EMPLOYEE_SYSTEM, "value": row["employee_code"]})
    if row.get("enterprise_id"):
        out["managingOrganization"] = {"reference": f"Organization/{row['enterprise_id']}"}
    return out


def immunization(row: Row) -> dict[str, Any]:
    out: dict[str, Any] = {
        "resourceType": "Immunization",
        "id": f"dose-{row['id']}",
        "status": "completed",
        "vaccineCode": {
            "coding": [{"system": codes.VACCINE_SYSTEM, "code": row["product_code"], "display": row["product_name"]}],
            "text": row["product_name"],
        },
        "patient": {"reference": f"Patient/{row['person_id']}"},
        "occurrenceDateTime": _instant(row["administered_at"]),
        "primarySource": True,
        "protocolApplied": [{"doseNumberPositiveInt": row["dose_number"]}],
    }
    if row.get("lot"):
        out["lotNumber"] = row["lot"]
    return out


def observation(row: Row) -> dict[str, Any]:
    loinc, loinc_display = codes.KIND_LOINC[row["kind"]]
    snomed, snomed_display = codes.RESULT_SNOMED[row["result"]]
    out: dict[str, Any] = {
        "resourceType": "Observation",
        "id": f"result-{row['id']}",
        "identifier": [{"system": f"{codes.SAMPLE_SYSTEM}:{row['lab_id']}", "value": row["sample_id"]}],
        "status": "final",
        "category": [{"coding": [{"system": codes.OBS_CATEGORY_SYSTEM, "code": "laboratory"}]}],
        "code": {"coding": [{"system": codes.LOINC, "code": loinc, "display": loinc_display}]},
        "subject": {"reference": f"Patient/{row['person_id']}"},
        "effectiveDateTime": _instant(row["collected_at"]),
        "issued": _instant(row["resulted_at"]),
        "performer": [{"reference": f"Organization/{row['lab_id']}"}],
        "valueCodeableConcept": {"coding": [{"system": codes.SNOMED, "code": snomed, "display": snomed_display}]},
    }
    if row["pooled"]:
        out["method"] = {"text": "Pooled sample (seeds/001: pools of 10 or 20)"}
        if row.get("pool_sample_id"):
            out["extension"] = [{"url": codes.POOL_EXTENSION, "valueString": row["pool_sample_id"]}]
    return out


def enterprise(row: Row) -> dict[str, Any]:
    return {
        "resourceType": "Organization",
        "id": str(row["id"]),
        "identifier": [{"system": codes.TAX_CODE_SYSTEM, "value": row["tax_code"]}],
        "active": row["operating_status"] == "cleared",
        "type": [
            {"coding": [{"system": codes.ORG_TYPE_SYSTEM, "code": "bus"}], "text": f"Enterprise ({row['zone_type']})"}
        ],
        "name": row["name"],
        "address": [{"district": row["district"], "state": "Bắc Giang", "country": "VN"}],
    }


def lab(row: Row) -> dict[str, Any]:
    return {
        "resourceType": "Organization",
        "id": str(row["id"]),
        "identifier": [{"system": codes.LAB_SYSTEM, "value": row["licence_code"]}],
        "active": bool(row["active"]),
        "type": [{"coding": [{"system": codes.ORG_TYPE_SYSTEM, "code": "prov"}], "text": "Testing laboratory"}],
        "name": row["name"],
    }
