"""Labs may post results as a FHIR R4 ``Bundle`` of ``Observation``\\ s (``Content-Type:
application/fhir+json``): each entry becomes one single result of the batch, judged like the
JSON items (its field named ``body.items[i]``, ``i`` the entry's position).

An Observation maps to a result as:
- ``identifier[0].value``: the lab's sample ID;
- ``subject.identifier`` with system ``urn:safework:vn:national-id``: the national ID; or
  ``subject.reference`` ``Patient/<person id>`` (or ``subject.identifier`` system
  ``urn:safework:person``): the person;
- ``code.coding`` LOINC (``codes.LOINC_KIND``): PCR or rapid antigen;
- ``effectiveDateTime``: collected at; ``issued``: resulted at (both with a time zone);
- ``valueCodeableConcept.coding`` SNOMED CT: negative, positive or invalid.
What cannot be mapped is that entry's rejection; a body that is not a Bundle is refused whole."""

from __future__ import annotations

from typing import Any

import orjson

from safework_common.errors import BadRequest, PayloadTooLarge, Unprocessable
from safework_registry.fhir import codes
from safework_registry.files.layouts import Entry


def _refuse(message: str, field: str = "body") -> Unprocessable:
    return Unprocessable(message, code="invalid_fhir_bundle", field=field)


def _coding(concept: Any, table: dict[str, str], system: str) -> str | None:
    if not isinstance(concept, dict):
        return None
    for coding in concept.get("coding") or []:
        if isinstance(coding, dict) and coding.get("system") == system and coding.get("code") in table:
            return table[str(coding["code"])]
    return None


def _subject(subject: Any) -> dict[str, Any]:
    if not isinstance(subject, dict):
        return {}
    ref = subject.get("reference")
    if isinstance(ref, str) and ref.startswith("Patient/"):
        return {"person_id": ref.removeprefix("Patient/")}
    ident = subject.get("identifier")
    if isinstance(ident, dict):
        if ident.get("system") == codes.NATIONAL_ID_SYSTEM:
            return {"national_id": ident.get("value")}
        if ident.get("system") == codes.PERSON_SYSTEM:
            return {"person_id": ident.get("value")}
    return {}


def observation_item(resource: Any) -> dict[str, Any] | str:
    """The batch item of one Observation, or why it cannot be one."""
    if not isinstance(resource, dict) or resource.get("resourceType") != "Observation":
        return "An entry's resource must be an Observation."
    identifiers = resource.get("identifier")
    sample = (
        identifiers[0].get("value")
        if isinstance(identifiers, list) and identifiers and isinstance(identifiers[0], dict)
        else None
    )
    kind = _coding(resource.get("code"), codes.LOINC_KIND, codes.LOINC)
    if kind is None:
        return "Observation.code has no SARS-CoV-2 PCR or antigen LOINC code."
    result = _coding(resource.get("valueCodeableConcept"), codes.SNOMED_RESULT, codes.SNOMED)
    if result is None:
        return "Observation.valueCodeableConcept has no SNOMED CT negative, positive or invalid code."
    return {
        "type": "single",
        "sample_id": sample,
        **_subject(resource.get("subject")),
        "kind": kind,
        "collected_at": resource.get("effectiveDateTime"),
        "resulted_at": resource.get("issued"),
        "result": result,
    }


def bundle_entries(body: bytes, max_items: int) -> list[Entry]:
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError:
        raise BadRequest("The request body is not valid JSON.", code="malformed_json", field="body") from None
    if not isinstance(data, dict) or data.get("resourceType") != "Bundle":
        raise _refuse("The body must be a FHIR Bundle.", "body.resourceType")
    entries = data.get("entry", [])
    if not isinstance(entries, list):
        raise _refuse("Bundle.entry must be a list.", "body.entry")
    if len(entries) > max_items:
        raise PayloadTooLarge(
            f"A batch holds at most {max_items} items; split it.", code="batch_too_large", field="body.entry"
        )
    out: list[Entry] = []
    for i, entry in enumerate(entries):
        item = observation_item(entry.get("resource") if isinstance(entry, dict) else None)
        if isinstance(item, str):
            out.append(Entry([], None, "invalid_fhir_observation", item, f"body.entry[{i}].resource"))
        else:
            out.append(Entry([], {k: v for k, v in item.items() if v is not None}))
    return out
