"""`safework seed`: a synthetic province, reproducible from its seed, consistent with the
registry's rules (small sizes; the 1,000,000-person timing is in bench/bench_seed.py)."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
from typer.testing import CliRunner

from safework_cli.main import app
from safework_cli.seed import DEFAULT_AS_OF, RegistryNotEmpty, seed_province
from safework_cli.seed.ids import tax_check_digit
from safework_cli.seed.load import COLUMNS, REPORT_ORDER, chunk_bounds
from safework_cli.seed.plan import build_plan
from safework_common.internal_auth import InternalTokenMinter
from safework_registry.persons.national_id import NationalIdCipher, normalize
from tests.callers import PROVINCE, As
from tests.registry.factories import rollup_drift

LOCAL = DEFAULT_AS_OF.tzinfo
# How each table's rows are ordered for comparison (every column but the server timestamps).
ORDER = {
    "vaccine_product": "code",
    "lab": "licence_code",
    "enterprise": "tax_code",
    "accommodation": "id",
    "venue": "qr_code",
    "person": "id",
    "pool": "id",
    "test_result": "id",
    "pool_member": "pool_id, position",
    "dose": "id",
    "health_declaration": "id",
    "travel": "id",
    "checkin": "id",
    "app_installation": "id",
}
Seed = Callable[..., Awaitable[dict[str, int]]]


@pytest.fixture(scope="session")
def national_id_key(keys_dir: Path) -> bytes:
    """The registry's key as the test apps read it."""
    return (keys_dir / "national_id_hmac.key").read_bytes().strip()


@pytest.fixture
def seed(db: str, national_id_key: bytes) -> Seed:
    async def run(**kw: Any) -> dict[str, int]:
        # Three days of check-ins unless a test asks for more (30 days is ~75 rows a person).
        args: dict[str, Any] = {
            "people": 900, "enterprises": 15, "seed": 11, "national_id_key": national_id_key, "checkin_days": 3,
        }  # fmt: skip
        args.update(kw)
        return await seed_province(db, **args)

    return run


async def fetch(url: str, query: str, *args: Any) -> list[asyncpg.Record]:
    conn = await asyncpg.connect(url)
    try:
        return list(await conn.fetch(query, *args))
    finally:
        await conn.close()


async def dump(url: str) -> dict[str, list[tuple[Any, ...]]]:
    """Every seeded row of every seeded table, in a stable order."""
    out: dict[str, list[tuple[Any, ...]]] = {}
    for table, columns in COLUMNS.items():
        rows = await fetch(url, f'SELECT {", ".join(columns)} FROM "{table}" ORDER BY {ORDER[table]}')  # noqa: S608
        out[table] = [tuple(r) for r in rows]
    return out


async def test_the_same_seed_gives_the_same_rows_in_one_process_or_several(db: str, seed: Seed) -> None:
    """Chunks are drawn per enterprise and keyed by position, so worker processes change nothing
    (two chunks here: the second run goes through the process pool)."""
    plan = build_plan(people=24_000, enterprises=120, seed=11, as_of=DEFAULT_AS_OF)
    assert len(chunk_bounds(plan.enterprises)) == 2
    await seed(people=24_000, enterprises=120, workers=1)
    first = await dump(db)
    await seed(people=24_000, enterprises=120, workers=2, reset=True)
    second = await dump(db)
    assert len(first["person"]) == 24_000
    for table in first:
        assert first[table] == second[table], table


async def test_another_seed_gives_other_rows(db: str, seed: Seed) -> None:
    await seed(seed=11)
    first = await dump(db)
    await seed(seed=12, reset=True)
    second = await dump(db)
    for table in ("enterprise", "person", "test_result", "dose"):
        assert first[table] != second[table], table
    hashes = {r[1] for r in first["person"]} & {r[1] for r in second["person"]}
    assert len(hashes) < 900


