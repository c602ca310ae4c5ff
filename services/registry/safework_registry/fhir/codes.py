"""The FHIR R4 codes Safework speaks (terminology the resources carry).

Test kinds are LOINC: 94500-6 "SARS-CoV-2 (COVID-19) RNA [Presence] in Respiratory specimen by
NAA with probe detection" for RT-PCR, and 94558-4 "SARS-CoV-2 (COVID-19) Ag [Presence] in
Respiratory specimen by Rapid immunoassay" for the rapid antigen test. Results are SNOMED CT
(260385009 Negative, 10828004 Positive, 455371000124106 Invalid result). A pooled sample's
member result is marked with the v3 ObservationValue code and an extension naming the pool."""

from __future__ import annotations

LOINC = "http://loinc.org"
SNOMED = "http://snomed.info/sct"
CVX = "http://hl7.org/fhir/sid/cvx"
# Our identifier systems (URIs under the project's namespace: not a registered OID).
NATIONAL_ID_SYSTEM = "urn:safework:vn:national-id"
PERSON_SYSTEM = "urn:safework:person"
EMPLOYEE_SYSTEM = "urn:safework:employee-code"
ENTERPRISE_SYSTEM = "urn:safework:enterprise"
TAX_CODE_SYSTEM = "urn:safework:vn:tax-code"
LAB_SYSTEM = "urn:safework:lab"
SAMPLE_SYSTEM = "urn:safework:lab-sample"  # + ":" + lab id
POOL_EXTENSION = "urn:safework:fhir:StructureDefinition/pooled-sample"
VACCINE_SYSTEM = "urn:safework:vaccine-product"
ORG_TYPE_SYSTEM = "http://terminology.hl7.org/CodeSystem/organization-type"
OBS_CATEGORY_SYSTEM = "http://terminology.hl7.org/CodeSystem/observation-category"

KIND_LOINC = {
    "PCR": ("94500-6", "SARS-CoV-2 (COVID-19) RNA [Presence] in Respiratory specimen by NAA with probe detection"),
    "RAPID_ANTIGEN": ("94558-4", "SARS-CoV-2 (COVID-19) Ag [Presence] in Respiratory specimen by Rapid immunoassay"),
}
# Other SARS-CoV-2 codes a lab system may send, read as our two kinds.
LOINC_KIND = {
    "94500-6": "PCR",
    "94309-2": "PCR",
    "94759-8": "PCR",
    "94533-7": "PCR",
    "94558-4": "RAPID_ANTIGEN",
    "97097-0": "RAPID_ANTIGEN",
    "95209-3": "RAPID_ANTIGEN",
}
RESULT_SNOMED = {
    "NEGATIVE": ("260385009", "Negative"),
    "POSITIVE": ("10828004", "Positive"),
    "INVALID": ("455371000124106", "Invalid result"),
}
SNOMED_RESULT = {code: value for value, (code, _) in RESULT_SNOMED.items()}
SNOMED_RESULT.update({"260415000": "NEGATIVE", "260373001": "POSITIVE", "419984006": "INVALID"})
