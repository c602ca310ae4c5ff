"""Bulk ingest of a lab's results: single samples and pools, judged per item, written set-based.

The lab's sample ID is the idempotency key of a result (``UNIQUE (lab_id, sample_id)``; a pool's
is ``UNIQUE (lab_id, pool_sample_id)``). The path is:

1. every item is checked on its own (time rules, pool size, person reference form);
2. every person reference is resolved in two queries (one for person IDs, one for keyed hashes
   of national IDs);
3. pools are inserted in one ``INSERT ... SELECT FROM unnest(...) ON CONFLICT DO NOTHING``, their
   members in one more; a negative pool adds one pooled negative PCR per member (seeds/001);
4. results: when none of the batch's sample IDs is stored yet (one ``EXISTS`` query), they are
   COPied straight into ``test_result`` inside a savepoint; otherwise (a replay, or a concurrent
   batch that got there first and makes the COPY hit the unique key) they go through one
   ``INSERT ... SELECT FROM unnest(...) ON CONFLICT DO NOTHING RETURNING``, and the rows that were
   not inserted are compared with the stored ones in one query, so an identical replay is
   ``duplicate`` and different data under the same ID is ``sample_conflict``.
5. every accepted individual positive PCR makes its person a case, traced at once: one
   statement for all of the batch's new cases (``outbreak.repository.cases_from_results``),
   in the batch's transaction (seeds/004 §II.3).

``test_result`` is partitioned by month of ``collected_at`` (``safework_registry.partitions``),
and PostgreSQL wants the partition key in every unique index: the table's is ``(lab_id,
sample_id, collected_at)``. ``(lab_id, sample_id)`` itself is unique in ``test_result_sample``
(unpartitioned, kept by the table's triggers), which the look-ups above read: one index, not
one per month. One lab's batches write their results one at a time (a transaction-scoped
advisory lock on the lab, taken before the results are written), so a sample ID already stored
under another collection time is found by the look-ups and answered ``sample_conflict`` rather
than failing the insert. Rows are inserted in sample-ID order (pools before results): an
identical concurrent batch waits for the first one's commit, then finds its rows and answers
``duplicate``; there is exactly one set of rows.
No result, person or national ID goes to the logs or the audit log (one audit row per batch,
counts only).
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import asyncpg
from pydantic import TypeAdapter, ValidationError
from sqlalchemy import any_, bindparam, select
from sqlalchemy.dialects.postgresql import ARRAY, UUID
from sqlalchemy.ext.asyncio import AsyncSession

from safework_common import scope
from safework_common.contract.results import ITEM_TAGS, PoolIn, ResultItem, SingleResultIn
from safework_common.db import column_names, driver_connection
from safework_common.errors import Forbidden, PayloadTooLarge, Unprocessable, field_path
from safework_common.internal_auth import Caller
from safework_registry.audit import service as audit
from safework_registry.enterprises.models import Enterprise
from safework_registry.labs.models import Lab
from safework_registry.outbreak import repository as outbreak
from safework_registry.outbreak.parameters import current as outbreak_parameters
from safework_registry.persons.models import Person
from safework_registry.persons.national_id import InvalidNationalId, NationalIdCipher, normalize
from safework_registry.results.models import MAX_POOL_SIZE, TestResult
from safework_registry.rollup import service as rollup
from safework_registry.uploads.rows import FileItems, column_of, row_of
from safework_registry.validation import EARLIEST_INSTANT, FUTURE_SKEW

_PERSONS_BY_ID = "SELECT id FROM person WHERE id = ANY($1::uuid[])"
_PERSONS_BY_HASH = "SELECT national_id_hash, id FROM person WHERE national_id_hash = ANY($1::bytea[])"
_INSERT_POOLS = """
INSERT INTO pool (lab_id, pool_sample_id, size, collected_at, resulted_at, result)
SELECT $1, u.sid, u.size, u.collected_at, u.resulted_at, u.result
FROM unnest($2::text[], $3::int2[], $4::timestamptz[], $5::timestamptz[], $6::text[])
     AS u(sid, size, collected_at, resulted_at, result)