async def test_counts_are_as_requested_and_as_reported(db: str, seed: Seed) -> None:
    counts = await seed(people=1234, enterprises=21)
    assert list(counts) == list(REPORT_ORDER)
    for table, n in counts.items():
        (row,) = await fetch(db, f'SELECT count(*) AS n FROM "{table}"')  # noqa: S608
        assert row["n"] == n, table
    assert counts["person"] == 1234
    assert counts["enterprise"] == 21
    (row,) = await fetch(db, "SELECT sum(headcount) AS n FROM enterprise")
    assert row["n"] == 1234
    for table in ("pool", "test_result", "pool_member", "dose", "health_declaration", "checkin", "app_installation"):
        assert counts[table] > 0, table


@pytest.mark.parametrize(("people", "enterprises"), [(1, 1), (3, 3), (100, 100), (101, 40), (7, 2), (5000, 3)])
async def test_any_size_gives_exactly_the_people_asked_for(db: str, seed: Seed, people: int, enterprises: int) -> None:
    counts = await seed(people=people, enterprises=enterprises)
    assert (counts["person"], counts["enterprise"]) == (people, enterprises)
    (row,) = await fetch(db, "SELECT sum(headcount) AS n, min(headcount) AS least FROM enterprise")
    assert row["n"] == people and row["least"] >= 1


@pytest.mark.parametrize("enterprises", [1, 2, 3, 9, 10, 31, 99, 100, 333, 1000])
@pytest.mark.parametrize("per", [1, 2, 5, 27, 200])
def test_the_plan_splits_people_exactly(enterprises: int, per: int) -> None:
    plan = build_plan(people=enterprises * per + 3, enterprises=enterprises, seed=per, as_of=DEFAULT_AS_OF)
    sizes = [e.people for e in plan.enterprises]
    assert len(sizes) == enterprises and min(sizes) >= 1 and sum(sizes) == enterprises * per + 3
    starts = [e.first_person for e in plan.enterprises]
    assert starts == [sum(sizes[:k]) for k in range(enterprises)]


async def test_a_registry_with_people_is_refused_unless_reset(db: str, seed: Seed) -> None:
    await seed(people=300, enterprises=5)
    with pytest.raises(RegistryNotEmpty, match="already has 300 people"):
        await seed(people=300, enterprises=5, seed=99)
    counts = await seed(people=200, enterprises=4, seed=99, reset=True)
    (row,) = await fetch(db, "SELECT count(*) AS n FROM person")
    assert row["n"] == counts["person"] == 200


async def test_the_province_has_parks_clusters_small_firms_garment_and_shuttlecock(db: str, seed: Seed) -> None:
    await seed(people=6000, enterprises=60)
    rows = await fetch(
        db,
        "SELECT zone_type, count(*) AS n, sum(headcount) AS people, count(*) FILTER (WHERE headcount < 20) AS small"
        " FROM enterprise GROUP BY zone_type",
    )
    zones = {r["zone_type"]: r for r in rows}
    assert set(zones) == {"KCN", "CCN", "OUTSIDE"}
    assert zones["KCN"]["people"] > zones["OUTSIDE"]["people"] > 0  # parks hold most workers
    assert zones["OUTSIDE"]["small"] > 0
    (row,) = await fetch(
        db,
        "SELECT count(*) FILTER (WHERE industry = 'garment') AS garment,"
        " count(*) FILTER (WHERE industry = 'shuttlecock') AS shuttlecock,"
        " count(*) FILTER (WHERE zone_name = 'KCN Vân Trung') AS van_trung FROM enterprise",
    )
    assert row["garment"] > 0 and row["shuttlecock"] > 0 and row["van_trung"] > 0
    for r in await fetch(db, "SELECT tax_code FROM enterprise"):
        code = r["tax_code"]
        assert re.fullmatch(r"[0-9]{10}(-00[1-9])?", code), code
        assert tax_check_digit(code[:9]) == int(code[9]), code


