"""Retention (Hardening item 8): `safework retention run` deletes health data older than the
windows of the policy in force (``retention`` in policy/versions/*.yaml), and nothing newer."""

from __future__ import annotations

import asyncio
import json
import uuid
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml
from typer.testing import CliRunner

from safework_cli.main import app
from safework_cli.retention import TABLES, NoPolicyInForce, run_retention
from safework_common.contract.policy_document import PolicyDocument
from safework_common.timezone import LOCAL_TZ
from safework_scheduler.policy.files import VERSIONS_DIR, read_versions
from tests.registry.factories import Seed, cipher_for, rollup_drift


def at(day: str) -> datetime:
    return datetime.fromisoformat(day).replace(tzinfo=LOCAL_TZ)


# Policy 2021-11-01 (the September rules, the app mandate outside the parks) is in force:
# results 180 days, declarations, travels, check-ins 30 days.
AS_OF = at("2022-03-20T00:00")
RESULTS_CUTOFF = AS_OF - timedelta(days=180)  # 2021-09-21 00:00
SHORT_CUTOFF = AS_OF - timedelta(days=30)  # 2022-02-18 00:00


@pytest.fixture
def seed(db: str, keys_dir: Path) -> Seed:
    return Seed(db, cipher_for(keys_dir))


async def _pool(
    seed: Seed, lab: uuid.UUID, sid: str, members: list[uuid.UUID], collected: datetime, result: str
) -> None:
    """A pool as ingest stores it: the pool, its members, and for a negative pool one pooled
    negative PCR per member with the pool's times (seeds/001)."""
    rows = await seed.fetch(
        "INSERT INTO pool (lab_id, pool_sample_id, size, collected_at, resulted_at, result) "
        "VALUES ($1, $2, $3, $4, $4, $5) RETURNING id",
        lab,
        sid,
        len(members),
        collected,
        result,
    )
    pool_id = rows[0]["id"]
    await seed.fetch(
        "INSERT INTO pool_member (pool_id, person_id, position) SELECT $1, p, k FROM unnest($2::uuid[]) "
        "WITH ORDINALITY AS u(p, k)",
        pool_id,
        members,
    )
    if result == "NEGATIVE":
        await seed.fetch(
            "INSERT INTO test_result (person_id, lab_id, sample_id, kind, collected_at, resulted_at, result, "
            "pooled, pool_id) SELECT p, $1, $2 || '#' || k, 'PCR', $3, $3, 'NEGATIVE', true, $4 "
            "FROM unnest($5::uuid[]) WITH ORDINALITY AS u(p, k)",
            lab,
            sid,
            collected,
            pool_id,
            members,
        )


