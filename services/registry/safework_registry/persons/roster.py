"""Roster upsert: up to 10,000 people in one request, matched by employee code within the
enterprise, each item answered on its own (created / updated / unchanged / rejected).

Set-based: one locking SELECT finds every stored person the batch touches (by employee code
in this enterprise or by national-ID hash anywhere), the decisions are made in Python, then
one COPY of the new people (falling back to one ``INSERT ... SELECT FROM unnest(...) ON CONFLICT
DO NOTHING`` if a concurrent request took a national ID), one UPDATE ``FROM unnest(...)``, one
claim of boarding sites and one multi-row audit insert per action.

Matching, for an item with employee code C and national ID N:
- C on this roster, N unknown or the same person: update that person (a new N corrects it);
- C on this roster, N another person's: rejected ``national_id_taken``;
- C new, N unknown: created;
- C new, N on this roster under another code: rejected ``national_id_taken``;
- C new, N a person who has ``left`` another enterprise (or has none): the person is moved
  here (outcome ``created`` with ``moved: true``; personal data kept, employment fields start
  afresh, a new test cohort in this enterprise);
- C new, N an active person of another enterprise: rejected ``national_id_taken``.
"""

from __future__ import annotations

import uuid
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from operator import itemgetter
from typing import Any, Final, cast

import asyncpg
from pydantic import TypeAdapter, ValidationError
from sqlalchemy import String, Table
from sqlalchemy.dialects import postgresql
from sqlalchemy.ext.asyncio import AsyncSession

from safework_common.contract.persons import (
    ItemError,
    Outcome,
    RosterCounts,
    RosterItem,
    RosterItemResult,
    RosterResult,
)
from safework_common.db import column_names, driver_connection
from safework_common.errors import Conflict, PayloadTooLarge, Unprocessable, field_path
from safework_common.gcpause import gc_paused
from safework_common.internal_auth import Caller
from safework_common.scope import may_name_site, require_role
from safework_common.timezone import now_local
from safework_registry.accommodations.service import OTHER_ENTERPRISE, OTHER_ENTERPRISE_MESSAGE, claim_sites, lock_sites
from safework_registry.audit.service import record_many
from safework_registry.enterprises.service import enterprise_in_scope
from safework_registry.persons.models import Person
from safework_registry.persons.national_id import NationalIdCipher
from safework_registry.persons.rules import RuleViolation, changed_fields, merge, next_cohorts, settle
from safework_registry.persons.service import cohort_sizes
from safework_registry.uploads.rows import FileItems, RowRefused, column_of

_ITEMS = TypeAdapter(list[RosterItem])

# Column order and PostgreSQL types for the COPY and the unnest()-based INSERT and UPDATE: the
# model's columns, less the timestamps the database fills. Arrays are cast without a length
# (``varchar[]``): a cast to ``varchar(n)`` would cut a longer value where the column refuses it.
_PERSON: Final = cast(Table, Person.__table__)


def _array_type(name: str) -> str:
    type_ = _PERSON.c[name].type
    if isinstance(type_, String) and type_.length is not None:
        type_ = String()
    return type_.compile(dialect=postgresql.dialect()).lower()  # type: ignore[no-untyped-call]


COLUMNS: tuple[tuple[str, str], ...] = tuple(
    (name, _array_type(name)) for name in column_names(_PERSON, exclude=("created_at", "updated_at"))
)
_NAMES = [name for name, _ in COLUMNS]
_ROW = itemgetter(*_NAMES)  # a row dict -> its values in column order, in C
_COLUMN_LIST = ", ".join(_NAMES)
_ARRAYS = ", ".join(f"${n}::{kind}[]" for n, (_, kind) in enumerate(COLUMNS, start=1))
# Statements run on the session's asyncpg connection (same transaction): SQLAlchemy's per-element
# array and per-row result processing would cost more than the database work at 10,000 rows.
STORED_SQL = (
    f"SELECT {_COLUMN_LIST} FROM person WHERE id IN ("  # noqa: S608 - fixed column names
    # Two index look-ups united, rather than one OR that PostgreSQL would answer by testing
    # every row against both 10,000-element arrays.
    "SELECT id FROM person WHERE enterprise_id = $1 AND employee_code = ANY($2::varchar[]) "
    "UNION SELECT id FROM person WHERE national_id_hash = ANY($3::bytea[]))"
)
INSERT_SQL = (
    f"INSERT INTO person ({_COLUMN_LIST}) SELECT * FROM unnest({_ARRAYS}) "  # noqa: S608 - fixed column names
    "ON CONFLICT DO NOTHING RETURNING id"
)
UPDATE_SQL = (
    "UPDATE person AS p SET "  # noqa: S608 - fixed column names
    + ", ".join(f"{name} = v.{name}" for name in _NAMES if name != "id")
    + f", updated_at = now() FROM unnest({_ARRAYS}, ${len(COLUMNS) + 1}::uuid[]) "
    + f"AS v({_COLUMN_LIST}, expected_enterprise_id) "
    + "WHERE p.id = v.id AND p.enterprise_id IS NOT DISTINCT FROM v.expected_enterprise_id RETURNING p.id"
)
LOCK_MOVES_SQL = "SELECT id, enterprise_id, status FROM person WHERE id = ANY($1::uuid[]) ORDER BY id FOR UPDATE"


