"""Seeding benchmark: `safework seed` of a 1,000,000-person province, beside plain COPY.

Creates a scratch database on the test server (``BENCH_DATABASE_URL``, default
``postgresql://postgres@127.0.0.1:5432/postgres``), migrates it (the normal indexes and
constraints), then measures in the same run:

- the reference: asyncpg ``copy_records_to_table`` of as many pre-generated person rows as the
  seed makes people (generated before the clock starts; one connection);
- ``seed_province``: the whole province (enterprises, people, doses, 30 days of results and
  pools, declarations, travels, installations), generated and loaded; with ``--checkin-days N``
  every worker's QR check-ins over the last N days too (default 0 here: at 30 days they are
  ~75 M rows, ~90% of the province, and no 2-minute load; ``bench_trace`` seeds them and
  prints how long that takes).

    .venv/bin/python -m bench.bench_seed [--quick] [--people N] [--enterprises M] [--checkin-days N] [--keep]

Target (the issue): 1,000,000 people in under 2 minutes on this 2-core machine.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import secrets
import sys
import time
import uuid
from collections.abc import Sequence
from datetime import date
from typing import Any

import asyncpg

from bench.support import create_scratch, drop_scratch
from safework_cli import migrate
from safework_cli.seed import seed_province
from safework_cli.seed.load import COLUMNS, registry_tables

TARGET_SECONDS = 120.0


async def create_migrated(admin: str) -> str:
    url = await create_scratch(admin, "seed")
    await asyncio.to_thread(migrate.upgrade, url, "heads", configure_logger=False)
    return url


def person_rows(n: int, enterprise_id: uuid.UUID) -> list[tuple[Any, ...]]:
    """Plain person rows of the seed's shape (random keys, one enterprise)."""
    rng = random.Random(7)
    born = date(1995, 3, 8)
    hired = date(2020, 1, 6)
    return [
        (
            uuid.UUID(int=rng.getrandbits(128)),
            rng.randbytes(32),
            rng.randbytes(40),
            f"{i % 10_000:04d}",
            "Nguyễn Thị Hoa",
            born,
            "female",
            "0912345678",
            "Bắc Giang",
            "worker",
            enterprise_id,
            f"NV{i:07d}",
            hired,
            None,
            None,
            None,
            False,
            None,
            None,
            "active",
            None,
            i & 1,
        )
        for i in range(n)
    ]


async def reference_copy(url: str, n: int) -> float:
    """Seconds for one COPY of ``n`` pre-generated person rows (then emptied again)."""
    conn = await asyncpg.connect(url)
    try:
        eid = uuid.uuid4()
        await conn.execute(
            "INSERT INTO enterprise (id, tax_code, name, district, zone_type)"
            " VALUES ($1, '2400000001', 'x', 'x', 'KCN')",
            eid,
        )
        rows = person_rows(n, eid)
        started = time.perf_counter()
        await conn.copy_records_to_table("person", records=rows, columns=COLUMNS["person"])
        elapsed = time.perf_counter() - started
        await conn.execute("TRUNCATE " + ", ".join(f'"{t}"' for t in registry_tables()) + " RESTART IDENTITY")
    finally:
        await conn.close()
    return elapsed


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="20,000 people instead of 1,000,000")
    parser.add_argument("--people", type=int, default=None)
    parser.add_argument("--enterprises", type=int, default=None, help="default: one per 200 people")
    parser.add_argument("--seed", type=int, default=2021)
    parser.add_argument("--checkin-days", type=int, default=0, help="days of check-ins for every worker (0-30)")
    parser.add_argument("--keep", action="store_true", help="keep the scratch database (prints its URL)")
    args = parser.parse_args(argv)
    people = args.people or (20_000 if args.quick else 1_000_000)
    enterprises = args.enterprises or max(1, people // 200)
    admin = os.environ.get("BENCH_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/postgres")

    async def run() -> int:
        url = await create_migrated(admin)
        try:
            ref = await reference_copy(url, people)
            started = time.perf_counter()
            counts = await seed_province(
                url,
                people=people,
                enterprises=enterprises,
                seed=args.seed,
                national_id_key=secrets.token_hex(32).encode(),
                progress=sys.stderr.isatty(),
                checkin_days=args.checkin_days,
            )
            elapsed = time.perf_counter() - started
            total = sum(counts.values())
            print("rows: " + ", ".join(f"{t} {n:,}" for t, n in counts.items()))
            print(
                f"seed of {people:,} people in {enterprises:,} enterprises ({args.checkin_days} days of check-ins): "
                f"{total:,} rows in {elapsed:.1f} s, "
                f"{total / elapsed:,.0f} rows/s ({people / elapsed:,.0f} people/s) | reference, COPY of "
                f"{people:,} pre-generated person rows: {ref:.1f} s, {people / ref:,.0f} rows/s | "
                f"ratio {(total / elapsed) / (people / ref):.2f}x the reference's rate | target < "
                f"{TARGET_SECONDS:.0f} s: {'met' if elapsed < TARGET_SECONDS else 'NOT met'}"
                + ("" if people >= 1_000_000 else f" (the target is for 1,000,000 people; this run has {people:,})")
            )
            if args.keep:
                print(f"kept: {url}")
        finally:
            if not args.keep:
                await drop_scratch(admin, url)
        return 0

    return asyncio.run(run())


if __name__ == "__main__":
    sys.exit(main())