async def test_boarding_houses_house_one_enterprise_each(db: str, seed: Seed) -> None:
    await seed(people=3000, enterprises=20)
    rows = await fetch(
        db,
        "SELECT count(*) AS housed, count(*) FILTER (WHERE a.enterprise_id IS DISTINCT FROM p.enterprise_id) AS other"
        " FROM person p JOIN accommodation a ON a.id = p.accommodation_id",
    )
    assert rows[0]["housed"] > 0
    assert rows[0]["other"] == 0
    (row,) = await fetch(db, "SELECT count(*) AS n FROM accommodation WHERE enterprise_id IS NULL")
    assert row["n"] == 0


async def test_people_are_valid_and_found_by_the_registry_s_hash(db: str, seed: Seed, national_id_key: bytes) -> None:
    await seed(people=1500, enterprises=12)
    cipher = NationalIdCipher(national_id_key)
    rows = await fetch(db, "SELECT * FROM person")
    ids = set()
    as_of_day = DEFAULT_AS_OF.date()
    for p in rows:
        nid = cipher.decrypt(bytes(p["national_id_enc"]))
        assert normalize(nid) == nid
        assert len(nid) in (9, 12)
        assert cipher.hash(nid) == bytes(p["national_id_hash"])
        assert p["national_id_last4"] == nid[-4:]
        ids.add(nid)
        if len(nid) == 12:  # century/sex digit and year agree with the person
            assert int(nid[3]) % 2 == (p["sex"] == "female")
            assert nid[4:6] == f"{p['date_of_birth'].year % 100:02d}"
        age = (as_of_day - p["date_of_birth"]).days / 365.25
        assert 18 <= age < 61
        assert p["phone"] is None or re.fullmatch(r"0[35789][0-9]{8}", p["phone"])
        assert p["hire_date"] <= as_of_day
        if p["arrived_at"] is not None:
            assert p["arrived_from_province"] not in (None, "Bắc Giang")
            assert as_of_day - timedelta(days=30) <= p["arrived_at"].astimezone(LOCAL).date() <= as_of_day
    assert len(ids) == len(rows)
    assert any(len(i) == 9 for i in ids) and any(i.startswith("024") for i in ids)
    assert any(not i.startswith("024") and len(i) == 12 for i in ids)  # people from other provinces
    roles = {p["job_role"] for p in rows}
    assert roles == {"worker", "manager", "expert", "freight_driver", "freight_driver_assistant", "shuttle_driver"}
    assert sum(p["job_role"] == "worker" for p in rows) > 0.8 * len(rows)
    assert any(p["arrived_at"] is not None for p in rows)
    assert any(p["status"] == "left" for p in rows)
    assert any(p["high_risk"] for p in rows)


async def test_the_registry_looks_people_up_and_decrypts_them(
    db: str, seed: Seed, national_id_key: bytes, registry: httpx.AsyncClient, minter: InternalTokenMinter
) -> None:
    await seed(people=200, enterprises=4)
    (p,) = await fetch(db, "SELECT id, national_id_enc FROM person ORDER BY id LIMIT 1")
    nid = NationalIdCipher(national_id_key).decrypt(bytes(p["national_id_enc"]))
    r = await As(registry, minter)(PROVINCE).post("/v1/persons/lookup", json={"national_id": nid})
    assert r.status_code == 200, r.text
    assert r.json()["id"] == str(p["id"])


async def test_employee_codes_are_unique_and_halves_balanced_per_enterprise(db: str, seed: Seed) -> None:
    await seed(people=2500, enterprises=25)
    rows = await fetch(
        db,
        "SELECT enterprise_id, count(*) AS n, count(DISTINCT employee_code) AS codes,"
        " count(*) FILTER (WHERE test_cohort = 0) AS half0, count(*) FILTER (WHERE test_cohort = 1) AS half1"
        " FROM person GROUP BY enterprise_id",
    )
    assert len(rows) == 25
    for r in rows:
        assert r["codes"] == r["n"]
        assert abs(r["half0"] - r["half1"]) <= 1