@dataclass
class _Item:
    index: int
    item: RosterItem
    hashed: bytes
    sent: set[str]
    values: dict[str, Any] = field(default_factory=dict)
    stored: Any = None  # the stored row (an asyncpg Record), None for a new person
    moved: bool = False
    check_site: bool = False


class _Outcomes:
    def __init__(self, size: int) -> None:
        self.items: list[RosterItemResult | None] = [None] * size

    def reject(self, index: int, code: str, message: str, field_name: str | None, employee_code: str | None) -> None:
        where = f"body.items[{index}]" + (f".{field_name}" if field_name else "")
        self.items[index] = RosterItemResult(
            index=index,
            employee_code=employee_code,
            outcome="rejected",
            code=code,
            message=message,
            field=where,
            errors=[ItemError(field=where, code=code, message=message)],
        )

    def invalid(self, index: int, raw: Any, item_errors: list[Any]) -> None:
        """``item_errors``: pydantic errors whose ``loc`` starts with the item's index."""
        errors = [
            ItemError(field=field_path(["body", "items", *err["loc"]]), code=err["type"], message=str(err["msg"]))
            for err in item_errors
        ]
        code = raw.get("employee_code") if isinstance(raw, dict) else None
        first = errors[0]
        self.items[index] = RosterItemResult(
            index=index,
            employee_code=code if isinstance(code, str) else None,
            outcome="rejected",
            code=first.code,
            message=first.message,
            field=first.field,
            errors=errors,
        )

    def refused(self, index: int, raw: Any, reason: RowRefused) -> None:
        """A file's row that could not be read into an item."""
        error = ItemError(field=reason.field, code=reason.code, message=reason.message)
        code = raw.get("employee_code") if isinstance(raw, dict) else None
        self.items[index] = RosterItemResult(
            index=index,
            employee_code=code if isinstance(code, str) else None,
            outcome="rejected",
            code=reason.code,
            message=reason.message,
            field=reason.field,
            errors=[error],
        )

    def done(self, item: _Item, outcome: Outcome, person_id: uuid.UUID) -> None:
        # Built from checked values: skip re-validation (10,000 of these per batch).
        self.items[item.index] = RosterItemResult.model_construct(
            index=item.index,
            employee_code=item.item.employee_code,
            outcome=outcome,
            person_id=person_id,
            moved=item.moved,
            code=None,
            message=None,
            field=None,
            errors=[],
        )