ORDER BY u.sid
ON CONFLICT (lab_id, pool_sample_id) DO NOTHING
RETURNING id, pool_sample_id
"""
_INSERT_MEMBERS = """
INSERT INTO pool_member (pool_id, person_id, position)
SELECT * FROM unnest($1::int8[], $2::uuid[], $3::int2[])
"""
_STORED_POOLS = """
SELECT p.pool_sample_id, p.collected_at, p.resulted_at, p.result,
       array_agg(m.person_id ORDER BY m.position) FILTER (WHERE m.person_id IS NOT NULL) AS members
FROM pool p LEFT JOIN pool_member m ON m.pool_id = p.id
WHERE p.lab_id = $1 AND p.pool_sample_id = ANY($2::text[])
GROUP BY p.id
"""
_INSERT_RESULTS = """
INSERT INTO test_result (person_id, lab_id, sample_id, kind, collected_at, resulted_at, result, pooled, pool_id)
SELECT u.person_id, $1, u.sid, u.kind, u.collected_at, u.resulted_at, u.result, u.pool_id IS NOT NULL, u.pool_id
FROM unnest($2::uuid[], $3::text[], $4::text[], $5::timestamptz[], $6::timestamptz[], $7::text[], $8::int8[])
     AS u(person_id, sid, kind, collected_at, resulted_at, result, pool_id)
