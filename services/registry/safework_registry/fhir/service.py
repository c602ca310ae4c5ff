"""FHIR reads: one person as a ``Bundle`` and everything in the caller's reach as NDJSON, in
the spirit of FHIR Bulk Data ``$export`` (one resource a line, by type; streamed synchronously
rather than through the async kick-off and manifest of the full specification).

Scope is ``safework_common.scope``'s: a person outside the caller's reach is 404; the bulk
export covers the caller's reach (the province, a district's enterprises, an enterprise's own
people), narrowed by the ``district`` and ``enterprise_id`` filters (outside it: 404). Reads are
SQLAlchemy Core, streamed through server-side cursors in one read-only snapshot."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable, Sequence
from typing import Any

import orjson
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from safework_common.internal_auth import Caller
from safework_common.scope import Reach, caller_reach, enterprise_not_found, narrow
from safework_registry.enterprises.models import Enterprise
from safework_registry.fhir import resources
from safework_registry.labs.models import Lab
from safework_registry.persons.access import person_in_scope
from safework_registry.persons.models import Person
from safework_registry.persons.national_id import NationalIdCipher
from safework_registry.persons.service import reveals_national_id
from safework_registry.results.models import Pool, TestResult
from safework_registry.vaccines.models import Dose, VaccineProduct

TYPES = ("Organization", "Patient", "Immunization", "Observation")
_BATCH = 5000

_PERSON_COLUMNS = (
    Person.id,
    Person.national_id_enc,
    Person.national_id_last4,
    Person.full_name,
    Person.date_of_birth,
    Person.sex,
    Person.phone,
    Person.status,
    Person.enterprise_id,
    Person.employee_code,
)
_DOSES = select(
    Dose.id,
    Dose.person_id,
    Dose.dose_number,
    Dose.product_code,
    Dose.administered_at,
    Dose.lot,
    VaccineProduct.name.label("product_name"),
).join(VaccineProduct, VaccineProduct.code == Dose.product_code)
_RESULTS = select(
    TestResult.id,
    TestResult.person_id,
    TestResult.lab_id,
    TestResult.sample_id,
    TestResult.kind,
    TestResult.collected_at,
    TestResult.resulted_at,
    TestResult.result,
    TestResult.pooled,
    Pool.pool_sample_id,
).outerjoin(Pool, Pool.id == TestResult.pool_id)
_ENTERPRISES = select(
    Enterprise.id,
    Enterprise.tax_code,
    Enterprise.name,
    Enterprise.district,
    Enterprise.zone_type,
    Enterprise.operating_status,
)
_LABS = select(Lab.id, Lab.licence_code, Lab.name, Lab.active)


def _person_filter(stmt: Any, reach: Reach, person_id: Any = Person.id) -> Any:
    """Only people of the reach (``person_id``: the column naming the person)."""
    if reach.enterprise_id is None and reach.district is None:
        return stmt
    people = select(Person.id).join(Enterprise, Enterprise.id == Person.enterprise_id)
    if reach.enterprise_id is not None:
        people = people.where(Person.enterprise_id == reach.enterprise_id)
    if reach.district is not None:
        people = people.where(Enterprise.district == reach.district)
    return stmt.where(person_id.in_(people))


async def person_bundle(
    session: AsyncSession, caller: Caller, cipher: NationalIdCipher, person_id: uuid.UUID
) -> dict[str, Any]:
    """``GET /v1/fhir/persons/{id}``: the person's Patient, doses, results, employer and labs as a
    ``collection`` Bundle."""
    await person_in_scope(session, caller, person_id)
    shown = resources.national_id(cipher, reveals_national_id(caller))
    row = (await session.execute(select(*_PERSON_COLUMNS).where(Person.id == person_id))).mappings().one()
    entries: list[dict[str, Any]] = [resources.patient(row, shown(row))]
    if row["enterprise_id"] is not None:
        ent = (await session.execute(_ENTERPRISES.where(Enterprise.id == row["enterprise_id"]))).mappings().one()
        entries.append(resources.enterprise(ent))
    doses = await session.execute(_DOSES.where(Dose.person_id == person_id).order_by(Dose.dose_number))
    entries += [resources.immunization(d) for d in doses.mappings()]
    results = (
        (await session.execute(_RESULTS.where(TestResult.person_id == person_id).order_by(TestResult.collected_at)))
        .mappings()
        .all()
    )
    entries += [resources.observation(r) for r in results]
    labs = {r["lab_id"] for r in results}
    if labs:
        entries += [resources.lab(lab) for lab in (await session.execute(_LABS.where(Lab.id.in_(labs)))).mappings()]
    return {
        "resourceType": "Bundle",
        "type": "collection",
        "total": len(entries),
        "entry": [{"fullUrl": f"urn:uuid:{_urn(e)}", "resource": e} for e in entries],
    }


def _urn(resource: dict[str, Any]) -> str:
    """A stable UUID for the entry's fullUrl (FHIR wants an absolute URL or a urn:uuid)."""
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"{resource['resourceType']}/{resource['id']}"))


async def export_reach(
    session: AsyncSession, caller: Caller, district: str | None, enterprise_id: uuid.UUID | None
) -> Reach:
    """The export's reach: the caller's, narrowed by the filters (outside it: 404)."""
    reach = narrow(caller_reach(caller, "authority", "enterprise"), district, enterprise_id)
    if enterprise_id is not None:
        found = await session.scalar(select(Enterprise.district).where(Enterprise.id == enterprise_id))
        if found is None or (reach.district is not None and found != reach.district):
            raise enterprise_not_found("query.enterprise_id")
    return reach


def bulk_ndjson(
    maker: async_sessionmaker[AsyncSession],
    caller: Caller,
    cipher: NationalIdCipher,
    reach: Reach,
    types: Sequence[str],
) -> AsyncIterator[bytes]:
    """Every resource of ``types`` in ``reach``, one JSON a line, batch by batch."""
    shown = resources.national_id(cipher, reveals_national_id(caller))
    province_wide = reach.enterprise_id is None and reach.district is None

    def enterprises() -> Any:
        stmt = _ENTERPRISES.order_by(Enterprise.id)
        if reach.enterprise_id is not None:
            stmt = stmt.where(Enterprise.id == reach.enterprise_id)
        if reach.district is not None:
            stmt = stmt.where(Enterprise.district == reach.district)
        return stmt

    plan: list[tuple[str, Any, Callable[[Any], dict[str, Any]]]] = []
    if "Organization" in types:
        plan.append(("Organization", enterprises(), resources.enterprise))
        if province_wide or caller.role == "authority":
            plan.append(("Organization", _LABS.order_by(Lab.id), resources.lab))
    if "Patient" in types:
        people = _person_filter(select(*_PERSON_COLUMNS).order_by(Person.id), reach)
        plan.append(("Patient", people, lambda r: resources.patient(r, shown(r))))
    if "Immunization" in types:
        plan.append(
            ("Immunization", _person_filter(_DOSES.order_by(Dose.id), reach, Dose.person_id), resources.immunization)
        )
    if "Observation" in types:
        plan.append(
            (
                "Observation",
                _person_filter(_RESULTS.order_by(TestResult.id), reach, TestResult.person_id),
                resources.observation,
            )
        )

    async def lines() -> AsyncIterator[bytes]:
        async with maker() as session, session.begin():
            for _, stmt, build in plan:
                result = await session.stream(stmt.execution_options(yield_per=_BATCH))
                async for partition in result.mappings().partitions():
                    yield b"".join(orjson.dumps(build(row)) + b"\n" for row in partition)

    return lines()
