"""FHIR R4 reads: one person (``Patient``, and everything about them as a ``Bundle``), and the
bulk export of everyone in the caller's scope as NDJSON; and a lab's ``Bundle`` of
``Observation``s turned into the results batch the lab's JSON route takes.

Scope is the JSON routes': the authority (a district authority: its district's enterprises and
their people), an enterprise its own people; national IDs as ``PersonOut`` shows them (in full
to the authority, masked to everyone else). The bulk export reads each resource type through a
server-side cursor in one REPEATABLE READ transaction and writes a line per resource, so memory
holds a batch whatever the province's size.
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass
from typing import Any, Final

import orjson
from sqlalchemy import Select, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from safework_common import scope
from safework_common.contract.results import ResultsBatchIn
from safework_common.db import prefetched
from safework_common.errors import Unprocessable
from safework_common.fhir import KIND_OF_LOINC, LOINC, NATIONAL_ID_SYSTEM, POOLING_SYSTEM, RESULT_OF_SNOMED, SNOMED
from safework_common.internal_auth import Caller
from safework_registry.enterprises.models import Enterprise
from safework_registry.fhir import resources as fhir
from safework_registry.labs.models import Lab
from safework_registry.persons import national_id as nid
from safework_registry.persons.access import person_in_scope
from safework_registry.persons.models import Person
from safework_registry.persons.national_id import NationalIdCipher
from safework_registry.persons.service import reveals_national_id
from safework_registry.results.models import TestResult
from safework_registry.vaccines.models import Dose

RESOURCE_TYPES: Final = ("Organization", "Patient", "Immunization", "Observation")
STREAM_BATCH: Final = 5000

person_t = Person.__table__
enterprise_t = Enterprise.__table__
dose_t = Dose.__table__
result_t = TestResult.__table__
lab_t = Lab.__table__

_PATIENT_COLUMNS = (
    person_t.c.id,
    person_t.c.national_id_enc,
    person_t.c.national_id_last4,
    person_t.c.full_name,
    person_t.c.sex,
    person_t.c.date_of_birth,
    person_t.c.enterprise_id,
    person_t.c.status,
)
_DOSE_COLUMNS = (
    dose_t.c.id,
    dose_t.c.person_id,
    dose_t.c.dose_number,
    dose_t.c.product_code,
    dose_t.c.administered_at,
    dose_t.c.lot,
    dose_t.c.site,
)
_RESULT_COLUMNS = (
    result_t.c.id,
    result_t.c.person_id,
    result_t.c.lab_id,
    result_t.c.sample_id,
    result_t.c.kind,
    result_t.c.collected_at,
    result_t.c.resulted_at,
    result_t.c.result,
    result_t.c.pooled,
)
_ENTERPRISE_COLUMNS = (
    enterprise_t.c.id,
    enterprise_t.c.tax_code,
    enterprise_t.c.name,
    enterprise_t.c.district,
    enterprise_t.c.zone_type,
    enterprise_t.c.zone_name,
)
_LAB_COLUMNS = (lab_t.c.id, lab_t.c.name, lab_t.c.licence_code, lab_t.c.active)


def _patient_builder(cipher: NationalIdCipher, reveal: bool) -> Callable[[Any], dict[str, Any]]:
    """Patients for one caller: whether national IDs are shown in full is decided once."""
    decrypt = cipher.decrypt
    mask = nid.mask
    patient = fhir.patient

    if reveal:

        def build(r: Any) -> dict[str, Any]:
            return patient(
                r["id"],
                decrypt(r["national_id_enc"]),
                r["full_name"],
                r["sex"],
                r["date_of_birth"],
                r["enterprise_id"],
                r["status"],
            )

    else:

        def build(r: Any) -> dict[str, Any]:
            return patient(
                r["id"],
                mask(r["national_id_last4"]),
                r["full_name"],
                r["sex"],
                r["date_of_birth"],
                r["enterprise_id"],
                r["status"],
            )

    return build


def _immunization(r: Any) -> dict[str, Any]:
    return fhir.immunization(
        r["id"], r["person_id"], r["dose_number"], r["product_code"], r["administered_at"], r["lot"], r["site"]
    )


def _observation(r: Any) -> dict[str, Any]:
    return fhir.observation(
        r["id"],
        r["person_id"],
        r["lab_id"],
        r["sample_id"],
        r["kind"],
        r["collected_at"],
        r["resulted_at"],
        r["result"],
        r["pooled"],
    )


def _enterprise(r: Any) -> dict[str, Any]:
    return fhir.enterprise(r["id"], r["tax_code"], r["name"], r["district"], r["zone_type"], r["zone_name"])


def _lab(r: Any) -> dict[str, Any]:
    return fhir.lab(r["id"], r["name"], r["licence_code"], r["active"])


# --- one person ------------------------------------------------------------------------------


async def patient(
    session: AsyncSession, caller: Caller, cipher: NationalIdCipher, person_id: uuid.UUID
) -> dict[str, Any]:
    """``GET /v1/fhir/Patient/{id}``: authority (district: its own), enterprise (its roster),
    worker (self); anyone else 404 as on ``GET /v1/persons/{id}``."""
    scope.require_role(caller, "authority", "enterprise", "worker")
    await person_in_scope(session, caller, person_id)
    row = (await session.execute(select(*_PATIENT_COLUMNS).where(person_t.c.id == person_id))).mappings().one()
    return _patient_builder(cipher, reveals_national_id(caller))(row)


async def everything(
    session: AsyncSession, caller: Caller, cipher: NationalIdCipher, person_id: uuid.UUID
) -> dict[str, Any]:
    """``GET /v1/fhir/Patient/{id}/$everything``: a ``collection`` Bundle of the Patient, their
    employer and the labs of their results (``Organization``), doses (``Immunization``) and
    results (``Observation``)."""
    resource = await patient(session, caller, cipher, person_id)
    doses = (
        (
            await session.execute(
                select(*_DOSE_COLUMNS).where(dose_t.c.person_id == person_id).order_by(dose_t.c.dose_number)
            )
        )
        .mappings()
        .all()
    )
    results = (
        (
            await session.execute(
                select(*_RESULT_COLUMNS).where(result_t.c.person_id == person_id).order_by(result_t.c.collected_at)
            )
        )
        .mappings()
        .all()
    )
    entries = [resource]
    employer = resource.get("managingOrganization")
    if employer is not None:
        eid = uuid.UUID(employer["reference"].removeprefix("Organization/"))
        row = (await session.execute(select(*_ENTERPRISE_COLUMNS).where(enterprise_t.c.id == eid))).mappings().one()
        entries.append(_enterprise(row))
    lab_ids = sorted({r["lab_id"] for r in results})
    if lab_ids:
        labs = (
            (await session.execute(select(*_LAB_COLUMNS).where(lab_t.c.id.in_(lab_ids)).order_by(lab_t.c.id)))
            .mappings()
            .all()
        )
        entries += [_lab(r) for r in labs]
    entries += [_immunization(r) for r in doses]
    entries += [_observation(r) for r in results]
    return {
        "resourceType": "Bundle",
        "type": "collection",
        "total": len(entries),
        "entry": [{"fullUrl": f"urn:uuid:{_url_id(e)}", "resource": e} for e in entries],
    }


def _url_id(resource: dict[str, Any]) -> str:
    """A stable UUID for a bundle entry's fullUrl (FHIR asks for an absolute URL)."""
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"{resource['resourceType']}/{resource['id']}"))


