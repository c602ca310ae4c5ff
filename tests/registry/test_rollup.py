"""``person_rollup``: each person's latest result, latest positive and dose 1, kept exact by the
database on every write path (the scheduler trusts it for "as of now" questions)."""

from __future__ import annotations

import asyncio
import uuid
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest

from safework_common.internal_auth import InternalTokenMinter
from safework_common.timezone import LOCAL_TZ
from tests import callers
from tests.callers import As
from tests.registry.factories import Seed, cipher_for, ids, rollup_drift


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=LOCAL_TZ)


def single(sid: str, person: uuid.UUID, collected: str, result: str = "NEGATIVE", kind: str = "PCR") -> dict[str, Any]:
    return {
        "type": "single",
        "sample_id": sid,
        "person_id": str(person),
        "kind": kind,
        "collected_at": collected,
        "resulted_at": collected,
        "result": result,
    }


def pool(sid: str, members: list[uuid.UUID], collected: str, result: str) -> dict[str, Any]:
    return {
        "type": "pool",
        "pool_sample_id": sid,
        "members": [{"person_id": str(m)} for m in members],
        "collected_at": collected,
        "resulted_at": collected,
        "result": result,
    }


@pytest.fixture
def seed(db: str, keys_dir: Path) -> Seed:
    return Seed(db, cipher_for(keys_dir))


async def rollup(seed: Seed, person: uuid.UUID) -> tuple[Any, Any, Any] | None:
    rows = await seed.fetch(
        "SELECT last_result_at, last_positive_at, first_dose_at FROM person_rollup WHERE person_id = $1", person
    )
    return (rows[0][0], rows[0][1], rows[0][2]) if rows else None


async def post(registry: httpx.AsyncClient, minter: InternalTokenMinter, lab: uuid.UUID, items: list[Any]) -> Any:
    r = await As(registry, minter)(callers.lab(lab)).post(f"/v1/labs/{lab}/results", json={"items": items})
    assert r.status_code == 200, r.text
    return r.json()


async def test_ingest_keeps_the_latest_result_and_positive_and_an_invalid_result_is_none(
    registry: httpx.AsyncClient, minter: InternalTokenMinter, seed: Seed, db: str
) -> None:
    ent = await seed.enterprise()
    a, b, c = ids(await seed.people(ent, 3))
    lab = await seed.lab()

    await post(
        registry,
        minter,
        lab,
        [
            single("S1", a, "2021-09-10T08:00:00+07:00", "POSITIVE"),
            single("S2", a, "2021-09-14T08:00:00+07:00"),
            single("S3", b, "2021-09-14T08:00:00+07:00", "INVALID"),
            single("S4", c, "2021-09-12T08:00:00+07:00", "NEGATIVE", "RAPID_ANTIGEN"),
        ],
    )
    # A later batch with an older sample does not lower the latest.
    await post(registry, minter, lab, [single("S5", a, "2021-09-11T08:00:00+07:00")])

    assert await rollup(seed, a) == (at("2021-09-14T08:00"), at("2021-09-10T08:00"), None)
    assert await rollup(seed, b) is None, "an INVALID result is not a result"
    assert await rollup(seed, c) == (at("2021-09-12T08:00"), None, None)
    assert await rollup_drift(db) == []


async def test_a_negative_pool_counts_for_its_members_and_a_positive_one_does_not(
    registry: httpx.AsyncClient, minter: InternalTokenMinter, seed: Seed, db: str
) -> None:
    ent = await seed.enterprise()
    people = ids(await seed.people(ent, 20))
    lab = await seed.lab()

    await post(
        registry,
        minter,
        lab,
        [
            pool("P-NEG", people[:10], "2021-09-14T08:00:00+07:00", "NEGATIVE"),
            pool("P-POS", people[10:], "2021-09-14T09:00:00+07:00", "POSITIVE"),
        ],
    )

    assert [await rollup(seed, p) for p in people[:10]] == [(at("2021-09-14T08:00"), None, None)] * 10
    assert [await rollup(seed, p) for p in people[10:]] == [(None, None, None)] * 10, "a positive pool: no result"
    pools = await seed.fetch(
        "SELECT person_id, last_positive_pool_at FROM person_rollup WHERE person_id = ANY($1)", people
    )
    assert {r["person_id"]: r["last_positive_pool_at"] for r in pools} == {
        **{p: None for p in people[:10]},
        **{p: at("2021-09-14T09:00") for p in people[10:]},
    }, "members of a positive pool are marked with the pool's time"
    assert await rollup_drift(db) == []


