"""People: create, read, update one at a time, the roster list and the authority's look-up by
national ID. Writes to an enterprise's people lock the enterprise row first (then the person),
the same order as the roster upsert, so they serialise without deadlocks."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Mapping
from typing import Any

from sqlalchemy import ColumnElement, Row, and_, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from safework_common.contract.persons import PersonCreate, PersonOut, PersonUpdate
from safework_common.errors import Conflict, Forbidden, Unprocessable
from safework_common.internal_auth import Caller
from safework_common.scope import as_uuid, caller_enterprise, require_role, sees_everything
from safework_common.timezone import now_local
from safework_registry.accommodations.service import assign_site
from safework_registry.audit.service import record
from safework_registry.constraints import flush_or_conflict
from safework_registry.enterprises.models import Enterprise
from safework_registry.enterprises.service import enterprise_in_scope, enterprise_not_found
from safework_registry.pagination import decode_cursor, encode_cursor
from safework_registry.persons import national_id as nid
from safework_registry.persons.access import may_see_person, person_in_scope, person_not_found
from safework_registry.persons.models import Person
from safework_registry.persons.national_id import NationalIdCipher
from safework_registry.persons.rules import RuleViolation, changed_fields, merge, next_cohorts, settle
from safework_registry.validation import patch_values

NATIONAL_ID_UNIQUE = "uq_person_national_id_hash"
EMPLOYEE_CODE_UNIQUE = "uq_person_enterprise_id_employee_code"


def national_id_taken(field: str = "body.national_id") -> Conflict:
    return Conflict("A person with this national ID is already registered.", code="national_id_taken", field=field)


def employee_code_taken(field: str = "body.employee_code") -> Conflict:
    return Conflict(
        "The enterprise already has a person with this employee code.", code="employee_code_taken", field=field
    )


def reveals_national_id(caller: Caller) -> bool:
    """The authority (and the system) read national IDs in full; everyone else sees them masked."""
    return caller.role in ("authority", "system")


def person_out(person: Person | Row[Any] | Mapping[str, Any], cipher: NationalIdCipher, reveal: bool) -> PersonOut:
    data: Mapping[str, Any] = person if isinstance(person, Mapping) else _as_mapping(person)
    shown = cipher.decrypt(data["national_id_enc"]) if reveal else nid.mask(data["national_id_last4"])
    return PersonOut.model_validate({**data, "national_id": shown})


def _as_mapping(person: Person | Row[Any]) -> Mapping[str, Any]:
    if isinstance(person, Row):
        return dict(person._mapping)
    return {c.key: getattr(person, c.key) for c in Person.__table__.columns}


def _rule_error(exc: RuleViolation) -> Unprocessable:
    return Unprocessable(exc.message, code=exc.code, field=f"body.{exc.field}")


async def cohort_sizes(session: AsyncSession, enterprise_id: uuid.UUID) -> tuple[int, int]:
    """How many active people each half of the enterprise holds (one aggregate query)."""
    rows = await session.execute(
        select(Person.test_cohort, func.count())
        .where(Person.enterprise_id == enterprise_id, Person.status == "active")
        .group_by(Person.test_cohort)
    )
    sizes: dict[int, int] = {cohort: count for cohort, count in rows}
    return sizes.get(0, 0), sizes.get(1, 0)


async def _national_id_free(session: AsyncSession, hashed: bytes, exclude: uuid.UUID | None = None) -> None:
    stmt = select(Person.id).where(Person.national_id_hash == hashed)
    if exclude is not None:
        stmt = stmt.where(Person.id != exclude)
    if await session.scalar(stmt.limit(1)) is not None:
        raise national_id_taken()


async def _employee_code_free(
    session: AsyncSession, enterprise_id: uuid.UUID, code: str, exclude: uuid.UUID | None = None
) -> None:
    stmt = select(Person.id).where(Person.enterprise_id == enterprise_id, Person.employee_code == code)
    if exclude is not None:
        stmt = stmt.where(Person.id != exclude)
    if await session.scalar(stmt.limit(1)) is not None:
        raise employee_code_taken()


async def create_person(session: AsyncSession, caller: Caller, cipher: NationalIdCipher, body: PersonCreate) -> Person:
    """One person. A national ID already registered is 409 ``national_id_taken`` (a re-hire of
    someone who left another enterprise goes through the roster upsert, which moves them)."""
    require_role(caller, "authority", "enterprise")
    sent = body.model_dump()
    enterprise_id: uuid.UUID | None = sent["enterprise_id"]
    own = caller_enterprise(caller)
    if own is not None:
        if enterprise_id not in (None, own):
            raise enterprise_not_found("body.enterprise_id")
        enterprise_id = sent["enterprise_id"] = own
    if enterprise_id is not None:
        await enterprise_in_scope(session, caller, enterprise_id, for_update=True, field="body.enterprise_id")
    elif not sees_everything(caller):
        raise Unprocessable(
            "A district authority registers people of its district's enterprises.",
            code="enterprise_required",
            field="body.enterprise_id",
        )
    values = merge(None, sent, body.model_fields_set, new_membership=True)
    try:
        settle(values, body.model_fields_set, now_local())
    except RuleViolation as exc:
        raise _rule_error(exc) from None
    hashed = cipher.hash(body.national_id)
    await _national_id_free(session, hashed)
    if enterprise_id is not None:
        await _employee_code_free(session, enterprise_id, values["employee_code"])
    if values["accommodation_id"] is not None:
        await assign_site(session, caller, values["accommodation_id"], enterprise_id, field="body.accommodation_id")
    cohort = 0
    if enterprise_id is not None:
        (cohort,) = next_cohorts(await cohort_sizes(session, enterprise_id), [values["status"] == "active"])
    person = Person(
        id=uuid.uuid4(),
        national_id_hash=hashed,
        national_id_enc=cipher.encrypt(body.national_id),
        national_id_last4=body.national_id[-4:],
        test_cohort=cohort,
        **values,
    )
    session.add(person)
    await flush_or_conflict(
        session, {NATIONAL_ID_UNIQUE: national_id_taken(), EMPLOYEE_CODE_UNIQUE: employee_code_taken()}
    )
    await record(
        session,
        caller,
        "person.create",
        "person",
        person.id,
        {"enterprise_id": None if enterprise_id is None else str(enterprise_id)},
    )
    await session.refresh(person)
    return person


async def update_person(
    session: AsyncSession, caller: Caller, cipher: NationalIdCipher, person_id: uuid.UUID, body: PersonUpdate
) -> Person:
    """Change the fields sent. Moving a person to another enterprise is the authority's; the
    person joins the smaller half there, like any new member."""
    require_role(caller, "authority", "enterprise")
    patch = patch_values(body)
    person = await person_in_scope(session, caller, person_id)
    current = person.enterprise_id
    moving = "enterprise_id" in patch and patch["enterprise_id"] != current
    target: uuid.UUID | None = patch["enterprise_id"] if moving else None
    if moving:
        if caller.role == "enterprise":
            raise Forbidden(
                "A person joins another enterprise through that enterprise's roster.",
                code="enterprise_change_not_allowed",
                field="body.enterprise_id",
            )
        if target is not None:
            await enterprise_in_scope(session, caller, target, field="body.enterprise_id")
        elif not sees_everything(caller):
            raise enterprise_not_found("body.enterprise_id")
    # The roster upsert's lock order: the enterprises (by id), then the person. Every writer of
    # an enterprise's people holds its enterprise lock, so the roster reads them unlocked.
    for eid in sorted({e for e in (current, target) if e is not None}):
        await session.execute(select(Enterprise.id).where(Enterprise.id == eid).with_for_update())
    locked = await session.execute(
        select(Person).where(Person.id == person_id).with_for_update().execution_options(populate_existing=True)
    )
    person = locked.scalar_one()
    if person.enterprise_id != current:
        raise Conflict("The person changed enterprise meanwhile; read and try again.", code="concurrent_update")
    stored = _as_mapping(person)
    values = merge(stored, patch, set(patch), new_membership=False)
    try:
        settle(values, set(patch), now_local())
    except RuleViolation as exc:
        raise _rule_error(exc) from None
    changed = changed_fields(stored, values)
    new_hash: bytes | None = None
    if "national_id" in patch:
        candidate = cipher.hash(patch["national_id"])
        if candidate != person.national_id_hash:
            new_hash = candidate
            await _national_id_free(session, new_hash, exclude=person.id)
    enterprise_id = values["enterprise_id"]
    if enterprise_id is not None and ({"enterprise_id", "employee_code"} & set(changed)):
        await _employee_code_free(session, enterprise_id, values["employee_code"], exclude=person.id)
    if values["accommodation_id"] is not None and ({"accommodation_id", "enterprise_id"} & set(changed)):
        await assign_site(session, caller, values["accommodation_id"], enterprise_id, field="body.accommodation_id")
    if not changed and new_hash is None:
        return person
    for name in changed:
        setattr(person, name, values[name])
    if moving and enterprise_id is not None:
        (person.test_cohort,) = next_cohorts(await cohort_sizes(session, enterprise_id), [values["status"] == "active"])
    if new_hash is not None:
        person.national_id_hash = new_hash
        person.national_id_enc = cipher.encrypt(patch["national_id"])
        person.national_id_last4 = patch["national_id"][-4:]
        changed.append("national_id")
    await flush_or_conflict(
        session, {NATIONAL_ID_UNIQUE: national_id_taken(), EMPLOYEE_CODE_UNIQUE: employee_code_taken()}
    )
    await record(session, caller, "person.update", "person", person.id, {"fields": sorted(changed)})
    await session.refresh(person)
    return person


async def lookup(session: AsyncSession, caller: Caller, cipher: NationalIdCipher, national_id: str) -> Person:
    """Exact look-up by keyed hash (the number itself is never stored or logged). Audited:
    who looked someone up, not the number."""
    require_role(caller, "authority")
    person = (
        await session.execute(select(Person).where(Person.national_id_hash == cipher.hash(national_id)))
    ).scalar_one_or_none()
    if person is None or not await may_see_person(session, caller, person):
        raise person_not_found()
    await record(session, caller, "person.lookup", "person", person.id)
    return person


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


async def list_roster(
    session: AsyncSession,
    caller: Caller,
    cipher: NationalIdCipher,
    enterprise_id: uuid.UUID,
    *,
    status: str | None,
    job_role: str | None,
    q: str | None,
    cursor: str | None,
    limit: int,
) -> tuple[list[Person], str | None]:
    """The enterprise's people by employee code (keyset on the (enterprise, employee code)
    unique index). ``q`` matches the name (substring, any case), an employee code prefix, or
    an exact national ID (by hash)."""
    require_role(caller, "authority", "enterprise")
    await enterprise_in_scope(session, caller, enterprise_id)
    stmt = select(Person).where(Person.enterprise_id == enterprise_id)
    if status is not None:
        stmt = stmt.where(Person.status == status)
    if job_role is not None:
        stmt = stmt.where(Person.job_role == job_role)
    if q:
        pattern = _escape_like(q)
        matches: list[ColumnElement[bool]] = [
            Person.full_name.ilike(f"%{pattern}%", escape="\\"),
            Person.employee_code.ilike(f"{pattern}%", escape="\\"),
        ]
        with contextlib.suppress(nid.InvalidNationalId):
            matches.append(Person.national_id_hash == cipher.hash(nid.normalize(q)))
        stmt = stmt.where(or_(*matches))
    after = decode_cursor(cursor)
    if after is not None:
        stmt = stmt.where(_after_roster_cursor(after))
    stmt = stmt.order_by(Person.employee_code.asc().nulls_last(), Person.id).limit(limit + 1)
    rows = list((await session.execute(stmt)).scalars())
    next_cursor = None
    if len(rows) > limit:
        last = rows[limit - 1]
        next_cursor = encode_cursor([last.employee_code, str(last.id)])
    return rows[:limit], next_cursor


def _after_roster_cursor(values: list[Any]) -> Any:
    """Rows after ``[employee_code or null, id]`` in (employee_code NULLS LAST, id) order."""
    if len(values) == 2 and (values[0] is None or isinstance(values[0], str)) and isinstance(values[1], str):
        last_id = as_uuid(values[1])
        if last_id is not None:
            code = values[0]
            if code is None:
                return and_(Person.employee_code.is_(None), Person.id > last_id)
            return or_(
                Person.employee_code > code,
                and_(Person.employee_code == code, Person.id > last_id),
                Person.employee_code.is_(None),
            )
    raise Unprocessable("The cursor is not valid.", code="invalid_cursor", field="query.cursor")