async def upsert_roster(
    session: AsyncSession,
    caller: Caller,
    cipher: NationalIdCipher,
    enterprise_id: uuid.UUID,
    raw_items: list[Any],
    *,
    max_items: int,
    file: FileItems | None = None,
) -> RosterResult:
    require_role(caller, "authority", "enterprise")
    if not raw_items:
        raise Unprocessable("The roster has no items.", code="batch_empty", field="body.items")
    if len(raw_items) > max_items:
        raise PayloadTooLarge(
            f"A roster upsert takes at most {max_items} items.", code="batch_too_large", field="body.items"
        )
    # Every write to this enterprise's people takes this lock first (see persons/service.py).
    await enterprise_in_scope(session, caller, enterprise_id, for_update=True)
    with gc_paused():
        now = now_local()
        out = _Outcomes(len(raw_items))
        parsed = _parse(raw_items, cipher, out, file)
        parsed = _without_batch_duplicates(parsed, out)
        stored = await _stored(session, enterprise_id, parsed)
        pending = _decide(parsed, stored, enterprise_id, now, out)
        pending = await _lock_moves(session, pending, out)
        pending = await _check_sites(session, caller, pending, enterprise_id, out)
        creates = [p for p in pending if p.stored is None]
        updates = [p for p in pending if p.stored is not None]
        await _assign_cohorts(session, enterprise_id, creates, updates)
        created = await _insert(session, cipher, creates, out)
        updates = await _update(session, cipher, updates, out)
        accepted = created + updates
        await claim_sites(session, {p.values["accommodation_id"] for p in accepted if p.check_site}, enterprise_id)
        for p in created:
            out.done(p, "created", p.values["id"])
        for p in updates:
            out.done(p, "created" if p.moved else "updated", p.values["id"])
        details = {"enterprise_id": str(enterprise_id), "via": "roster"}
        await record_many(session, caller, "person.create", "person", [p.values["id"] for p in created], details)
        await record_many(
            session, caller, "person.move", "person", [p.values["id"] for p in updates if p.moved], details
        )
        await record_many(
            session, caller, "person.update", "person", [p.values["id"] for p in updates if not p.moved], details
        )
        results = [r for r in out.items if r is not None]
        if file is not None:
            for r in results:
                r.row = file.rows[r.index]
                r.column = column_of(r.field, file)
        counts = Counter(r.outcome for r in results)
        return RosterResult(
            enterprise_id=enterprise_id,
            counts=RosterCounts(
                created=counts["created"],
                updated=counts["updated"],
                unchanged=counts["unchanged"],
                rejected=counts["rejected"],
            ),
            items=results,
        )


def _parse(raw_items: list[Any], cipher: NationalIdCipher, out: _Outcomes, file: FileItems | None) -> list[_Item]:
    """Validate each item on its own: a bad one is rejected, the others go on. The whole list
    is validated in one call first (the common, all-valid case); on errors the failing items
    are answered and the rest validated again in one call. A file's unreadable rows are
    answered first."""
    refused = file.refused if file is not None else {}
    for index, reason in refused.items():
        out.refused(index, raw_items[index], reason)
    indexes = [i for i in range(len(raw_items)) if i not in refused]
    try:
        items = _ITEMS.validate_python([raw_items[i] for i in indexes] if refused else raw_items)
    except ValidationError as exc:
        errors: dict[int, list[Any]] = defaultdict(list)
        for err in exc.errors(include_url=False, include_input=False):
            errors[indexes[int(err["loc"][0])]].append({**err, "loc": (indexes[int(err["loc"][0])], *err["loc"][1:])})
        for index, item_errors in errors.items():
            out.invalid(index, raw_items[index], item_errors)
        indexes = [i for i in indexes if i not in errors]
        items = _ITEMS.validate_python([raw_items[i] for i in indexes])
    return [
        _Item(index, item, cipher.hash(item.national_id), set(item.model_fields_set))
        for index, item in zip(indexes, items, strict=True)
    ]


def _without_batch_duplicates(parsed: list[_Item], out: _Outcomes) -> list[_Item]:
    """An employee code or national ID twice in one batch is ambiguous: every copy is rejected."""
    codes = Counter(p.item.employee_code for p in parsed)
    hashes = Counter(p.hashed for p in parsed)
    kept = []
    for p in parsed:
        if codes[p.item.employee_code] > 1:
            out.reject(
                p.index,
                "duplicate_in_batch",
                "This employee code appears more than once in the batch.",
                "employee_code",
                p.item.employee_code,
            )
        elif hashes[p.hashed] > 1:
            out.reject(
                p.index,
                "duplicate_in_batch",
                "This national ID appears more than once in the batch.",
                "national_id",
                p.item.employee_code,
            )
        else:
            kept.append(p)
    return kept


async def _stored(session: AsyncSession, enterprise_id: uuid.UUID, parsed: list[_Item]) -> list[Any]:
    """Every stored person the batch touches, in one query. Not row-locked: this enterprise's
    people change only under its enterprise lock, which we hold; people of other enterprises
    that we move are locked and re-checked in :func:`_lock_moves`."""
    if not parsed:
        return []
    driver = await driver_connection(session)
    return list(
        await driver.fetch(
            STORED_SQL, enterprise_id, [p.item.employee_code for p in parsed], [p.hashed for p in parsed]
        )
    )