async def test_a_replayed_batch_changes_nothing(
    registry: httpx.AsyncClient, minter: InternalTokenMinter, seed: Seed, db: str
) -> None:
    ent = await seed.enterprise()
    (a,) = ids(await seed.people(ent, 1))
    lab = await seed.lab()
    items = [single("S1", a, "2021-09-14T08:00:00+07:00", "POSITIVE")]
    await post(registry, minter, lab, items)
    before = await rollup(seed, a)

    again = await post(registry, minter, lab, items)

    assert again["duplicate"] == 1
    assert await rollup(seed, a) == before == (at("2021-09-14T08:00"), at("2021-09-14T08:00"), None)
    assert await rollup_drift(db) == []


async def test_dose_1_is_kept_and_dose_2_leaves_it(
    registry: httpx.AsyncClient, minter: InternalTokenMinter, seed: Seed, db: str
) -> None:
    await seed.product("AZD1222", min_interval_days=28)
    ent = await seed.enterprise()
    (a,) = ids(await seed.people(ent, 1))
    client = As(registry, minter)(callers.PROVINCE)
    d1 = {"dose_number": 1, "product_code": "AZD1222", "administered_at": "2021-09-05T09:00:00+07:00"}
    d2 = {"dose_number": 2, "product_code": "AZD1222", "administered_at": "2021-10-05T09:00:00+07:00"}

    assert (await client.post(f"/v1/persons/{a}/doses", json=d1)).status_code == 201
    assert await rollup(seed, a) == (None, None, at("2021-09-05T09:00"))
    assert (await client.post(f"/v1/persons/{a}/doses", json=d2)).status_code == 201
    assert await rollup(seed, a) == (None, None, at("2021-09-05T09:00"))
    assert await rollup_drift(db) == []


async def test_a_corrected_or_deleted_result_is_recomputed(seed: Seed, db: str) -> None:
    ent = await seed.enterprise()
    a, b = ids(await seed.people(ent, 2))
    lab = await seed.lab()
    await seed.result(a, lab, "R1", at("2021-09-10T08:00"), "POSITIVE")
    await seed.result(a, lab, "R2", at("2021-09-12T08:00"))
    await seed.result(b, lab, "R3", at("2021-09-12T08:00"))
    await seed.result(b, lab, "R4", at("2021-09-13T08:00"))

    # A lab corrects a positive to negative: no positive is left.
    await seed.fetch("UPDATE test_result SET result = 'NEGATIVE' WHERE sample_id = 'R1'")
    assert await rollup(seed, a) == (at("2021-09-12T08:00"), None, None)
    # The latest result goes: the one before it is the latest again.
    await seed.fetch("DELETE FROM test_result WHERE sample_id = 'R4'")
    assert await rollup(seed, b) == (at("2021-09-12T08:00"), None, None)
    # A result moved to another person counts for them, not the first.
    await seed.fetch("UPDATE test_result SET person_id = $1 WHERE sample_id = 'R3'", a)
    assert await rollup(seed, b) == (None, None, None)
    assert await rollup(seed, a) == (at("2021-09-12T08:00"), None, None)
    # Doses too.
    await seed.product("AZD1222", min_interval_days=28)
    await seed.dose(b, 1, "AZD1222", at("2021-09-05T09:00"))
    await seed.fetch("UPDATE dose SET administered_at = administered_at + interval '1 day' WHERE person_id = $1", b)
    assert await rollup(seed, b) == (None, None, at("2021-09-06T09:00"))
    await seed.fetch("DELETE FROM dose WHERE person_id = $1", b)
    assert await rollup(seed, b) == (None, None, None)
    assert await rollup_drift(db) == []


async def test_a_deleted_person_takes_their_row(seed: Seed, db: str) -> None:
    ent = await seed.enterprise()
    (a,) = ids(await seed.people(ent, 1))
    lab = await seed.lab()
    await seed.result(a, lab, "R1", at("2021-09-10T08:00"))

    await seed.fetch("DELETE FROM person WHERE id = $1", a)

    assert await seed.count("person_rollup") == 0
    assert await rollup_drift(db) == []


async def test_a_bulk_load_without_foreign_key_triggers_still_keeps_it(seed: Seed, db: str) -> None:
    """The seed loads with ``session_replication_role = replica``: the roll-up triggers fire
    even so (ENABLE ALWAYS)."""
    ent = await seed.enterprise()
    (a,) = ids(await seed.people(ent, 1))
    lab = await seed.lab()
    conn = await asyncpg.connect(db)
    try:
        await conn.execute("SET session_replication_role = replica")
        await conn.copy_records_to_table(
            "test_result",
            records=[(a, lab, "C1", "PCR", at("2021-09-14T08:00"), at("2021-09-14T09:00"), "POSITIVE")],
            columns=["person_id", "lab_id", "sample_id", "kind", "collected_at", "resulted_at", "result"],
        )
    finally:
        await conn.close()

    assert await rollup(seed, a) == (at("2021-09-14T08:00"), at("2021-09-14T08:00"), None)