async def _world(seed: Seed) -> dict[str, Any]:
    """Records on both sides of every window (and on the boundary, which is kept)."""
    ent = await seed.enterprise()
    people = [pid for pid, _ in await seed.people(ent, 6)]
    p = people[0]
    lab = await seed.lab()
    venue = await seed.venue(ent, "QR-GATE-1")
    await seed.result(p, lab, "OLD-1", at("2021-09-01T08:00"))
    await seed.result(p, lab, "OLD-2", RESULTS_CUTOFF - timedelta(seconds=1))
    await seed.result(p, lab, "EDGE", RESULTS_CUTOFF)
    await seed.result(p, lab, "NEW-1", at("2021-10-01T08:00"), result="POSITIVE")
    await _pool(seed, lab, "POOL-OLD-NEG", people[:3], at("2021-09-02T08:00"), "NEGATIVE")
    await _pool(seed, lab, "POOL-OLD-POS", people[3:], at("2021-09-03T08:00"), "POSITIVE")
    await _pool(seed, lab, "POOL-NEW-NEG", people[1:5], at("2021-12-01T08:00"), "NEGATIVE")
    for declared in ("2022-01-01T08:00", "2022-03-01T08:00"):
        await seed.fetch(
            "INSERT INTO health_declaration (person_id, declared_at, symptoms) VALUES ($1, $2, '{cough}')",
            p,
            at(declared),
        )
    for left, returned in (("2021-12-20T08:00", "2022-01-05T08:00"), ("2021-12-01T08:00", None)):
        await seed.fetch(
            "INSERT INTO travel (person_id, left_at, destination_province, returned_at) VALUES ($1, $2, 'Hà Nội', $3)",
            p,
            at(left),
            None if returned is None else at(returned),
        )
    await seed.fetch(
        "INSERT INTO travel (person_id, left_at, destination_province, returned_at) VALUES ($1, $2, 'Hà Nội', $3)",
        p,
        at("2022-03-08T08:00"),
        at("2022-03-10T08:00"),
    )
    for checked in ("2022-01-01T07:00", "2022-03-15T07:00"):
        await seed.fetch(
            "INSERT INTO checkin (person_id, venue_id, checked_in_at) VALUES ($1, $2, $3)", p, venue, at(checked)
        )
    for key, done in (("old", "2022-03-01T00:00"), ("recent", "2022-03-19T12:00")):
        await seed.fetch(
            "INSERT INTO idempotency_record (caller, key, method, path, fingerprint, status_code, response, "
            "created_at, completed_at) VALUES ('device:x', $1, 'POST', '/v1/x', '\\x00', 201, '{}', $2, $2)",
            key,
            at(done),
        )
    return {"people": people, "lab": lab}


EXPECTED_REMOVED = {
    "test_result": 2 + 3,  # OLD-1, OLD-2 and the old negative pool's three pooled results
    "pool_member": 3 + 3,  # both old pools' members
    "pool": 2,
    "health_declaration": 1,
    "travel": 1,  # returned before the window; the open trip stays, whatever its age
    "checkin": 1,
    "idempotency_record": 1,
}


async def _snapshot(seed: Seed) -> dict[str, list[Any]]:
    return {
        "test_result": sorted(r["sample_id"] for r in await seed.fetch("SELECT sample_id FROM test_result")),
        "pool": sorted(r["pool_sample_id"] for r in await seed.fetch("SELECT pool_sample_id FROM pool")),
        "pool_member": sorted(
            (r["pool_sample_id"], r["position"])
            for r in await seed.fetch(
                "SELECT p.pool_sample_id, m.position FROM pool_member m JOIN pool p ON p.id = m.pool_id"
            )
        ),
        "health_declaration": sorted(
            r["declared_at"] for r in await seed.fetch("SELECT declared_at FROM health_declaration")
        ),
        "travel": sorted(r["left_at"] for r in await seed.fetch("SELECT left_at FROM travel")),
        "checkin": sorted(r["checked_in_at"] for r in await seed.fetch("SELECT checked_in_at FROM checkin")),
        "idempotency_record": sorted(r["key"] for r in await seed.fetch("SELECT key FROM idempotency_record")),
    }


async def test_a_run_deletes_what_is_past_its_window_and_keeps_the_rest(seed: Seed, db: str) -> None:
    world = await _world(seed)

    run = await run_retention(db, as_of=AS_OF)

    assert run.policy_version == "2021-11-01" and not run.dry_run
    assert run.removed == EXPECTED_REMOVED
    left = await _snapshot(seed)
    assert left["test_result"] == ["EDGE", "NEW-1"] + [f"POOL-NEW-NEG#{k}" for k in range(1, 5)], (
        "results collected before the 180-day window are gone; on or after the cutoff they stay"
    )
    assert left["pool"] == ["POOL-NEW-NEG"]
    assert left["pool_member"] == [("POOL-NEW-NEG", k) for k in range(1, 5)], "the newer pool is whole"
    assert left["health_declaration"] == [at("2022-03-01T08:00")]
    assert left["travel"] == [at("2021-12-01T08:00"), at("2022-03-08T08:00")], "an open trip is kept whatever its age"
    assert left["checkin"] == [at("2022-03-15T07:00")]
    assert left["idempotency_record"] == ["recent"]

    audit = await seed.fetch("SELECT role, subject, action, entity, entity_id, details FROM audit_log")
    assert len(audit) == 1
    row = audit[0]
    assert (row["role"], row["subject"], row["action"], row["entity"], row["entity_id"]) == (
        "system",
        "system",
        "retention",
        "health_data",
        None,
    )
    details = json.loads(row["details"])
    assert set(details) == {"as_of", "policy_version", "removed", "cutoffs", "partitions_dropped"}
    assert details["removed"] == EXPECTED_REMOVED
    text = row["details"]
    assert not any(str(p) in text for p in world["people"]) and "OLD-1" not in text, "counts only, no health data"
    assert await rollup_drift(db) == [], "each person's latest result is recomputed from what is left"