WHERE NOT EXISTS (SELECT 1 FROM test_result_sample t WHERE t.lab_id = $1 AND t.sample_id = u.sid)
ORDER BY u.sid
ON CONFLICT (lab_id, sample_id, collected_at) DO NOTHING
RETURNING sample_id
"""
# One lab's results are written one batch at a time (the idempotency key's unique index carries
# the partition key too); the lock's 64-bit key is the lab ID's hash in its own namespace.
_LAB_LOCK = "SELECT pg_advisory_xact_lock(hashtextextended($1::text, 18))"
_ANY_STORED = "SELECT EXISTS (SELECT 1 FROM test_result_sample WHERE lab_id = $1 AND sample_id = ANY($2::text[]))"
# What a batch's COPY writes (the records below, in table order): every column but those the
# database fills.
_COPY_COLUMNS = column_names(TestResult.__table__, exclude=("id", "received_at", "created_at", "updated_at"))
_STORED_RESULTS = """
SELECT t.sample_id, t.person_id, t.kind, t.collected_at, t.resulted_at, t.result, t.pooled
FROM test_result_sample s
JOIN test_result t ON t.lab_id = s.lab_id AND t.sample_id = s.sample_id AND t.collected_at = s.collected_at
WHERE s.lab_id = $1 AND s.sample_id = ANY($2::text[])
"""


_ITEMS = TypeAdapter(list[ResultItem])
_WRAPPERS = frozenset({"function-after", "function-before", *ITEM_TAGS})


class _Rejected(Exception):
    def __init__(self, code: str, message: str, field: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.field = field


@dataclass(slots=True)
class _Ref:
    field: str
    person_id: uuid.UUID | None
    key_hash: bytes | None


@dataclass(slots=True)
class _Result:
    index: int
    sample_id: str
    person_id: uuid.UUID
    kind: str
    collected_at: datetime
    resulted_at: datetime
    result: str
    pool_id: int | None = None


@dataclass(slots=True)
class _Pool:
    index: int
    sample_id: str
    members: list[uuid.UUID]
    collected_at: datetime
    resulted_at: datetime
    result: str


async def lab_for_caller(session: AsyncSession, caller: Caller, lab_id: uuid.UUID, *, posting: bool) -> None:
    """A lab reaches only its own ``lab_id`` (others: 404); the authority any. Posting needs an
    active lab (403 ``lab_inactive``)."""
    scope.require_role(caller, "lab", "authority")
    not_found = scope.lab_not_found()
    if not scope.may_see_lab(caller, lab_id):
        raise not_found
    active = await session.scalar(select(Lab.active).where(Lab.id == lab_id))
    if active is None:
        raise not_found
    if posting and not active:
        raise Forbidden("This lab is not active and may not post results.", code="lab_inactive", field="path.lab_id")


def _reference(person_id: uuid.UUID | None, national_id: str | None, field: str, cipher: NationalIdCipher) -> _Ref:
    if person_id is not None and national_id is not None:
        raise _Rejected("person_ref_ambiguous", "Name the person by person_id or by national_id, not both.", field)
    if person_id is not None:
        return _Ref(f"{field}.person_id", person_id, None)
    if national_id is None:
        raise _Rejected("person_ref_required", "Name the person by person_id or by national_id.", f"{field}.person_id")
    try:
        return _Ref(f"{field}.national_id", None, cipher.hash(normalize(national_id)))
    except InvalidNationalId as exc:
        # The message names the rule, never the number.
        raise _Rejected("invalid_national_id", f"Not a valid national ID: {exc}.", f"{field}.national_id") from exc


def _check_times(item: SingleResultIn | PoolIn, base: str, horizon: datetime) -> None:
    if item.collected_at > horizon:
        raise _Rejected("collected_in_future", "collected_at is in the future.", f"{base}.collected_at")
    if item.resulted_at > horizon:
        raise _Rejected("resulted_in_future", "resulted_at is in the future.", f"{base}.resulted_at")
    if item.collected_at < EARLIEST_INSTANT:
        raise _Rejected("collected_before_1900", "collected_at is before 1900.", f"{base}.collected_at")
    if item.resulted_at < item.collected_at:
        raise _Rejected("resulted_before_collected", "resulted_at is before collected_at.", f"{base}.resulted_at")


class _Batch:
    """The per-item judgement of one batch, then its set-based write."""

    def __init__(
        self, lab_id: uuid.UUID, raw: Sequence[Any], items: Sequence[SingleResultIn | PoolIn | None], now: datetime
    ) -> None:
        self.lab_id = lab_id
        self.raw = raw
        self.items = items
        self.now = now
        self.horizon = now + FUTURE_SKEW
        self.outcomes: list[dict[str, Any] | None] = [None] * len(items)
        self.refs: list[list[_Ref] | None] = [None] * len(items)

    def sample_id(self, i: int) -> str | None:
        item = self.items[i]
        if item is None:  # refused before validation: what it sent, if it is text
            raw = self.raw[i]
            sent = raw.get("sample_id", raw.get("pool_sample_id")) if isinstance(raw, dict) else None
            return sent if isinstance(sent, str) else None
        return item.sample_id if isinstance(item, SingleResultIn) else item.pool_sample_id

    def reject(self, i: int, err: _Rejected) -> None:
        self.outcomes[i] = {
            "index": i,
            "sample_id": self.sample_id(i),
            "status": "rejected",
            "code": err.code,
            "message": err.message,
            "field": err.field,
        }

    def settle(self, i: int, status: str) -> None:
        self.outcomes[i] = {"index": i, "sample_id": self.sample_id(i), "status": status}

    def check_items(self, cipher: NationalIdCipher) -> tuple[set[uuid.UUID], set[bytes]]:
        """Rules that need no database; returns the person references to resolve."""
        seen: set[str] = set()
        ids: set[uuid.UUID] = set()
        hashes: set[bytes] = set()
        for i, item in enumerate(self.items):
            if item is None:
                continue
            base = f"body.items[{i}]"
            try:
                if isinstance(item, SingleResultIn):
                    sid_field = f"{base}.sample_id"
                    sid = item.sample_id
                else:
                    sid_field = f"{base}.pool_sample_id"
                    sid = item.pool_sample_id
                if sid in seen:
                    raise _Rejected("duplicate_in_batch", "This sample ID appears earlier in the batch.", sid_field)
                seen.add(sid)
                _check_times(item, base, self.horizon)
                if isinstance(item, SingleResultIn):
                    refs = [_reference(item.person_id, item.national_id, base, cipher)]
                else:
                    if not item.members:
                        raise _Rejected("pool_empty", "A pool needs at least one member.", f"{base}.members")
                    if len(item.members) > MAX_POOL_SIZE:
                        raise _Rejected(
                            "pool_too_large",
                            f"A pool holds at most {MAX_POOL_SIZE} people (seeds/001: pools of 10 or 20).",
                            f"{base}.members",
                        )
                    refs = [
                        _reference(m.person_id, m.national_id, f"{base}.members[{j}]", cipher)
                        for j, m in enumerate(item.members)
                    ]
            except _Rejected as err:
                self.reject(i, err)
                continue
            self.refs[i] = refs
            for ref in refs:
                if ref.person_id is not None:
                    ids.add(ref.person_id)
                elif ref.key_hash is not None:
                    hashes.add(ref.key_hash)
        return ids, hashes

    def resolve(self, found_ids: set[uuid.UUID], by_hash: dict[bytes, uuid.UUID]) -> tuple[list[_Result], list[_Pool]]:
        """Turn references into people; the candidates to write."""
        results: list[_Result] = []
        pools: list[_Pool] = []
        for i, refs in enumerate(self.refs):
            if refs is None:
                continue
            item = self.items[i]
            assert item is not None
            try:
                people: list[uuid.UUID] = []
                for ref in refs:
                    pid = ref.person_id if ref.person_id in found_ids else None
                    if ref.key_hash is not None:
                        pid = by_hash.get(ref.key_hash)
                    if pid is None:
                        raise _Rejected("person_not_found", "No person with this reference.", ref.field)
                    people.append(pid)
                if isinstance(item, PoolIn) and len(set(people)) != len(people):
                    j = next(k for k, p in enumerate(people) if people.index(p) != k)
                    raise _Rejected(
                        "pool_member_repeated",
                        "The same person is named twice in the pool.",
                        f"body.items[{i}].members[{j}]",
                    )
            except _Rejected as err:
                self.reject(i, err)
                continue
            if isinstance(item, SingleResultIn):
                results.append(
                    _Result(i, item.sample_id, people[0], item.kind, item.collected_at, item.resulted_at, item.result)
                )
            else:
                pools.append(_Pool(i, item.pool_sample_id, people, item.collected_at, item.resulted_at, item.result))
        return results, pools

    async def write_pools(self, conn: Any, pools: list[_Pool]) -> list[_Result]:
        """Insert new pools and members; settle replays. Returns the negative pools' member results."""
        if not pools:
            return []
        rows = await conn.fetch(
            _INSERT_POOLS,
            self.lab_id,
            [p.sample_id for p in pools],
            [len(p.members) for p in pools],
            [p.collected_at for p in pools],
            [p.resulted_at for p in pools],
            [p.result for p in pools],
        )
        inserted: dict[str, int] = {r["pool_sample_id"]: r["id"] for r in rows}
        member_pool: list[int] = []
        member_person: list[uuid.UUID] = []
        member_pos: list[int] = []
        results: list[_Result] = []
        others: list[_Pool] = []
        for p in pools:
            pool_id = inserted.get(p.sample_id)
            if pool_id is None:
                others.append(p)
                continue
            self.settle(p.index, "accepted")
            for pos, person in enumerate(p.members, start=1):
                member_pool.append(pool_id)
                member_person.append(person)
                member_pos.append(pos)
                if p.result == "NEGATIVE":  # seeds/001: a negative pool clears every member
                    results.append(
                        _Result(
                            p.index,
                            f"{p.sample_id}#{pos}",
                            person,
                            "PCR",
                            p.collected_at,
                            p.resulted_at,
                            "NEGATIVE",
                            pool_id,
                        )
                    )
        if member_pool:
            await conn.execute(_INSERT_MEMBERS, member_pool, member_person, member_pos)
        if others:
            stored = {
                r["pool_sample_id"]: r
                for r in await conn.fetch(_STORED_POOLS, self.lab_id, [p.sample_id for p in others])
            }
            for p in others:
                row = stored[p.sample_id]
                same = (row["collected_at"], row["resulted_at"], row["result"], list(row["members"] or [])) == (
                    p.collected_at,
                    p.resulted_at,
                    p.result,
                    p.members,
                )
                self._settle_replay(p.index, same, "pool_sample_id")
        return results

    async def write_results(self, conn: Any, results: list[_Result]) -> None:
        if not results:
            return
        results.sort(key=lambda r: r.sample_id)  # one lock order for concurrent batches of the lab
        await conn.execute(_LAB_LOCK, str(self.lab_id))
        if not await conn.fetchval(_ANY_STORED, self.lab_id, [r.sample_id for r in results]) and await self._copy(
            conn, results
        ):
            for r in results:
                if r.pool_id is None:
                    self.settle(r.index, "accepted")
            return
        rows = await conn.fetch(
            _INSERT_RESULTS,
            self.lab_id,
            [r.person_id for r in results],
            [r.sample_id for r in results],
            [r.kind for r in results],
            [r.collected_at for r in results],
            [r.resulted_at for r in results],
            [r.result for r in results],
            [r.pool_id for r in results],
        )
        inserted = {r["sample_id"] for r in rows}
        others: list[_Result] = []
        for r in results:
            if r.pool_id is not None:
                continue  # members of a pool inserted just now; the pool item is settled already
            if r.sample_id in inserted:
                self.settle(r.index, "accepted")
            else:
                others.append(r)
        if others:
            stored = {
                row["sample_id"]: row
                for row in await conn.fetch(_STORED_RESULTS, self.lab_id, [r.sample_id for r in others])
            }
            for r in others:
                row = stored[r.sample_id]
                same = not row["pooled"] and (
                    row["person_id"],
                    row["kind"],
                    row["collected_at"],
                    row["resulted_at"],
                    row["result"],
                ) == (r.person_id, r.kind, r.collected_at, r.resulted_at, r.result)
                self._settle_replay(r.index, same, "sample_id")

    async def _copy(self, conn: Any, results: list[_Result]) -> bool:
        """The fast path when none of the sample IDs is stored yet: COPY straight into
        ``test_result``. If a concurrent batch of the lab stored some of them first, the unique
        key stops the COPY; the savepoint undoes it and the caller judges row by row instead."""
        records = [
            (
                r.person_id,
                self.lab_id,
                r.sample_id,
                r.kind,
                r.collected_at,
                r.resulted_at,
                r.result,
                r.pool_id is not None,
                r.pool_id,
            )
            for r in results
        ]
        try:
            async with conn.transaction():  # a savepoint inside the request's transaction
                await conn.copy_records_to_table("test_result", records=records, columns=list(_COPY_COLUMNS))
        except asyncpg.UniqueViolationError:
            return False
        return True

    def _settle_replay(self, i: int, same: bool, id_field: str) -> None:
        if same:
            self.settle(i, "duplicate")
        else:
            self.reject(
                i,
                _Rejected(
                    "sample_conflict",
                    "This lab already stored this sample ID with different data.",
                    f"body.items[{i}].{id_field}",
                ),
            )


