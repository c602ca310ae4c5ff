"""Results and check-ins partitioned by month (issue 18): the job creates this month's and the
next months' partitions, rows of a month without one wait in the default partition and move
into it when it is made, and whole old months are dropped with what a per-row delete would have
done besides (the roll-up recomputed, an outbreak case forgetting the result's ID)."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import asyncpg
import pytest

from safework_common.timezone import LOCAL_TZ
from safework_registry.partitions import (
    Month,
    drop_partitions_before,
    ensure_months,
    ensure_partitions,
    is_partition,
    monthly_partitions,
)
from tests.registry.factories import Seed, cipher_for, rollup_drift


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=LOCAL_TZ)


@pytest.fixture
def seed(db: str, keys_dir: Path) -> Seed:
    return Seed(db, cipher_for(keys_dir))


async def _where(db: str, table: str) -> dict[str, int]:
    """Partition -> rows, for ``table``'s rows."""
    conn = await asyncpg.connect(db)
    try:
        rows = await conn.fetch(f"SELECT tableoid::regclass::text AS part, count(*) FROM {table} GROUP BY 1")  # noqa: S608
    finally:
        await conn.close()
    return {r["part"]: r["count"] for r in rows}


async def keys_drift(db: str) -> list[tuple[object, ...]]:
    """Rows of ``test_result`` and ``test_result_sample`` (the idempotency keys) that differ."""
    conn = await asyncpg.connect(db)
    try:
        rows = await conn.fetch(
            "(SELECT lab_id, sample_id, collected_at FROM test_result "
            "EXCEPT ALL SELECT lab_id, sample_id, collected_at FROM test_result_sample) UNION ALL "
            "(SELECT lab_id, sample_id, collected_at FROM test_result_sample "
            "EXCEPT ALL SELECT lab_id, sample_id, collected_at FROM test_result)"
        )
    finally:
        await conn.close()
    return [tuple(r) for r in rows]


async def _drop_months_from(db: str, first: Month) -> None:
    """Forget months a previous test made (the session's database keeps its partitions)."""
    conn = await asyncpg.connect(db)
    try:
        for table in ("test_result", "checkin"):
            for month, name in (await monthly_partitions(conn, table)).items():
                if first <= month < Month(2023, 1):
                    await conn.execute(f"ALTER TABLE {table} DETACH PARTITION {name}")
                    await conn.execute(f"DROP TABLE {name}")
    finally:
        await conn.close()


@pytest.mark.parametrize(
    ("as_of", "ahead", "months"),
    [
        # A month starts on the 1st at 00:00 in the province (UTC+7): 2021-08-31 18:00 UTC is September.
        (at("2021-09-01T01:00"), 2, ["y2021m09", "y2021m10", "y2021m11"]),
        (at("2021-11-30T23:59"), 1, ["y2021m11", "y2021m12"]),
        (at("2021-12-15T12:00"), 1, ["y2021m12", "y2022m01"]),
        (at("2021-10-10T00:00"), 0, ["y2021m10"]),
    ],
)
async def test_ensure_creates_this_month_and_the_next_ones_once(
    db: str, as_of: datetime, ahead: int, months: list[str]
) -> None:
    await _drop_months_from(db, Month(2021, 1))
    conn = await asyncpg.connect(db)
    try:
        created = await ensure_partitions(conn, as_of, ahead)
        again = await ensure_partitions(conn, as_of, ahead)
        # The month's first instant is in it, the instant before is not.
        routed = [
            await conn.fetchval(
                "SELECT c.relname FROM pg_class c JOIN pg_inherits i ON i.inhrelid = c.oid "
                "WHERE i.inhparent = 'test_result'::regclass AND c.relname = $1 AND "
                "pg_get_expr(c.relpartbound, c.oid) LIKE 'FOR VALUES FROM%'",
                f"test_result_{m}",
            )
            for m in months
        ]
    finally:
        await conn.close()
    assert sorted(created) == sorted(f"{t}_{m}" for t in ("test_result", "checkin") for m in months)
    assert again == [], "a second run finds them all there"
    assert routed == [f"test_result_{m}" for m in months]
    assert all(is_partition(name) for name in created)


async def test_a_row_of_a_month_without_partition_waits_in_the_default_and_moves_when_it_is_made(
    seed: Seed, db: str
) -> None:
    await _drop_months_from(db, Month(2021, 1))
    ent = await seed.enterprise()
    (pid, _), *_ = await seed.people(ent, 1)
    lab = await seed.lab()
    venue = await seed.venue(ent, "QR-PART-1")
    await seed.result(pid, lab, "S-1", at("2021-09-10T08:00"))
    await seed.result(pid, lab, "S-2", at("2021-10-02T08:00"), result="POSITIVE")
    # A month starts on the 1st at 00:00 province time: the instant before is August's.
    await seed.result(pid, lab, "S-0", at("2021-09-01T00:00"))
    await seed.result(pid, lab, "S-AUG", at("2021-08-31T23:59:59"))
    checkin = "INSERT INTO checkin (person_id, venue_id, checked_in_at) VALUES ($1, $2, $3)"
    await seed.fetch(checkin, pid, venue, at("2021-09-11T07:00"))
    assert await _where(db, "test_result") == {"test_result_default": 4}, "no insert fails for want of a partition"

    conn = await asyncpg.connect(db)
    try:
        created = await ensure_months(conn, [Month(2021, 9)])
    finally:
        await conn.close()

    assert sorted(created) == ["checkin_y2021m09", "test_result_y2021m09"]
    assert await _where(db, "test_result") == {"test_result_y2021m09": 2, "test_result_default": 2}
    assert await _where(db, "checkin") == {"checkin_y2021m09": 1}
    september = await seed.fetch("SELECT sample_id FROM test_result_y2021m09 ORDER BY sample_id")
    assert [r["sample_id"] for r in september] == ["S-0", "S-1"]
    assert await seed.count("test_result") == 4
    assert await rollup_drift(db) == []
    assert await keys_drift(db) == [], "moved rows keep their one idempotency key each"