# --- bulk ------------------------------------------------------------------------------------


def resource_types(value: str | None) -> tuple[str, ...]:
    """``_type``: a comma-separated subset of ``RESOURCE_TYPES`` (default: all), in export order."""
    if value is None or not value.strip():
        return RESOURCE_TYPES
    wanted = {t.strip() for t in value.split(",") if t.strip()}
    unknown = sorted(wanted - set(RESOURCE_TYPES))
    if unknown:
        raise Unprocessable(
            f"_type may name {', '.join(RESOURCE_TYPES)}; not {', '.join(unknown)}.",
            code="unknown_resource_type",
            field="query._type",
        )
    return tuple(t for t in RESOURCE_TYPES if t in wanted)


@dataclass(frozen=True)
class BulkExport:
    """What the caller may export: ``district`` (a district authority), ``enterprise_id`` (an
    enterprise), neither (the province); whether national IDs are shown in full."""

    types: tuple[str, ...]
    district: str | None
    enterprise_id: uuid.UUID | None
    reveal: bool
    with_labs: bool

    def _people(self, stmt: Select[Any], person_column: Any) -> Select[Any]:
        """``stmt`` narrowed to the people in scope (through their employer)."""
        if self.enterprise_id is not None:
            return stmt.where(
                person_column.in_(select(person_t.c.id).where(person_t.c.enterprise_id == self.enterprise_id))
            )
        if self.district is not None:
            people = (
                select(person_t.c.id)
                .join(enterprise_t, enterprise_t.c.id == person_t.c.enterprise_id)
                .where(enterprise_t.c.district == self.district)
            )
            return stmt.where(person_column.in_(people))
        return stmt

    def statements(self) -> list[tuple[Select[Any], Callable[[Any], dict[str, Any]] | None]]:
        out: list[tuple[Select[Any], Callable[[Any], dict[str, Any]] | None]] = []
        for kind in self.types:
            if kind == "Organization":
                ents = select(*_ENTERPRISE_COLUMNS).order_by(enterprise_t.c.id)
                if self.enterprise_id is not None:
                    ents = ents.where(enterprise_t.c.id == self.enterprise_id)
                elif self.district is not None:
                    ents = ents.where(enterprise_t.c.district == self.district)
                out.append((ents, _enterprise))
                if self.with_labs:
                    out.append((select(*_LAB_COLUMNS).order_by(lab_t.c.id), _lab))
            elif kind == "Patient":
                out.append((self._people(select(*_PATIENT_COLUMNS).order_by(person_t.c.id), person_t.c.id), None))
            elif kind == "Immunization":
                doses: Select[Any] = select(*_DOSE_COLUMNS).order_by(dose_t.c.person_id, dose_t.c.dose_number)
                out.append((self._people(doses, dose_t.c.person_id), _immunization))
            else:
                results: Select[Any] = select(*_RESULT_COLUMNS).order_by(result_t.c.id)
                out.append((self._people(results, result_t.c.person_id), _observation))
        return out

    async def lines(self, maker: async_sessionmaker[AsyncSession], cipher: NationalIdCipher) -> AsyncIterator[bytes]:
        """NDJSON: one resource a line, the types in order, each type's rows by key; a chunk per
        cursor batch. Each Core statement runs on the session's asyncpg connection through a
        server-side cursor, the next batch requested before this one is written (the database
        produces it meanwhile), rows read by name from asyncpg's records."""
        patient_of = _patient_builder(cipher, self.reveal)
        dumps = orjson.dumps
        async with maker() as session:
            conn = await session.connection(
                execution_options={"isolation_level": "REPEATABLE READ", "postgresql_readonly": True}
            )
            try:
                await conn.exec_driver_sql("SELECT 1")  # begin the transaction
                driver: Any = (await conn.get_raw_connection()).driver_connection
                for stmt, build in self.statements():
                    make = build or patient_of
                    sql, params = _driver_sql(stmt, conn.dialect)
                    async with contextlib.aclosing(prefetched(driver, sql, *params, batch=STREAM_BATCH)) as batches:
                        async for rows in batches:
                            yield b"\n".join([dumps(make(r)) for r in rows]) + b"\n"
            finally:
                await session.rollback()