async def _people_in_reach(session: AsyncSession, caller: Caller, people: set[uuid.UUID]) -> set[uuid.UUID]:
    """Those of ``people`` the caller may see (``safework_common.scope.may_see_person``): one
    statement with each person's employer and its district."""
    if not people:
        return set()
    stmt = (
        select(Person.id, Person.enterprise_id, Enterprise.district)
        .outerjoin(Enterprise, Enterprise.id == Person.enterprise_id)
        .where(Person.id == any_(bindparam("people", list(people), type_=ARRAY(UUID(as_uuid=True)))))
    )
    rows = await session.execute(stmt)
    return {pid for pid, eid, district in rows if scope.may_see_person(caller, pid, eid, district)}


async def _cases(session: AsyncSession, work: _Batch, results: list[_Result]) -> tuple[int, int]:
    """seeds/004 §II.3: every individual positive PCR this batch stored makes its person a case,
    traced at once, in the batch's transaction (``outbreak.repository.cases_from_results``: one
    statement for all of them). A pooled positive (its members need individual tests) and a
    positive rapid test (until the authority confirms it, ``POST /cases``) make none."""
    positives = [
        r.sample_id
        for r in results
        if r.pool_id is None
        and r.kind == "PCR"
        and r.result == "POSITIVE"
        and (o := work.outcomes[r.index]) is not None
        and o["status"] == "accepted"
    ]
    if not positives:
        return 0, 0
    params = outbreak_parameters()
    return await outbreak.cases_from_results(
        session, work.lab_id, positives, work.now, params.infectious_before, params.dwell
    )