async def test_dropping_old_months_removes_them_whole_and_keeps_the_rest_consistent(seed: Seed, db: str) -> None:
    """A dropped month goes as a partition; the people whose latest result or positive was in it
    have their roll-up recomputed, and an outbreak case made from a result in it keeps its
    collection time and forgets only the result's ID (its foreign key's SET NULL (result_id))."""
    await _drop_months_from(db, Month(2021, 1))
    conn = await asyncpg.connect(db)
    try:
        await ensure_months(conn, [Month(2021, 8), Month(2021, 9), Month(2021, 10)])
    finally:
        await conn.close()
    ent = await seed.enterprise()
    (old, _), (both, _) = await seed.people(ent, 2)
    lab = await seed.lab()
    venue = await seed.venue(ent, "QR-PART-2")
    await seed.result(old, lab, "AUG-POS", at("2021-08-20T08:00"), result="POSITIVE")
    await seed.result(both, lab, "AUG-NEG", at("2021-08-21T08:00"))
    await seed.result(both, lab, "SEP-NEG", at("2021-09-21T08:00"))
    await seed.result(both, lab, "OCT-NEG", at("2021-10-05T08:00"))
    for checked in ("2021-08-03T07:00", "2021-09-03T07:00"):
        await seed.fetch(
            "INSERT INTO checkin (person_id, venue_id, checked_in_at) VALUES ($1, $2, $3)", both, venue, at(checked)
        )
    await seed.fetch(
        "INSERT INTO outbreak_case (id, person_id, result_id, basis, collected_at, infectious_from, traced_at) "
        "SELECT gen_random_uuid(), person_id, id, 'pcr', collected_at, collected_at - interval '2 days', "
        "collected_at + interval '1 day' FROM test_result WHERE sample_id = 'AUG-POS'"
    )

    conn = await asyncpg.connect(db)
    try:
        dropped = await drop_partitions_before(conn, at("2021-09-25T00:00"))
    finally:
        await conn.close()

    assert [(d.table, d.partition, d.rows) for d in dropped] == [
        ("test_result", "test_result_y2021m08", 2),
        ("checkin", "checkin_y2021m08", 1),
    ], "only months wholly before the cutoff go; September (the cutoff's month) stays"
    assert sorted(r["sample_id"] for r in await seed.fetch("SELECT sample_id FROM test_result")) == [
        "OCT-NEG",
        "SEP-NEG",
    ]
    assert await seed.count("checkin") == 1
    case = (await seed.fetch("SELECT result_id, collected_at FROM outbreak_case"))[0]
    assert (case["result_id"], case["collected_at"]) == (None, at("2021-08-20T08:00"))
    assert await rollup_drift(db) == [], "the old positive's person has no latest result any more"
    assert await keys_drift(db) == [], "the dropped month's idempotency keys went with it"
    rollup = await seed.fetch("SELECT last_result_at, last_positive_at FROM person_rollup WHERE person_id = $1", old)
    assert [tuple(r) for r in rollup] in ([], [(None, None)])


def test_the_cli_creates_the_months_and_lists_them(db: str) -> None:
    """`safework partitions ensure` is the job's command; `list` shows every partition."""
    import asyncio

    from typer.testing import CliRunner

    from safework_cli.main import app

    asyncio.run(_drop_months_from(db, Month(2021, 1)))
    runner = CliRunner()
    env = {"DATABASE_URL": db}

    made = runner.invoke(app, ["partitions", "ensure", "--as-of", "2021-05-10", "--months-ahead", "1"], env=env)
    again = runner.invoke(app, ["partitions", "ensure", "--as-of", "2021-05-10"], env=env)
    listed = runner.invoke(app, ["partitions", "list"], env=env)
    naive = runner.invoke(app, ["partitions", "ensure", "--as-of", "2021-05-10T00:00"], env=env)

    assert made.exit_code == 0, made.output
    assert made.output.strip() == (
        "created: test_result_y2021m05, test_result_y2021m06, checkin_y2021m05, checkin_y2021m06"
    )
    assert again.output.strip() == "created: test_result_y2021m07, checkin_y2021m07", "two ahead by default"
    assert "test_result_y2021m05" in listed.output and "checkin_default" in listed.output
    assert naive.exit_code != 0 and "time zone" in naive.output