def _driver_sql(stmt: Select[Any], dialect: Any) -> tuple[str, list[Any]]:
    """A Core statement as the asyncpg driver takes it: SQL with ``$n`` parameters, and their
    values in order."""
    compiled = stmt.compile(dialect=dialect)
    positions = compiled.positiontup or []
    return str(compiled), [compiled.params[name] for name in positions]


def bulk(caller: Caller, types: tuple[str, ...]) -> BulkExport:
    """``GET /v1/fhir/export``: the authority (a district authority: its district) and an
    enterprise (its own people); everyone else 403."""
    scope.require_role(caller, "authority", "enterprise")
    own = scope.caller_enterprise(caller)
    # A district authority's claim, canonical (one naming no known district matches nothing).
    district = scope.caller_district(caller)
    return BulkExport(types, district, own, reveals_national_id(caller), with_labs=caller.role == "authority")


# --- a lab's Bundle of Observations -----------------------------------------------------------


def _bad(index: int, path: str, message: str) -> Unprocessable:
    return Unprocessable(message, code="invalid_fhir_resource", field=f"body.entry[{index}].resource{path}")


def _coding(concept: Any, system: str) -> list[str]:
    if not isinstance(concept, dict):
        return []
    codings = concept.get("coding")
    if not isinstance(codings, list):
        return []
    return [str(c["code"]) for c in codings if isinstance(c, dict) and c.get("system") == system and c.get("code")]