def _decide(
    parsed: list[_Item],
    stored: list[Any],
    enterprise_id: uuid.UUID,
    now: Any,
    out: _Outcomes,
) -> list[_Item]:
    """Match each item (see the module docstring), merge it with the stored record and check
    the person rules. Returns the items that will be written."""
    by_code = {r["employee_code"]: r for r in stored if r["enterprise_id"] == enterprise_id}
    by_hash = {r["national_id_hash"]: r for r in stored}
    pending = []
    for p in parsed:
        code = p.item.employee_code
        same_code = by_code.get(code)
        same_id = by_hash.get(p.hashed)
        target: Any = None
        if same_code is not None:
            if same_id is not None and same_id["id"] != same_code["id"]:
                out.reject(
                    p.index, "national_id_taken", "This national ID belongs to another person.", "national_id", code
                )
                continue
            target = same_code
        elif same_id is not None:
            if same_id["enterprise_id"] == enterprise_id:
                out.reject(
                    p.index,
                    "national_id_taken",
                    "This person is already on the roster under another employee code.",
                    "national_id",
                    code,
                )
                continue
            if same_id["enterprise_id"] is not None and same_id["status"] != "left":
                out.reject(
                    p.index,
                    "national_id_taken",
                    "This national ID belongs to an active person of another enterprise.",
                    "national_id",
                    code,
                )
                continue
            target, p.moved = same_id, True
        sent_values = dict(p.item.__dict__)  # the validated values, without a dump
        sent_values["enterprise_id"] = enterprise_id
        sent = p.sent | {"enterprise_id", "employee_code"}
        values = merge(target, sent_values, sent, new_membership=target is None or p.moved)
        try:
            settle(values, sent, now)
        except RuleViolation as exc:
            out.reject(p.index, exc.code, exc.message, exc.field, code)
            continue
        if target is None:
            values["id"] = uuid.uuid4()
            p.check_site = values["accommodation_id"] is not None
        else:
            values["id"] = target["id"]
            if not p.moved and not changed_fields(target, values) and target["national_id_hash"] == p.hashed:
                out.done(p, "unchanged", target["id"])
                continue
            p.check_site = values["accommodation_id"] is not None and (
                p.moved or values["accommodation_id"] != target["accommodation_id"]
            )
        p.values, p.stored = values, target
        pending.append(p)
    return pending


async def _check_sites(
    session: AsyncSession, caller: Caller, pending: list[_Item], enterprise_id: uuid.UUID, out: _Outcomes
) -> list[_Item]:
    """One concentrated site, one enterprise (seeds/003): lock the sites named, refuse another
    enterprise's concentrated site; a site the caller may not name (a district authority:
    another district's) is not found."""
    wanted = {p.values["accommodation_id"] for p in pending if p.check_site}
    owners = await lock_sites(session, wanted)
    kept = []
    for p in pending:
        if p.check_site:
            site = p.values["accommodation_id"]
            if site not in owners or not may_name_site(caller, owners[site].district):
                out.reject(
                    p.index,
                    "accommodation_not_found",
                    "No such accommodation.",
                    "accommodation_id",
                    p.item.employee_code,
                )
                continue
            if owners[site].refuses(enterprise_id):
                out.reject(
                    p.index, OTHER_ENTERPRISE, OTHER_ENTERPRISE_MESSAGE, "accommodation_id", p.item.employee_code
                )
                continue
        kept.append(p)
    return kept


async def _assign_cohorts(
    session: AsyncSession, enterprise_id: uuid.UUID, creates: list[_Item], updates: list[_Item]
) -> None:
    """Newcomers (created or moved here) go to the smaller half, in batch order; a stored
    person keeps theirs for good. The halves are counted over active people after this batch's
    status changes."""
    for p in updates:
        if not p.moved:
            assert p.stored is not None
            p.values["test_cohort"] = p.stored["test_cohort"]
    joining = sorted([p for p in creates + updates if p.stored is None or p.moved], key=lambda p: p.index)
    if not joining:
        return
    sizes = list(await cohort_sizes(session, enterprise_id))
    for p in updates:
        if not p.moved and p.stored is not None and p.stored["status"] != p.values["status"]:
            sizes[p.stored["test_cohort"]] += 1 if p.values["status"] == "active" else -1
    cohorts = next_cohorts((sizes[0], sizes[1]), [p.values["status"] == "active" for p in joining])
    for p, cohort in zip(joining, cohorts, strict=True):
        p.values["test_cohort"] = cohort