async def test_doses_follow_order_and_interval_and_nothing_is_after_as_of(db: str, seed: Seed) -> None:
    await seed(people=3000, enterprises=20)
    rows = await fetch(
        db,
        "SELECT d1.administered_at AS first, d2.administered_at AS second, v.min_interval_days AS interval"
        " FROM dose d2 JOIN dose d1 ON d1.person_id = d2.person_id AND d1.dose_number = d2.dose_number - 1"
        " JOIN vaccine_product v ON v.code = d1.product_code WHERE d2.dose_number = 2",
    )
    assert rows
    for r in rows:  # the registry's rule: local calendar days
        gap = (r["second"].astimezone(LOCAL).date() - r["first"].astimezone(LOCAL).date()).days
        assert gap >= r["interval"]
    (orphans,) = await fetch(
        db,
        "SELECT count(*) AS n FROM dose d WHERE d.dose_number > 1 AND NOT EXISTS"
        " (SELECT 1 FROM dose e WHERE e.person_id = d.person_id AND e.dose_number = d.dose_number - 1)",
    )
    assert orphans["n"] == 0
    products = await fetch(db, "SELECT DISTINCT product_code FROM dose")
    assert len(products) >= 3
    coverage = await fetch(
        db,
        "SELECT e.zone_type, avg((EXISTS (SELECT 1 FROM dose d WHERE d.person_id = p.id))::int) AS covered"
        " FROM person p JOIN enterprise e ON e.id = p.enterprise_id GROUP BY e.zone_type",
    )
    by_zone = {r["zone_type"]: r["covered"] for r in coverage}
    assert by_zone["KCN"] > by_zone["OUTSIDE"]  # parks first (seeds/000 §2.1)
    await assert_nothing_after(db, DEFAULT_AS_OF)


async def assert_nothing_after(db: str, as_of: datetime) -> None:
    checks = {
        "dose": "administered_at",
        "test_result": "greatest(collected_at, resulted_at, received_at)",
        "pool": "greatest(collected_at, resulted_at, received_at)",
        "health_declaration": "declared_at",
        "travel": "greatest(left_at, returned_at)",
        "checkin": "checked_in_at",
        "app_installation": "greatest(first_seen_at, last_sync_at, revoked_at)",
        "person": "greatest(arrived_at, left_at)",
    }
    for table, expr in checks.items():
        (row,) = await fetch(db, f'SELECT max({expr}) AS last FROM "{table}"')  # noqa: S608
        assert row["last"] is None or row["last"] <= as_of, table


async def test_thirty_days_of_results_with_pools_of_10_and_20(db: str, seed: Seed) -> None:
    await seed(people=4000, enterprises=20)
    (r,) = await fetch(
        db,
        "SELECT count(*) AS n, count(DISTINCT person_id) AS people, min(collected_at) AS first,"
        " count(*) FILTER (WHERE result = 'POSITIVE') AS positive, count(*) FILTER (WHERE pooled) AS pooled,"
        " count(*) FILTER (WHERE kind = 'RAPID_ANTIGEN') AS rapid FROM test_result",
    )
    assert 2.0 <= r["n"] / 4000 <= 4.5
    assert r["positive"] / r["n"] < 0.01
    assert r["pooled"] > 0 and r["rapid"] > 0
    assert r["first"] >= DEFAULT_AS_OF - timedelta(days=30)
    sizes = await fetch(db, "SELECT size, count(*) AS n FROM pool GROUP BY size")
    by_size = {s["size"]: s["n"] for s in sizes}
    assert max(by_size) <= 20
    assert by_size.get(10, 0) > 0 and by_size.get(20, 0) > 0
    (bad,) = await fetch(
        db,
        "SELECT count(*) AS n FROM pool p WHERE p.size <> (SELECT count(*) FROM pool_member m WHERE m.pool_id = p.id)",
    )
    assert bad["n"] == 0


