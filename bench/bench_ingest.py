"""Lab results ingest over HTTP against a plain COPY of the same rows.

Starts a real registry (uvicorn, 127.0.0.1:18121) on a scratch database (created, migrated,
dropped at the end) on the PostgreSQL at ``BENCH_DATABASE_URL`` (default
``postgresql://postgres@127.0.0.1:5432/postgres``), seeds one lab and 10,000 people by COPY, then
measures:

(a) ``POST /v1/labs/{lab_id}/results`` with a 10,000-item batch (fresh sample IDs each repetition),
    from sending the request to the answer: rows stored per second;
(b) the reference: asyncpg ``copy_records_to_table`` of the same number of rows into
    ``test_result`` (same table, same indexes, same triggers), in the same run; and the same
    COPY with the table's triggers disabled (and undone), which shows what keeping
    ``person_rollup`` costs a write.

Prints both rates and their ratio (target: ingest >= 50% of COPY), and the registry's peak
resident memory during the ingest runs (``bench.support.PeakRss``).

    .venv/bin/python -m bench.bench_ingest [--quick] [--repetitions N] [--national-ids]

``--quick``: 1,000 items, 1 repetition. ``--national-ids``: name people by national ID (keyed
hash look-up) instead of by person ID.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import secrets
import statistics
import subprocess
import sys
import time
import uuid
from datetime import UTC, date, datetime, timedelta

import asyncpg
import httpx
import orjson

from bench.support import PeakRss, start_service, wait_ready, with_database
from safework_cli import migrate
from safework_common.internal_auth import INTERNAL_HEADER, Caller, InternalTokenMinter, generate_keypair
from safework_common.settings import plain_pg_url
from safework_registry.partitions import ensure_months, ensure_partitions, months_between
from safework_registry.persons.national_id import NationalIdCipher

PORT = 18121
BASE_URL = f"http://127.0.0.1:{PORT}"
DEFAULT_ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
COLLECTED = datetime(2021, 9, 13, 7, 30, tzinfo=UTC)
RESULTED = COLLECTED + timedelta(hours=8)


COPY_COLUMNS = ["person_id", "lab_id", "sample_id", "kind", "collected_at", "resulted_at", "result"]


async def seed(url: str, cipher: NationalIdCipher, people: int) -> tuple[uuid.UUID, list[tuple[uuid.UUID, str]]]:
    """One enterprise, one lab and ``people`` people (by COPY)."""
    conn = await asyncpg.connect(url)
    try:
        # test_result is partitioned by month: the months around the results' collection exist,
        # as the partition job keeps them (the results' window back, two ahead).
        await ensure_months(conn, months_between(COLLECTED - timedelta(days=180), COLLECTED))
        await ensure_partitions(conn, COLLECTED, months_ahead=2)
        enterprise_id, lab_id = uuid.uuid4(), uuid.uuid4()
        await conn.execute(
            "INSERT INTO enterprise (id, tax_code, name, district, zone_type) "
            "VALUES ($1, '2400123456', 'Công ty Bench', 'Việt Yên', 'KCN')",
            enterprise_id,
        )
        await conn.execute("INSERT INTO lab (id, name, licence_code) VALUES ($1, 'CDC Bắc Giang', 'LAB-BENCH')", lab_id)
        out: list[tuple[uuid.UUID, str]] = []
        rows = []
        for k in range(people):
            nid = f"0241{k + 1:08d}"
            pid = uuid.uuid4()
            out.append((pid, nid))
            rows.append(
                (
                    pid,
                    cipher.hash(nid),
                    cipher.encrypt(nid),
                    nid[-4:],
                    f"Worker {k}",
                    date(1995, 1, 1),
                    "male",
                    enterprise_id,
                    f"NV{k:06d}",
                )
            )
        await conn.copy_records_to_table(
            "person",
            records=rows,
            columns=[
                "id",
                "national_id_hash",
                "national_id_enc",
                "national_id_last4",
                "full_name",
                "date_of_birth",
                "sex",
                "enterprise_id",
                "employee_code",
            ],
        )
        await conn.execute("ANALYZE")
    finally:
        await conn.close()
    return lab_id, out


def batch_body(people: list[tuple[uuid.UUID, str]], prefix: str, by_national_id: bool) -> bytes:
    items = []
    for k, (pid, nid) in enumerate(people):
        item: dict[str, object] = {
            "sample_id": f"{prefix}-{k:05d}",
            "kind": "PCR",
            "collected_at": COLLECTED.isoformat(),
            "resulted_at": RESULTED.isoformat(),
            "result": "NEGATIVE" if k % 50 else "POSITIVE",
        }
        if by_national_id:
            item["national_id"] = nid
        else:
            item["person_id"] = str(pid)
        items.append(item)
    return orjson.dumps({"items": items})


async def run(admin_url: str, items: int, repetitions: int, by_national_id: bool) -> int:
    name = f"safework_bench_{secrets.token_hex(4)}"
    admin = await asyncpg.connect(admin_url)
    await admin.execute(f'CREATE DATABASE "{name}"')
    url = with_database(admin_url, name)
    proc: subprocess.Popen[bytes] | None = None
    try:
        await asyncio.to_thread(migrate.upgrade, url, "heads", configure_logger=False)
        key = secrets.token_urlsafe(32)
        cipher = NationalIdCipher(key.encode())
        lab_id, people = await seed(url, cipher, max(items, 10_000))
        people = people[:items]
        private, public = generate_keypair()
        minter = InternalTokenMinter(private)
        lab = Caller(subject=f"client:lab-{lab_id}", role="lab", client_id="lab-bench", lab_id=str(lab_id))
        env = {
            **os.environ,
            "SAFEWORK_ENV": "development",
            "REGISTRY_DATABASE_URL": url,
            "REGISTRY_NATIONAL_ID_KEY": key,
            "INTERNAL_TOKEN_PUBLIC_KEY": public.decode(),
            "LOG_LEVEL": "WARNING",
        }
        proc = start_service("safework_registry.app:create_app", PORT, env)
        rss = PeakRss({"registry": proc.pid})
        async with httpx.AsyncClient(base_url=BASE_URL, timeout=300) as client:
            await wait_ready(client, proc)
            rss.start()
            # Warm-up: imports, prepared statements, the connection pool.
            warm = batch_body(people[:100], "WARM", by_national_id)
            headers = {INTERNAL_HEADER: minter.mint(lab), "Content-Type": "application/json"}
            r = await client.post(f"/v1/labs/{lab_id}/results", content=warm, headers=headers)
            r.raise_for_status()

            ingest_rates: list[float] = []
            for rep in range(repetitions):
                body = batch_body(people, f"H{rep}", by_national_id)
                headers = {INTERNAL_HEADER: minter.mint(lab), "Content-Type": "application/json"}
                started = time.perf_counter()
                r = await client.post(f"/v1/labs/{lab_id}/results", content=body, headers=headers)
                elapsed = time.perf_counter() - started
                r.raise_for_status()
                answer = r.json()
                if answer["accepted"] != items:
                    raise RuntimeError(f"expected {items} accepted, got {answer['accepted']}: {answer['items'][:3]}")
                ingest_rates.append(items / elapsed)
                print(f"  ingest   rep {rep + 1}: {elapsed * 1000:8.1f} ms  {items / elapsed:10.0f} results/s")
            rss.stop()

        conn = await asyncpg.connect(url)
        copy_rates: list[float] = []
        bare_rates: list[float] = []
        try:
            for rep in range(repetitions):
                records = [
                    (pid, lab_id, f"C{rep}-{k:05d}", "PCR", COLLECTED, RESULTED, "NEGATIVE" if k % 50 else "POSITIVE")
                    for k, (pid, _) in enumerate(people)
                ]
                started = time.perf_counter()
                await conn.copy_records_to_table("test_result", records=records, columns=COPY_COLUMNS)
                elapsed = time.perf_counter() - started
                copy_rates.append(items / elapsed)
                print(f"  COPY     rep {rep + 1}: {elapsed * 1000:8.1f} ms  {items / elapsed:10.0f} rows/s")
                # The same COPY without the table's triggers (person_rollup's upkeep), undone:
                # what the roll-up costs a write.
                bare = [(pid, lab, f"B{sid}", *rest) for pid, lab, sid, *rest in records]
                tx = conn.transaction()
                await tx.start()
                try:
                    await conn.execute("ALTER TABLE test_result DISABLE TRIGGER USER")
                    started = time.perf_counter()
                    await conn.copy_records_to_table("test_result", records=bare, columns=COPY_COLUMNS)
                    elapsed = time.perf_counter() - started
                finally:
                    await tx.rollback()
                bare_rates.append(items / elapsed)
                print(f"  COPY, no triggers: {elapsed * 1000:8.1f} ms  {items / elapsed:10.0f} rows/s")
            stored = await conn.fetchval("SELECT count(*) FROM test_result")
        finally:
            await conn.close()

        expected = (repetitions * 2 * items) + len(people[:100])
        if stored != expected:
            raise RuntimeError(f"expected {expected} rows in test_result, found {stored}")
        ingest, copy = statistics.median(ingest_rates), statistics.median(copy_rates)
        print(
            f"items per batch: {items}, repetitions: {repetitions}, people named by "
            f"{'national_id' if by_national_id else 'person_id'}"
        )
        print(f"ingest over HTTP (median): {ingest:10.0f} results/s")
        print(f"COPY reference   (median): {copy:10.0f} rows/s")
        print(f"ratio ingest/COPY: {ingest / copy:.0%} (target >= 50%)")
        bare_copy = statistics.median(bare_rates)
        print(
            f"COPY without the table's triggers (person_rollup upkeep; median): {bare_copy:10.0f} rows/s: "
            f"the roll-up costs COPY {1 - copy / bare_copy:.0%} of its rate; ingest is {ingest / bare_copy:.0%} of it"
        )
        print(f"peak resident memory during the ingest runs (sampled every 50 ms): {rss.report()}")
        return 0
    finally:
        if proc is not None:
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="1,000 items, 1 repetition")
    parser.add_argument("--repetitions", type=int, default=5)
    parser.add_argument("--national-ids", action="store_true", help="name people by national ID")
    args = parser.parse_args()
    items, reps = (1_000, 1) if args.quick else (10_000, args.repetitions)
    admin_url = plain_pg_url(os.environ.get("BENCH_DATABASE_URL", DEFAULT_ADMIN_URL))
    sys.exit(asyncio.run(run(admin_url, items, reps, args.national_ids)))


if __name__ == "__main__":
    main()