async def ingest(
    session: AsyncSession,
    caller: Caller,
    lab_id: uuid.UUID,
    raw_items: list[Any],
    *,
    cipher: NationalIdCipher,
    max_items: int,
    now: datetime | None = None,
    file: FileItems | None = None,
) -> dict[str, Any]:
    """Judge and store one batch; the per-item outcomes, in request order. Accepted items are
    written even when others are rejected; nothing rejected is written. An item that does not
    validate (a time without an offset, an unknown test kind) is rejected with its field; a
    file's row that could not be read is rejected with its reason (``file``)."""
    await lab_for_caller(session, caller, lab_id, posting=True)
    if not raw_items:
        raise Unprocessable("The batch has no items.", code="batch_empty", field="body.items")
    if len(raw_items) > max_items:
        raise PayloadTooLarge(
            f"A batch holds at most {max_items} items; split it.", code="batch_too_large", field="body.items"
        )
    items, invalid = _validated(raw_items, file)
    work = _Batch(lab_id, raw_items, items, now or datetime.now(UTC))
    for i, err in invalid.items():
        work.reject(i, err)
    ids, hashes = work.check_items(cipher)
    conn = await driver_connection(session)
    found_ids: set[uuid.UUID] = set()
    by_hash: dict[bytes, uuid.UUID] = {}
    if ids:
        found_ids = {r["id"] for r in await conn.fetch(_PERSONS_BY_ID, list(ids))}
    if hashes:
        by_hash = {bytes(r["national_id_hash"]): r["id"] for r in await conn.fetch(_PERSONS_BY_HASH, list(hashes))}
    if not scope.may_name_any_person(caller):
        # A district authority posting for a lab names only people it may see: anyone else is
        # not found, item by item, as on every other route (a pool: the whole pool).
        reach = await _people_in_reach(session, caller, found_ids | set(by_hash.values()))
        found_ids &= reach
        by_hash = {h: pid for h, pid in by_hash.items() if pid in reach}
    results, pools = work.resolve(found_ids, by_hash)
    if any(p.result == "POSITIVE" for p in pools):
        # Two statements will raise roll-up rows (the positive pools' members, then the
        # results): take them all first, in one order (``rollup.service``).
        await rollup.lock_people(conn, [*(r.person_id for r in results), *(m for p in pools for m in p.members)])
    results.extend(await work.write_pools(conn, pools))
    await work.write_results(conn, results)
    cases, contacts = await _cases(session, work, results)

    outcomes = [o for o in work.outcomes if o is not None]
    assert len(outcomes) == len(raw_items)
    counts = {"accepted": 0, "duplicate": 0, "rejected": 0}
    for o in outcomes:
        counts[o["status"]] += 1
    await audit.record(
        session,
        caller,
        "ingest",
        "test_result_batch",
        lab_id,
        {
            "items": len(outcomes),
            "pools": sum(isinstance(it, PoolIn) for it in items),
            **counts,
            "cases": cases,
            "contacts": contacts,
        },
    )
    if file is not None:
        for o in outcomes:
            o["row"] = row_of(o.get("field"), o["index"], file)
            if (members := file.member_rows.get(o["index"])) is not None:
                o["rows"] = members
            if (column := column_of(o.get("field"), file)) is not None:
                o["column"] = column
    return {"lab_id": str(lab_id), **counts, "items": outcomes}