async def test_negative_pool_members_have_pooled_results_and_positive_ones_none(db: str, seed: Seed) -> None:
    # A seed whose province has positive pools (they are rare: about 0.15% of members).
    await seed(people=8000, enterprises=30, seed=6)
    (neg,) = await fetch(
        db,
        "SELECT count(*) AS members, count(t.id) AS results,"
        " count(*) FILTER (WHERE t.sample_id = p.pool_sample_id || '#' || m.position AND t.pooled"
        "   AND t.kind = 'PCR' AND t.result = 'NEGATIVE' AND t.lab_id = p.lab_id"
        "   AND t.collected_at = p.collected_at AND t.resulted_at = p.resulted_at) AS matching"
        " FROM pool p JOIN pool_member m ON m.pool_id = p.id"
        " LEFT JOIN test_result t ON t.pool_id = p.id AND t.person_id = m.person_id WHERE p.result = 'NEGATIVE'",
    )
    assert neg["members"] > 0
    assert neg["members"] == neg["results"] == neg["matching"]
    (other,) = await fetch(
        db,
        "SELECT count(*) AS pools, count(t.id) AS results FROM pool p"
        " LEFT JOIN test_result t ON t.pool_id = p.id WHERE p.result <> 'NEGATIVE'",
    )
    assert other["pools"] > 0
    assert other["results"] == 0
    (stray,) = await fetch(db, "SELECT count(*) AS n FROM test_result WHERE pooled <> (pool_id IS NOT NULL)")
    assert stray["n"] == 0


async def test_every_reference_resolves(db: str, seed: Seed) -> None:
    """The load may skip the per-row foreign-key triggers: check every reference here."""
    await seed(people=2000, enterprises=16)
    # Each foreign key once, its columns paired in order (information_schema joined by constraint
    # name alone gave 672 rows for 72 pairs: partitions repeat their parent's constraint names,
    # and a two-column key was checked column against wrong column).
    rows = await fetch(
        db,
        """
        SELECT c.conrelid::regclass::text AS child, c.confrelid::regclass::text AS parent,
               array_agg(a.attname::text ORDER BY k.n) AS cols, array_agg(pa.attname::text ORDER BY k.n) AS pcols
        FROM pg_constraint c
        CROSS JOIN LATERAL unnest(c.conkey, c.confkey) WITH ORDINALITY AS k(att, patt, n)
        JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = k.att
        JOIN pg_attribute pa ON pa.attrelid = c.confrelid AND pa.attnum = k.patt
        WHERE c.contype = 'f' AND c.connamespace = 'public'::regnamespace AND c.conparentid = 0
        GROUP BY c.oid, c.conrelid, c.confrelid
        ORDER BY 1, 3
        """,
    )
    checked = 0
    for r in rows:
        if r["child"] not in COLUMNS:
            continue
        given = " AND ".join(f'c."{col}" IS NOT NULL' for col in r["cols"])
        same = " AND ".join(f'p."{pcol}" = c."{col}"' for col, pcol in zip(r["cols"], r["pcols"], strict=True))
        (n,) = await fetch(
            db,
            f'SELECT count(*) AS n FROM "{r["child"]}" c WHERE {given} AND NOT EXISTS'  # noqa: S608
            f' (SELECT 1 FROM "{r["parent"]}" p WHERE {same})',
        )
        assert n["n"] == 0, f"{r['child']}.{r['cols']}"
        checked += 1
    assert checked >= 15


async def test_the_person_rollup_is_exact_after_a_load_in_several_processes(db: str, seed: Seed) -> None:
    """The load skips foreign-key triggers; the roll-up's triggers fire even so."""
    await seed(people=2000, enterprises=16, workers=2)
    assert (await fetch(db, "SELECT count(*) AS n FROM person_rollup"))[0]["n"] > 1000
    assert await rollup_drift(db) == []