def _columns(rows: list[dict[str, Any]]) -> list[list[Any]]:
    """Column arrays, in :data:`COLUMNS` order, for ``unnest``."""
    return [list(column) for column in zip(*map(_ROW, rows), strict=True)]


async def _insert(session: AsyncSession, cipher: NationalIdCipher, creates: list[_Item], out: _Outcomes) -> list[_Item]:
    """Every new person in one COPY (conflicts were checked under the enterprise lock), inside
    a savepoint; if a concurrent request registered one of the national IDs meanwhile, the COPY
    is undone and one ``INSERT ... ON CONFLICT DO NOTHING`` writes the others, the conflicting
    ones answered ``national_id_taken``."""
    if not creates:
        return []
    rows = []
    for p in creates:
        number = p.item.national_id
        rows.append(
            {
                **p.values,
                "national_id_hash": p.hashed,
                "national_id_enc": cipher.encrypt(number),
                "national_id_last4": number[-4:],
            }
        )
    driver = await driver_connection(session)
    try:
        async with driver.transaction():
            await driver.copy_records_to_table("person", records=list(map(_ROW, rows)), columns=_NAMES)
        inserted = {p.values["id"] for p in creates}
    except asyncpg.UniqueViolationError:
        inserted = {row["id"] for row in await driver.fetch(INSERT_SQL, *_columns(rows))}
    created = []
    for p in creates:
        if p.values["id"] in inserted:
            created.append(p)
        else:
            out.reject(
                p.index,
                "national_id_taken",
                "A person with this national ID was registered meanwhile.",
                "national_id",
                p.item.employee_code,
            )
    return created


async def _update(session: AsyncSession, cipher: NationalIdCipher, updates: list[_Item], out: _Outcomes) -> list[_Item]:
    """One UPDATE for every changed or moved person; a corrected national ID is re-hashed and
    re-encrypted. A row is written only if its enterprise is still the one we read (another
    enterprise's roster may have moved a person who had left, meanwhile)."""
    if not updates:
        return []
    rows = []
    for p in updates:
        assert p.stored is not None
        row = {**p.values, "expected_enterprise_id": p.stored["enterprise_id"]}
        if p.hashed == p.stored["national_id_hash"]:
            row["national_id_hash"] = p.stored["national_id_hash"]
            row["national_id_enc"] = p.stored["national_id_enc"]
            row["national_id_last4"] = p.stored["national_id_last4"]
        else:
            number = p.item.national_id
            row["national_id_hash"] = p.hashed
            row["national_id_enc"] = cipher.encrypt(number)
            row["national_id_last4"] = number[-4:]
        rows.append(row)
    driver = await driver_connection(session)
    try:
        written = {
            row["id"]
            for row in await driver.fetch(UPDATE_SQL, *_columns(rows), [row["expected_enterprise_id"] for row in rows])
        }
    except asyncpg.UniqueViolationError as exc:
        raise Conflict(
            "A corrected national ID was registered by a concurrent request; send the batch again.",
            code="national_id_taken",
            field="body.items",
        ) from exc
    kept = []
    for p in updates:
        if p.values["id"] in written:
            kept.append(p)
        else:
            out.reject(
                p.index,
                "concurrent_update",
                "This person joined another enterprise meanwhile.",
                "employee_code",
                p.item.employee_code,
            )
    return kept


async def _lock_moves(session: AsyncSession, pending: list[_Item], out: _Outcomes) -> list[_Item]:
    """Lock the people joining from elsewhere (in id order) and re-check that they still are
    where we read them, with the status we read: a move must not race their own enterprise."""
    moves = {p.values["id"]: p for p in pending if p.moved}
    if not moves:
        return pending
    driver = await driver_connection(session)
    rows = await driver.fetch(LOCK_MOVES_SQL, sorted(moves))
    now = {row["id"]: (row["enterprise_id"], row["status"]) for row in rows}
    kept = []
    for p in pending:
        if p.moved:
            assert p.stored is not None
            if now.get(p.values["id"]) != (p.stored["enterprise_id"], p.stored["status"]):
                out.reject(
                    p.index,
                    "national_id_taken",
                    "This national ID belongs to a person whose record changed meanwhile; send the item again.",
                    "national_id",
                    p.item.employee_code,
                )
                continue
        kept.append(p)
    return kept
