"""Revoking events seen at the gateway: after a write that may turn someone's verdict succeeds,
the live passes it touches are re-checked (or revoked outright) before the caller gets its answer.
The periodic sweep (:meth:`PassService.recheck`) catches what no route here saw."""

from __future__ import annotations

import contextlib
import json
import logging
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

from safework_common.fhir import NATIONAL_ID_SYSTEM, RESULT_OF_SNOMED, SNOMED
from safework_gateway.passes.service import PassService

log = logging.getLogger("safework.gateway.passes")

Hook = Callable[[PassService, dict[str, str], bytes | None, bytes], Awaitable[None]]


def _json(raw: bytes | None) -> Any:
    if not raw:
        return None
    with contextlib.suppress(ValueError):
        return json.loads(raw)
    return None


def _uuid(value: Any) -> uuid.UUID | None:
    try:
        return uuid.UUID(str(value))
    except ValueError:
        return None


async def _results(service: PassService, params: dict[str, str], body: bytes | None, answer: bytes) -> None:
    """A batch of results: the people with a positive result (alone or in a positive pool)."""
    data = _json(body) or {}
    ids: set[uuid.UUID] = set()
    nids: set[str] = set()
    for item in data.get("items", []) if isinstance(data, dict) else []:
        if not isinstance(item, dict) or "POSITIVE" not in str(item.get("result", "")).upper():
            continue
        for ref in [item, *(item.get("members") or [])]:
            if not isinstance(ref, dict):
                continue
            if (pid := _uuid(ref.get("person_id"))) is not None:
                ids.add(pid)
            elif isinstance(ref.get("national_id"), str):
                nids.add(ref["national_id"])
    if nids:
        ids |= set(await service.resolve_national_ids(sorted(nids)))
    if ids:
        await service.recheck(person_ids=ids)


def _fhir_items(bundle: Any) -> list[dict[str, Any]]:
    """A lab's FHIR ``Bundle`` of ``Observation``s as the JSON batch's items the hook reads: the
    result (SNOMED CT value) and the Patient (reference or national ID identifier). The registry
    has already accepted the Bundle (the hook runs after a 2xx), so this only reads it."""
    items: list[dict[str, Any]] = []
    entries = bundle.get("entry") if isinstance(bundle, dict) else None
    for entry in entries if isinstance(entries, list) else []:
        resource = entry.get("resource") if isinstance(entry, dict) else None
        if not isinstance(resource, dict):
            continue
        value = resource.get("valueCodeableConcept")
        codings = value.get("coding") if isinstance(value, dict) else None
        results = [
            RESULT_OF_SNOMED.get(str(c.get("code")))
            for c in (codings if isinstance(codings, list) else [])
            if isinstance(c, dict) and c.get("system") == SNOMED
        ]
        subject = resource.get("subject")
        if not isinstance(subject, dict):
            continue
        item: dict[str, Any] = {"result": next((r for r in results if r), "")}
        reference = subject.get("reference")
        ident = subject.get("identifier")
        if isinstance(reference, str) and reference.startswith("Patient/"):
            item["person_id"] = reference.removeprefix("Patient/")
        elif isinstance(ident, dict) and ident.get("system") == NATIONAL_ID_SYSTEM:
            item["national_id"] = ident.get("value")
        items.append(item)
    return items


async def _fhir_results(service: PassService, params: dict[str, str], body: bytes | None, answer: bytes) -> None:
    """A lab's FHIR Bundle of results: the same as the JSON batch (``_results``)."""
    batch = json.dumps({"items": _fhir_items(_json(body))}).encode()
    await _results(service, params, batch, answer)


async def _enterprise(service: PassService, params: dict[str, str], body: bytes | None, answer: bytes) -> None:
    """A roster upsert (someone left) or a status change: the enterprise's live passes."""
    ent = _uuid(params.get("enterprise_id"))
    if ent is None:
        return
    data = _json(answer) or {}
    if isinstance(data, dict) and data.get("operating_status") == "suspended":
        await service.revoke_enterprise(ent, "enterprise_suspended")
    else:
        await service.recheck(enterprise_id=ent)


async def _person(service: PassService, params: dict[str, str], body: bytes | None, answer: bytes) -> None:
    if (pid := _uuid(params.get("person_id"))) is not None:
        await service.recheck(person_ids={pid})


async def _case(service: PassService, params: dict[str, str], body: bytes | None, answer: bytes) -> None:
    """A case the authority confirms (its F0), or contacts it declares for a case (its F1s).
    Contacts traced from check-ins and housemates are not named in the answer: the sweep
    revokes their passes (``PassService.recheck``), and a gate's online check sees them at once."""
    data = _json(body) or {}
    if not isinstance(data, dict):
        return
    ids = {pid for pid in (_uuid(v) for v in [data.get("person_id"), *(data.get("person_ids") or [])]) if pid}
    if ids:
        await service.recheck(person_ids=ids)


# (method, public path) -> hook.
HOOKS: dict[tuple[str, str], Hook] = {
    ("POST", "/cases"): _case,
    ("POST", "/cases/{case_id}/contacts"): _case,
    ("POST", "/labs/{lab_id}/results"): _results,
    ("POST", "/labs/{lab_id}/results/fhir"): _fhir_results,
    ("PUT", "/enterprises/{enterprise_id}/roster"): _enterprise,
    ("POST", "/enterprises/{enterprise_id}/status"): _enterprise,
    ("PATCH", "/persons/{person_id}"): _person,
    ("POST", "/me/declarations"): _person,
}


async def after_write(
    service: PassService | None,
    key: tuple[str, str],
    params: dict[str, str],
    body: bytes | None,
    answer: bytes,
) -> None:
    hook = HOOKS.get(key)
    if hook is None or service is None:
        return
    try:
        await hook(service, params, body, answer)
    except Exception as exc:  # the write stands; the sweep revokes later
        log.warning("pass revocation after %s %s failed: %s", key[0], key[1], type(exc).__name__)