async def test_venues_check_ins_installations_declarations_and_travels(db: str, seed: Seed) -> None:
    await seed(people=6000, enterprises=30)
    (v,) = await fetch(
        db, "SELECT count(*) AS n, count(DISTINCT qr_code) AS codes, count(DISTINCT kind) AS kinds FROM venue"
    )
    assert v["n"] == v["codes"] and v["kinds"] == 4
    (c,) = await fetch(db, "SELECT count(*) AS n, min(checked_in_at) AS first FROM checkin")
    assert c["n"] > 0 and c["first"] >= DEFAULT_AS_OF - timedelta(days=4)
    (a,) = await fetch(
        db,
        "SELECT count(*) FILTER (WHERE person_id IS NOT NULL) AS workers,"
        " count(*) FILTER (WHERE person_id IS NULL AND enterprise_id IS NOT NULL) AS accounts,"
        " count(DISTINCT app_id) AS apps, min(app_id) AS app,"
        " count(*) FILTER (WHERE last_sync_at < $1) AS stale FROM app_installation",
        DEFAULT_AS_OF - timedelta(hours=72),
    )
    assert a["apps"] == 1 and a["app"] == "vn.gov.bluezone"
    assert 0.6 * 6000 < a["workers"] < 6000  # most workers, not all
    assert a["accounts"] > 15 and a["stale"] > 0
    (d,) = await fetch(
        db,
        "SELECT count(*) AS n, count(*) FILTER (WHERE cardinality(symptoms) > 0) AS symptoms,"
        " count(*) FILTER (WHERE contact_with_confirmed_case) AS contacts FROM health_declaration",
    )
    assert d["n"] > d["symptoms"] > 0 and d["contacts"] < d["symptoms"] * 2
    (t,) = await fetch(
        db,
        "SELECT count(*) AS n, count(*) FILTER (WHERE returned_to_boarding_house) AS to_house,"
        " count(*) FILTER (WHERE destination_province = 'Bắc Giang') AS home FROM travel",
    )
    assert t["n"] > 0 and t["to_house"] > 0 and t["home"] == 0


async def test_as_of_moves_the_whole_province(db: str, seed: Seed) -> None:
    as_of = datetime(2021, 8, 20, 9, 30, tzinfo=LOCAL)
    await seed(people=1500, enterprises=12, as_of=as_of)
    await assert_nothing_after(db, as_of)
    (r,) = await fetch(db, "SELECT min(collected_at) AS first, count(*) AS n FROM test_result")
    assert r["n"] > 0 and r["first"] >= as_of - timedelta(days=30)


def test_the_cli_seeds_and_refuses_a_second_time(
    db: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, national_id_key: bytes
) -> None:
    monkeypatch.setenv("DATABASE_URL", db)
    monkeypatch.setenv("REGISTRY_NATIONAL_ID_KEY", national_id_key.decode())
    args = ["seed", "--people", "300", "--enterprises", "6", "--seed", "2", "--data-dir", str(tmp_path)]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    assert "person" in result.output and "300" in result.output
    assert (tmp_path / "keys" / "national_id_hmac.key").exists()  # a fresh install's keys
    again = CliRunner().invoke(app, args)
    assert again.exit_code == 1
    assert "--reset" in again.output
    reset = CliRunner().invoke(app, [*args, "--reset", "--as-of", "2021-09-15T08:00+07:00"])
    assert reset.exit_code == 0, reset.output
    bad = CliRunner().invoke(app, [*args, "--reset", "--as-of", "2021-09-15T08:00"])
    assert bad.exit_code == 2


async def test_copy_columns_match_the_schema(db: str) -> None:
    """Every seeded column exists, and every required column without a default is seeded (a
    column added to a registry table later fails here rather than in a load)."""
    rows = await fetch(
        db,
        "SELECT table_name, column_name, is_nullable, column_default, is_identity"
        " FROM information_schema.columns WHERE table_schema = 'public' AND table_name = ANY($1::text[])",
        list(COLUMNS),
    )
    existing: dict[str, set[str]] = {}
    for r in rows:
        existing.setdefault(r["table_name"], set()).add(r["column_name"])
        required = r["is_nullable"] == "NO" and r["column_default"] is None and r["is_identity"] == "NO"
        if required:
            assert r["column_name"] in COLUMNS[r["table_name"]], f"{r['table_name']}.{r['column_name']}"
    for table, columns in COLUMNS.items():
        assert set(columns) <= existing[table], table


