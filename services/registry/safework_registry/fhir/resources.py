"""Registry rows as FHIR R4 resources (plain dicts; pure, no I/O).

- ``Patient``: the person's id; the national ID as an identifier (type v2-0203 ``NI``) shown as
  the caller's role may see it (in full to the authority, masked to everyone else, exactly as
  ``PersonOut``); name, gender, birth date, the employer as ``managingOrganization``.
- ``Immunization``: a dose: CVX and our product code, the date, lot, site, dose number.
- ``Observation``: a test result, LOINC coded (RT-PCR 94500-6, rapid antigen 94558-4), the value
  a SNOMED CT qualifier (detected / not detected / invalid); a member's result from a negative
  pool is marked ``pooled`` (``method``) and names the pool's sample.
- ``Organization``: an enterprise (tax code, district, zone) or a lab (licence code).
"""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Any, Final

from safework_common.fhir import (
    CVX,
    LAB_LICENCE_SYSTEM,
    NATIONAL_ID_SYSTEM,
    OBSERVATION_CATEGORY,
    ORGANIZATION_TYPE,
    POOLING_SYSTEM,
    PRODUCT_SYSTEM,
    RESULT_CODES,
    SAMPLE_SYSTEM_PREFIX,
    SNOMED,
    TAX_CODE_SYSTEM,
    TEST_CODES,
    V2_IDENTIFIER_TYPE,
    coding,
    cvx_of,
    split_name,
)
from safework_common.timezone import LOCAL_TZ

PROVINCE: Final = "Bắc Giang"
_NI_TYPE: Final = {"coding": [{"system": V2_IDENTIFIER_TYPE, "code": "NI"}], "text": "National identity number"}
_LAB_CATEGORY: Final = [{"coding": [coding(OBSERVATION_CATEGORY, "laboratory")]}]
_GENDER: Final = {"male": "male", "female": "female", "other": "other"}
_CODES: Final = {
    kind: {"coding": [{"system": "http://loinc.org", "code": code, "display": display}], "text": display}
    for kind, (code, display) in TEST_CODES.items()
}
_VALUES: Final = {
    result: {"coding": [{"system": SNOMED, "code": code, "display": display}], "text": display}
    for result, (code, display) in RESULT_CODES.items()
}
_POOLED: Final = {"coding": [coding(POOLING_SYSTEM, "pooled", "Pooled sample")]}
_INDIVIDUAL: Final = {"coding": [coding(POOLING_SYSTEM, "individual", "Individual sample")]}


def instant(value: datetime) -> datetime:
    """An instant in local time (+07:00), as every answer of the API gives it. Left a datetime:
    the resources are written by orjson, whose RFC 3339 text is ``isoformat()``'s (microseconds
    only when there are some), made in C."""
    return value.astimezone(LOCAL_TZ)


def patient(
    person_id: uuid.UUID,
    national_id: str,
    full_name: str,
    sex: str,
    birth_date: date,
    enterprise_id: uuid.UUID | None,
    status: str,
) -> dict[str, Any]:
    out: dict[str, Any] = {
        "resourceType": "Patient",
        "id": str(person_id),
        "identifier": [{"use": "official", "type": _NI_TYPE, "system": NATIONAL_ID_SYSTEM, "value": national_id}],
        "active": True,
        "name": [{"use": "official", "text": full_name, **split_name(full_name)}],
        "gender": _GENDER.get(sex, "unknown"),
        "birthDate": birth_date.isoformat(),
    }
    if enterprise_id is not None and status == "active":
        out["managingOrganization"] = {"reference": f"Organization/{enterprise_id}"}
    return out


def immunization(
    dose_id: int,
    person_id: uuid.UUID,
    dose_number: int,
    product_code: str,
    administered_at: datetime,
    lot: str | None,
    site: str | None,
) -> dict[str, Any]:
    out: dict[str, Any] = {
        "resourceType": "Immunization",
        "id": f"dose-{dose_id}",
        "status": "completed",
        "vaccineCode": {
            "coding": [
                {"system": CVX, "code": cvx_of(product_code)},
                {"system": PRODUCT_SYSTEM, "code": product_code},
            ]
        },
        "patient": {"reference": f"Patient/{person_id}"},
        "occurrenceDateTime": instant(administered_at),
        "primarySource": True,
        "protocolApplied": [{"doseNumberPositiveInt": dose_number}],
    }
    if lot:
        out["lotNumber"] = lot
    if site:
        out["performer"] = [{"actor": {"display": site}}]
    return out


def observation(
    result_id: int,
    person_id: uuid.UUID,
    lab_id: uuid.UUID,
    sample_id: str,
    kind: str,
    collected_at: datetime,
    resulted_at: datetime,
    result: str,
    pooled: bool,
) -> dict[str, Any]:
    out: dict[str, Any] = {
        "resourceType": "Observation",
        "id": f"result-{result_id}",
        "identifier": [{"system": f"{SAMPLE_SYSTEM_PREFIX}{lab_id}", "value": sample_id}],
        "status": "final",
        "category": _LAB_CATEGORY,
        "code": _CODES[kind],
        "subject": {"reference": f"Patient/{person_id}"},
        "effectiveDateTime": instant(collected_at),
        "issued": instant(resulted_at),
        "performer": [{"reference": f"Organization/{lab_id}"}],
        "valueCodeableConcept": _VALUES[result],
        "method": _POOLED if pooled else _INDIVIDUAL,
    }
    if pooled:
        # A member of a negative pool: ``<pool sample id>#<position>`` (seeds/001: mẫu gộp).
        out["note"] = [{"text": f"Member of pooled sample {sample_id.rpartition('#')[0] or sample_id}."}]
    return out


def enterprise(
    enterprise_id: uuid.UUID, tax_code: str, name: str, district: str, zone_type: str, zone_name: str | None
) -> dict[str, Any]:
    zone = {"KCN": "industrial park", "CCN": "industrial cluster", "OUTSIDE": "outside parks and clusters"}
    return {
        "resourceType": "Organization",
        "id": str(enterprise_id),
        "identifier": [{"system": TAX_CODE_SYSTEM, "value": tax_code}],
        "active": True,
        "type": [{"coding": [coding(ORGANIZATION_TYPE, "bus", "Non-Healthcare Business or Corporation")]}],
        "name": name,
        "alias": [f"{zone.get(zone_type, zone_type)}{': ' + zone_name if zone_name else ''}"],
        "address": [{"district": district, "state": PROVINCE, "country": "VN"}],
    }


def lab(lab_id: uuid.UUID, name: str, licence_code: str, active: bool) -> dict[str, Any]:
    return {
        "resourceType": "Organization",
        "id": str(lab_id),
        "identifier": [{"system": LAB_LICENCE_SYSTEM, "value": licence_code}],
        "active": active,
        "type": [{"coding": [coding(ORGANIZATION_TYPE, "prov", "Healthcare Provider")]}],
        "name": name,
    }