async def test_a_second_run_removes_nothing(seed: Seed, db: str) -> None:
    await _world(seed)
    await run_retention(db, as_of=AS_OF)
    before = await _snapshot(seed)

    again = await run_retention(db, as_of=AS_OF)

    assert again.removed == dict.fromkeys(TABLES, 0)
    assert await _snapshot(seed) == before


async def test_a_dry_run_counts_exactly_and_changes_nothing(seed: Seed, db: str) -> None:
    await _world(seed)
    before = await _snapshot(seed)

    dry = await run_retention(db, as_of=AS_OF, dry_run=True)

    assert dry.dry_run and dry.removed == EXPECTED_REMOVED
    assert await _snapshot(seed) == before
    assert await seed.count("audit_log") == 0, "a dry run is not a run: nothing to audit"


async def test_a_pool_goes_whole_with_its_own_time(seed: Seed, db: str) -> None:
    """Pooled results follow their pool (decided by the pool's collected_at), never on their
    own: a pool is never left with some members' results and not others (seeds/001)."""
    ent = await seed.enterprise()
    people = [pid for pid, _ in await seed.people(ent, 4)]
    lab = await seed.lab()
    await _pool(seed, lab, "POOL-EDGE", people, RESULTS_CUTOFF, "NEGATIVE")
    await _pool(seed, lab, "POOL-GONE", people, RESULTS_CUTOFF - timedelta(minutes=1), "NEGATIVE")
    # A pooled result stored with another time than its pool's (not what ingest does) still
    # follows its pool.
    await seed.fetch("UPDATE test_result SET collected_at = $1 WHERE sample_id = 'POOL-EDGE#2'", at("2021-01-01T00:00"))

    await run_retention(db, as_of=AS_OF)

    rows = await seed.fetch(
        "SELECT p.pool_sample_id, count(DISTINCT m.person_id) AS members, count(DISTINCT t.id) AS results "
        "FROM pool p LEFT JOIN pool_member m ON m.pool_id = p.id LEFT JOIN test_result t ON t.pool_id = p.id "
        "GROUP BY p.pool_sample_id"
    )
    assert [(r["pool_sample_id"], r["members"], r["results"]) for r in rows] == [("POOL-EDGE", 4, 4)]
    assert await seed.count("test_result") == 4


async def test_no_policy_in_force_is_refused(seed: Seed, db: str) -> None:
    await seed.result(await seed.person(await seed.enterprise()), await seed.lab(), "S-1", at("2021-01-01T08:00"))
    with pytest.raises(NoPolicyInForce, match="no policy is in force on 2021-05-12"):
        await run_retention(db, as_of=at("2021-05-12T12:00"))
    assert await seed.count("test_result") == 1