async def test_concurrent_batches_of_two_labs_for_the_same_people_keep_the_maximum(
    registry: httpx.AsyncClient, minter: InternalTokenMinter, seed: Seed, db: str
) -> None:
    """Both batches upsert the same people's rows, in person order: no deadlock, and the
    maximum of both wins whichever commits last."""
    ent = await seed.enterprise()
    people = ids(await seed.people(ent, 200))
    lab_a, lab_b = await seed.lab(), await seed.lab()
    start = at("2021-09-01T08:00")
    batch_a = [single(f"A{k}", p, (start + timedelta(hours=k)).isoformat()) for k, p in enumerate(people)]
    batch_b = [single(f"B{k}", p, (start + timedelta(hours=200 - k)).isoformat()) for k, p in enumerate(people)]

    await asyncio.gather(*(post(registry, minter, lab, b) for lab, b in [(lab_a, batch_a), (lab_b, batch_b)] * 3))

    latest = {
        r["person_id"]: r["last_result_at"] for r in await seed.fetch("SELECT * FROM person_rollup ORDER BY person_id")
    }
    assert latest == {p: start + timedelta(hours=max(k, 200 - k)) for k, p in enumerate(people)}
    assert await rollup_drift(db) == []


async def test_declarations_and_returns_are_kept_as_their_latest_times(seed: Seed, db: str) -> None:
    ent = await seed.enterprise()
    a, b = ids(await seed.people(ent, 2))
    sql = seed.fetch
    await sql(
        "INSERT INTO health_declaration (person_id, declared_at) VALUES ($1, $2), ($1, $3)",
        a,
        at("2021-09-10T08:00"),
        at("2021-09-12T08:00"),
    )
    # An open trip (not back yet) is no return; closing it is.
    await sql(
        "INSERT INTO travel (person_id, left_at, destination_province) VALUES ($1, $2, 'Hà Nội')",
        b,
        at("2021-09-10T08:00"),
    )
    assert await sql("SELECT last_declared_at, last_returned_at FROM person_rollup WHERE person_id = $1", b) == []
    await sql("UPDATE travel SET returned_at = $2 WHERE person_id = $1", b, at("2021-09-13T18:00"))

    kept = {
        r["person_id"]: (r["last_declared_at"], r["last_returned_at"])
        for r in await sql(
            "SELECT * FROM person_rollup WHERE last_declared_at IS NOT NULL OR last_returned_at IS NOT NULL"
        )
    }
    assert kept == {a: (at("2021-09-12T08:00"), None), b: (None, at("2021-09-13T18:00"))}
    await sql("DELETE FROM health_declaration WHERE declared_at = $1", at("2021-09-12T08:00"))
    assert (await sql("SELECT last_declared_at FROM person_rollup WHERE person_id = $1", a))[0][0] == at(
        "2021-09-10T08:00"
    ), "the latest one gone: the one before it"
    assert await rollup_drift(db) == []


async def test_batches_with_positive_pools_and_results_for_the_same_people_do_not_deadlock(
    registry: httpx.AsyncClient, minter: InternalTokenMinter, seed: Seed, db: str
) -> None:
    """A batch with a positive pool raises roll-up rows in two statements (members, then
    results). Batch A pools the first half and tests the second; batch B the other way round:
    without taking every row first, in one order, they wait on each other (40P01)."""
    ent = await seed.enterprise()
    people = ids(await seed.people(ent, 40))
    first, second = people[:20], people[20:]
    labs = [await seed.lab() for _ in range(6)]

    def batch(k: int, pooled: list[uuid.UUID], tested: list[uuid.UUID]) -> list[dict[str, Any]]:
        return [
            pool(f"P{k}", pooled, "2021-09-14T08:00:00+07:00", "POSITIVE"),
            *(single(f"S{k}-{j}", p, "2021-09-14T09:00:00+07:00") for j, p in enumerate(tested)),
        ]

    answers = await asyncio.gather(
        *(
            post(registry, minter, lab, batch(k, first, second) if k % 2 else batch(k, second, first))
            for k, lab in enumerate(labs)
        )
    )

    assert [a["accepted"] for a in answers] == [21] * 6
    assert await rollup_drift(db) == []