def results_batch(bundle: Any) -> ResultsBatchIn:
    """A FHIR ``Bundle`` (any type) whose entries are ``Observation``s as this API emits them:
    ``code`` LOINC 94500-6 (RT-PCR) or 94558-4 (rapid antigen), ``subject`` ``Patient/<person
    id>`` or an identifier of system ``urn:safework:vn-national-id``, ``effectiveDateTime`` (the
    collection), ``issued`` (the result), ``valueCodeableConcept`` SNOMED CT detected / not
    detected / invalid, ``identifier[0].value`` the lab's sample ID. Each becomes a ``single`` item
    of the JSON batch, in order, so the outcomes' ``index`` is the entry's. Pools are posted with
    the JSON route. A Bundle that cannot be read so is refused whole (422, the entry's field)."""
    if not isinstance(bundle, dict) or bundle.get("resourceType") != "Bundle":
        raise Unprocessable("The body must be a FHIR Bundle.", code="invalid_fhir_resource", field="body.resourceType")
    entries = bundle.get("entry")
    if not isinstance(entries, list) or not entries:
        raise Unprocessable("The Bundle has no entries.", code="batch_empty", field="body.entry")
    items: list[dict[str, Any]] = []
    for i, entry in enumerate(entries):
        resource = entry.get("resource") if isinstance(entry, dict) else None
        if not isinstance(resource, dict) or resource.get("resourceType") != "Observation":
            raise _bad(i, ".resourceType", "Each entry must be an Observation.")
        kinds = [KIND_OF_LOINC[c] for c in _coding(resource.get("code"), LOINC) if c in KIND_OF_LOINC]
        if len(kinds) != 1:
            raise _bad(i, ".code", "code must carry one of LOINC 94500-6 (RT-PCR) or 94558-4 (rapid antigen).")
        values = [
            RESULT_OF_SNOMED[c] for c in _coding(resource.get("valueCodeableConcept"), SNOMED) if c in RESULT_OF_SNOMED
        ]
        if len(values) != 1:
            raise _bad(
                i,
                ".valueCodeableConcept",
                "valueCodeableConcept must carry SNOMED CT 260373001, 260415000 or 455371000124106.",
            )
        if _coding(resource.get("method"), POOLING_SYSTEM) == ["pooled"]:
            raise _bad(i, ".method", "Post pooled samples with the JSON batch (type pool), naming every member.")
        identifiers = resource.get("identifier")
        sample = (
            identifiers[0].get("value")
            if isinstance(identifiers, list) and identifiers and isinstance(identifiers[0], dict)
            else None
        )
        item: dict[str, Any] = {
            "type": "single",
            "sample_id": sample,
            "kind": kinds[0],
            "collected_at": resource.get("effectiveDateTime"),
            "resulted_at": resource.get("issued"),
            "result": values[0],
        }
        subject = resource.get("subject")
        if not isinstance(subject, dict):
            raise _bad(i, ".subject", "subject must name the Patient (reference or national ID identifier).")
        reference = subject.get("reference")
        ident = subject.get("identifier")
        if isinstance(reference, str) and reference.startswith("Patient/"):
            item["person_id"] = reference.removeprefix("Patient/")
        elif isinstance(ident, dict) and ident.get("system") == NATIONAL_ID_SYSTEM:
            item["national_id"] = ident.get("value")
        else:
            raise _bad(i, ".subject", "subject must name the Patient (reference or national ID identifier).")
        items.append(item)
    try:
        return ResultsBatchIn.model_validate({"items": items})
    except Exception as exc:  # pydantic's ValidationError: name the entry and the FHIR field
        errors: list[Any] = getattr(exc, "errors", lambda: [])()
        loc: Sequence[Any] = errors[0]["loc"] if errors else ()
        index = loc[1] if len(loc) > 1 and isinstance(loc[1], int) else 0
        name = str(loc[-1]) if loc else ""
        path = {
            "sample_id": ".identifier[0].value",
            "collected_at": ".effectiveDateTime",
            "resulted_at": ".issued",
            "person_id": ".subject.reference",
            "national_id": ".subject.identifier.value",
        }.get(name, "")
        message = errors[0]["msg"] if errors else "The Observation is not valid."
        raise _bad(index, path, f"{message}.") from None