async def test_thirty_days_of_check_ins_for_every_worker_at_the_stated_density(db: str, seed: Seed) -> None:
    """seeds/004 §II.5 (QR check-ins at premises); the density is the seed's assumption (not in
    the source, people.py): Monday to Saturday, gate, production unit, canteen, a bus for some."""
    await seed(people=3000, enterprises=12, checkin_days=30)
    (c,) = await fetch(
        db,
        "SELECT count(*) AS n, count(DISTINCT ch.person_id) AS people, min(ch.checked_in_at) AS first,"
        " count(*) FILTER (WHERE v.enterprise_id IS DISTINCT FROM p.enterprise_id) AS foreign_venue,"
        " count(*) FILTER (WHERE v.kind = 'gate'"
        "   AND extract(isodow FROM ch.checked_in_at AT TIME ZONE 'Asia/Ho_Chi_Minh') = 7) AS sunday_gate,"
        " count(*) FILTER (WHERE ch.checked_in_at > p.left_at) AS after_leaving,"
        " count(*) FILTER (WHERE (ch.checked_in_at AT TIME ZONE 'Asia/Ho_Chi_Minh')::date < p.hire_date) AS before_hire"
        " FROM checkin ch JOIN venue v ON v.id = ch.venue_id JOIN person p ON p.id = ch.person_id",
    )
    (p,) = await fetch(db, "SELECT count(*) AS n FROM person WHERE status = 'active'")
    assert c["first"] >= DEFAULT_AS_OF - timedelta(days=30)
    assert c["foreign_venue"] == c["sunday_gate"] == c["after_leaving"] == c["before_hire"] == 0
    assert c["people"] >= 0.9 * p["n"]  # every worker (but new hires still in the buffer zone, leavers)
    # 26 working days, 95% attendance, 3 to 4 check-ins a day: 60 to 100 a worker.
    assert 60 < c["n"] / c["people"] < 100
    by_kind = {
        r["kind"]: r["n"]
        for r in await fetch(
            db, "SELECT v.kind, count(*) AS n FROM checkin ch JOIN venue v ON v.id = ch.venue_id GROUP BY v.kind"
        )
    }
    assert by_kind["gate"] == by_kind["production_unit"] > by_kind["canteen"] > by_kind["shuttle_bus"] > 0
    # A worker keeps one production unit (shift, gate, canteen, bus too).
    (w,) = await fetch(
        db,
        "SELECT max(n) AS most FROM (SELECT count(DISTINCT ch.venue_id) AS n FROM checkin ch"
        " JOIN venue v ON v.id = ch.venue_id WHERE v.kind = 'production_unit' GROUP BY ch.person_id) t",
    )
    assert w["most"] == 1


async def test_checkin_days_change_no_other_table_and_zero_makes_none(db: str, seed: Seed) -> None:
    counts = await seed(people=1500, enterprises=10, checkin_days=0)
    assert counts["checkin"] == 0
    without = await dump(db)
    await seed(people=1500, enterprises=10, checkin_days=7, reset=True)
    with_checkins = await dump(db)
    assert with_checkins["checkin"]
    for table in without:
        if table != "checkin":
            assert without[table] == with_checkins[table], table
    with pytest.raises(ValueError, match="checkin_days"):
        await seed(checkin_days=31, reset=True)


async def test_the_check_in_indexes_are_rebuilt_after_the_load(db: str, seed: Seed) -> None:
    """The load drops the check-ins' indexes while it fills the table and builds them after:
    the same indexes as the migrations made (the venue one covering person_id)."""
    await seed(people=600, enterprises=6)
    rows = await fetch(db, "SELECT indexname, indexdef FROM pg_indexes WHERE tablename = 'checkin' ORDER BY 1")
    defs = {r["indexname"]: r["indexdef"] for r in rows}
    assert set(defs) == {"pk_checkin", "ix_checkin_person_id_checked_in_at", "ix_checkin_venue_id_checked_in_at"}
    assert defs["ix_checkin_venue_id_checked_in_at"].endswith("(venue_id, checked_in_at) INCLUDE (person_id)")