def _validated(
    raw_items: list[Any], file: FileItems | None
) -> tuple[list[SingleResultIn | PoolIn | None], dict[int, _Rejected]]:
    """Each item through the contract's model on its own: the whole list in one call (the
    usual, all-valid case), and on errors the failing items answered (their first error) and the
    rest validated again in one call. A file's unreadable rows are answered first."""
    rejected = {i: _Rejected(r.code, r.message, r.field) for i, r in (file.refused.items() if file else ())}
    indexes = [i for i in range(len(raw_items)) if i not in rejected]
    try:
        valid = _ITEMS.validate_python([raw_items[i] for i in indexes] if rejected else raw_items)
    except ValidationError as exc:
        failed: dict[int, Any] = {}
        for err in exc.errors(include_url=False, include_input=False):
            failed.setdefault(int(err["loc"][0]), err)
        for k, err in failed.items():
            i = indexes[k]
            loc = [part for part in err["loc"][1:] if part not in _WRAPPERS]
            rejected[i] = _Rejected(str(err["type"]), str(err["msg"]), field_path(["body", "items", i, *loc]))
        indexes = [i for k, i in enumerate(indexes) if k not in failed]
        valid = _ITEMS.validate_python([raw_items[i] for i in indexes])
    items: list[SingleResultIn | PoolIn | None] = [None] * len(raw_items)
    for i, item in zip(indexes, valid, strict=True):
        items[i] = item
    return items, rejected
