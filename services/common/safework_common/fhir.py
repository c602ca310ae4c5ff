"""FHIR R4 (4.0.1) code systems and small helpers shared by the gateway's SMART Health Card and
the registry's FHIR routes. Resources are built as plain dicts (serialised with orjson on the hot
path); the tests validate them with ``fhir.resources.R4B`` models."""

from __future__ import annotations

from typing import Any, Final

FHIR_VERSION: Final = "4.0.1"
FHIR_JSON: Final = "application/fhir+json"
FHIR_NDJSON: Final = "application/fhir+ndjson"

CVX: Final = "http://hl7.org/fhir/sid/cvx"
LOINC: Final = "http://loinc.org"
SNOMED: Final = "http://snomed.info/sct"
V2_IDENTIFIER_TYPE: Final = "http://terminology.hl7.org/CodeSystem/v2-0203"
ORGANIZATION_TYPE: Final = "http://terminology.hl7.org/CodeSystem/organization-type"
OBSERVATION_CATEGORY: Final = "http://terminology.hl7.org/CodeSystem/observation-category"
# Our own systems (URNs: nothing to resolve): the national ID, tax codes, lab licences, our
# vaccine product codes, a lab's sample IDs, and whether a sample was pooled.
NATIONAL_ID_SYSTEM: Final = "urn:safework:vn-national-id"
TAX_CODE_SYSTEM: Final = "urn:safework:vn-tax-code"
LAB_LICENCE_SYSTEM: Final = "urn:safework:lab-licence"
PRODUCT_SYSTEM: Final = "urn:safework:vaccine-product"
SAMPLE_SYSTEM_PREFIX: Final = "urn:safework:lab-sample:"
POOLING_SYSTEM: Final = "urn:safework:sample-pooling"

# Our product codes (the seeds' short ones and the long ones) to CDC CVX codes; 500: a COVID-19
# vaccine with no code of its own (Sputnik V), as CVX says for non-US products.
CVX_CODES: Final = {
    "AZ": "210",
    "AZD1222": "210",
    "PF": "208",
    "BNT162B2": "208",
    "MO": "207",
    "MRNA-1273": "207",
    "VC": "510",
    "VERO-CELL": "510",
    "SINOPHARM": "510",
    "SINOVAC": "511",
    "JNJ": "212",
    "SP": "500",
    "SPUTNIK-V": "500",
}
UNKNOWN_COVID_VACCINE: Final = "500"

# LOINC for the two kinds of test the labs report (as US public-health reporting, e.g.
# SimpleReport, codes them): RT-PCR and rapid antigen, respiratory specimen.
TEST_CODES: Final = {
    "PCR": (
        "94500-6",
        "SARS-CoV-2 (COVID-19) RNA [Presence] in Respiratory specimen by NAA with probe detection",
    ),
    "RAPID_ANTIGEN": (
        "94558-4",
        "SARS-CoV-2 (COVID-19) Ag [Presence] in Respiratory specimen by Rapid immunoassay",
    ),
}
KIND_OF_LOINC: Final = {code: kind for kind, (code, _) in TEST_CODES.items()}
# SNOMED CT qualifier values for a qualitative result.
RESULT_CODES: Final = {
    "POSITIVE": ("260373001", "Detected"),
    "NEGATIVE": ("260415000", "Not detected"),
    "INVALID": ("455371000124106", "Invalid result"),
}
RESULT_OF_SNOMED: Final = {code: result for result, (code, _) in RESULT_CODES.items()}


def cvx_of(product_code: str) -> str:
    return CVX_CODES.get(product_code.upper(), UNKNOWN_COVID_VACCINE)


def split_name(full_name: str) -> dict[str, Any]:
    """Vietnamese order: family name first, given name last, middle names between."""
    words = full_name.split()
    if len(words) <= 1:
        return {"text": full_name} if not words else {"given": words}
    return {"family": words[0], "given": words[1:]}


def coding(system: str, code: str, display: str | None = None) -> dict[str, str]:
    """A FHIR Coding (made by a function: a terminology code is no error code)."""
    out = {"system": system, "code": code}
    if display is not None:
        out["display"] = display
    return out