def test_the_command_prints_counts_and_honours_dry_run(db: str, keys_dir: Path) -> None:
    seed = Seed(db, cipher_for(keys_dir))

    async def prepare() -> None:
        await _world(seed)

    asyncio.run(prepare())
    runner = CliRunner()
    env = {"DATABASE_URL": db}

    dry = runner.invoke(app, ["retention", "run", "--as-of", "2022-03-20", "--dry-run"], env=env)
    assert dry.exit_code == 0, dry.output
    assert "would remove" in dry.output and "policy 2021-11-01" in dry.output
    lines = {line.split()[0]: int(line.split()[1]) for line in dry.output.splitlines()[1:] if line.strip()}
    assert lines == EXPECTED_REMOVED
    assert asyncio.run(seed.count("test_result")) == 11

    done = runner.invoke(app, ["retention", "run", "--as-of", "2022-03-20T00:00:00+07:00"], env=env)
    assert done.exit_code == 0, done.output
    assert "removed" in done.output
    assert asyncio.run(seed.count("test_result")) == 11 - EXPECTED_REMOVED["test_result"]

    naive = runner.invoke(app, ["retention", "run", "--as-of", "2022-03-20T00:00"], env=env)
    assert naive.exit_code != 0 and "time zone" in naive.output
    too_early = runner.invoke(app, ["retention", "run", "--as-of", "2021-01-01"], env=env)
    assert too_early.exit_code == 1


@pytest.mark.parametrize(
    ("rule", "field", "days"),
    [
        ("results must outlive the scheduler's look-back (history_days)", "results_days", 20),
        ("declarations must outlive the look-back (symptoms rule)", "declarations_days", 20),
        ("travels must outlive the look-back (boarding-house return rule)", "travels_days", 20),
        ("check-ins must outlive a contact's high-risk period (tracing)", "checkins_days", 13),
    ],
)
def test_windows_shorter_than_the_rules_need_are_refused(rule: str, field: str, days: int) -> None:
    raw = yaml.safe_load((VERSIONS_DIR / "2021-09-11.yaml").read_text())
    raw["retention"][field] = days
    with pytest.raises(ValueError, match=f"retention.{field}"):
        PolicyDocument.model_validate(raw)


def test_every_version_has_retention_windows() -> None:
    for doc in read_versions():
        r = doc.retention
        assert (r.results_days, r.declarations_days, r.travels_days, r.checkins_days) == (180, 30, 30, 30)


async def test_months_wholly_past_the_window_go_as_whole_partitions(seed: Seed, db: str) -> None:
    """Issue 18: results and check-ins are partitioned by month. A month that ends before its
    table's cutoff is dropped whole; the cutoff's own month (and the default partition) lose
    their old rows by DELETE; the outcome is the same rows as before, counted the same."""
    import asyncpg

    from safework_registry.partitions import Month, ensure_months, monthly_partitions
    from tests.registry.test_partitions import keys_drift

    conn = await asyncpg.connect(db)
    try:
        for table in ("test_result", "checkin"):  # months other tests made
            for month, name in (await monthly_partitions(conn, table)).items():
                if month < Month(2023, 1):
                    await conn.execute(f"ALTER TABLE {table} DETACH PARTITION {name}")
                    await conn.execute(f"DROP TABLE {name}")
        await ensure_months(conn, [Month(2021, m) for m in (8, 9, 10, 11, 12)] + [Month(2022, m) for m in (1, 2, 3)])
    finally:
        await conn.close()
    world = await _world(seed)
    await seed.result(world["people"][1], world["lab"], "AUG-1", at("2021-08-15T08:00"))

    run = await run_retention(db, as_of=AS_OF)

    assert run.removed == {**EXPECTED_REMOVED, "test_result": EXPECTED_REMOVED["test_result"] + 1}
    assert run.partitions_dropped == (
        "test_result_y2021m08",  # results: 180 days, to 2021-09-21
        *(f"checkin_y{m}" for m in ("2021m08", "2021m09", "2021m10", "2021m11", "2021m12", "2022m01")),
    ), "check-ins: 30 days, to 2022-02-18"
    left = await _snapshot(seed)
    assert left["test_result"] == ["EDGE", "NEW-1"] + [f"POOL-NEW-NEG#{k}" for k in range(1, 5)]
    assert left["checkin"] == [at("2022-03-15T07:00")]
    assert await rollup_drift(db) == []
    assert await keys_drift(db) == []
