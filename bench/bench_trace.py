"""Tracing benchmark (issue 14): trace one F0 in a synthetic province with 30 days of QR
check-ins for every worker, beside a single indexed SQL query of the same overlaps.

Creates a scratch database (``BENCH_DATABASE_URL``, default the server on 127.0.0.1:5432),
migrates it, fills it with COPY: ``--people`` workers in enterprises of about 500, each with two
gates, a canteen, four production units and two shuttle buses; every worker checks in on every
working day (Monday to Saturday) of the 30 days at a gate (~07:00), their production unit
(~07:30) and the canteen (11:00-12:30), and four in ten ride their bus (~06:00): about 3.4
check-ins a day, ~90 per worker. Then it measures, warm (median of 5 after one warm-up):

- ``trace``: the registry's ``outbreak.repository.trace`` for one F0 (venue overlaps over the
  infectious window, housemates, every contact and its outbox fact written in one statement),
  in a transaction rolled back after each run;
- the reference: ``SELECT count(*)`` of ``outbreak.repository.overlaps`` for the same F0 and
  window (the same indexed overlap query, nothing written).

    .venv/bin/python -m bench.bench_trace [--quick] [--people N] [--keep]

Target (the issue): < 200 ms warm for one F0 in the 1,000,000-person province.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import statistics
import sys
import time
import uuid
from collections.abc import Sequence
from datetime import date, datetime, timedelta
from typing import Any

import asyncpg
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import async_sessionmaker, create_async_engine

from bench.support import create_scratch, drop_scratch
from safework_cli import migrate
from safework_common.settings import asyncpg_url
from safework_common.timezone import LOCAL_TZ
from safework_registry.outbreak import repository
from safework_registry.outbreak.models import OutbreakCase
from safework_registry.outbreak.parameters import current
from safework_registry.outbreak.rules import infectious_window
from safework_registry.partitions import ensure_months, months_between

TARGET_MS = 200.0
DAY0 = date(2021, 9, 1)
DAYS = 30
PER_ENTERPRISE = 500
KINDS = (("gate", 2), ("canteen", 1), ("production_unit", 4), ("shuttle_bus", 2))


def at(day: int, minute: int) -> datetime:
    d = DAY0 + timedelta(days=day)
    return datetime(d.year, d.month, d.day, tzinfo=LOCAL_TZ) + timedelta(minutes=minute)


async def fill(url: str, people: int) -> tuple[uuid.UUID, int]:
    """The province, by COPY; returns an F0 (a worker of the middle enterprise) and the rows."""
    rng = random.Random(14)
    conn = await asyncpg.connect(url)
    rows = 0
    try:
        # checkin is partitioned by month: the months of the 30 days exist (the partition job's).
        await ensure_months(conn, months_between(at(0, 0), at(DAYS, 0)))
        n_ent = max(1, people // PER_ENTERPRISE)
        ents = [uuid.UUID(int=rng.getrandbits(128)) for _ in range(n_ent)]
        await conn.copy_records_to_table(
            "enterprise",
            records=[(e, f"{2400000000 + i:010d}", f"Công ty {i}", "Việt Yên", "KCN", "KCN Vân Trung")
                     for i, e in enumerate(ents)],
            columns=["id", "tax_code", "name", "district", "zone_type", "zone_name"],
        )  # fmt: skip
        venues: dict[uuid.UUID, dict[str, list[uuid.UUID]]] = {}
        vrows = []
        for e in ents:
            venues[e] = {}
            for kind, count in KINDS:
                for _ in range(count):
                    v = uuid.UUID(int=rng.getrandbits(128))
                    venues[e].setdefault(kind, []).append(v)
                    vrows.append((v, e, kind, kind, f"QR-{v.hex}"))
        await conn.copy_records_to_table(
            "venue", records=vrows, columns=["id", "enterprise_id", "name", "kind", "qr_code"]
        )
        working = [d for d in range(DAYS) if (DAY0 + timedelta(days=d)).weekday() != 6]
        f0: uuid.UUID | None = None
        batch_people: list[tuple[Any, ...]] = []
        batch_checkins: list[tuple[Any, ...]] = []
        for i in range(people):
            e = ents[min(i // PER_ENTERPRISE, n_ent - 1)]
            pid = uuid.UUID(int=rng.getrandbits(128))
            if f0 is None and e == ents[n_ent // 2]:
                f0 = pid
            batch_people.append((pid, rng.randbytes(32), rng.randbytes(40), "0000", "Nguyễn Văn A", date(1995, 3, 8),
                                 "male", e, f"NV{i:07d}"))  # fmt: skip
            here = venues[e]
            unit = here["production_unit"][i % 4]
            gate = here["gate"][i % 2]
            bus = here["shuttle_bus"][i % 2] if rng.random() < 0.4 else None
            for d in working:
                if bus is not None:
                    batch_checkins.append((pid, bus, at(d, 360 + rng.randrange(40))))
                batch_checkins.append((pid, gate, at(d, 400 + rng.randrange(60))))
                batch_checkins.append((pid, unit, at(d, 450 + rng.randrange(30))))
                batch_checkins.append((pid, here["canteen"][0], at(d, 660 + rng.randrange(90))))
            if len(batch_checkins) >= 500_000 or i == people - 1:
                await conn.copy_records_to_table(
                    "person",
                    records=batch_people,
                    columns=["id", "national_id_hash", "national_id_enc", "national_id_last4", "full_name",
                             "date_of_birth", "sex", "enterprise_id", "employee_code"],
                )  # fmt: skip
                await conn.copy_records_to_table(
                    "checkin", records=batch_checkins, columns=["person_id", "venue_id", "checked_in_at"]
                )
                rows += len(batch_people) + len(batch_checkins)
                batch_people, batch_checkins = [], []
                if sys.stderr.isatty():
                    print(f"\r  filled {i + 1:,} people", end="", file=sys.stderr, flush=True)
        await conn.execute("ANALYZE")
    finally:
        await conn.close()
    assert f0 is not None
    return f0, rows


async def measure(url: str, f0: uuid.UUID) -> tuple[list[float], list[float], int, int]:
    params = current()
    collected = at(27, 8 * 60)
    traced = at(28, 10 * 60)
    window = infectious_window(collected, params.infectious_before, None, traced)
    engine = create_async_engine(asyncpg_url(url))
    sessions = async_sessionmaker(engine, expire_on_commit=False)
    reference_sql = select(func.count()).select_from(repository.overlaps([f0], window, params.dwell).subquery())
    compiled = str(reference_sql.compile(dialect=engine.dialect, compile_kwargs={"literal_binds": True}))
    trace_ms: list[float] = []
    ref_ms: list[float] = []
    contacts = overlaps = 0
    try:
        for rep in range(6):
            async with sessions() as session:
                started = time.perf_counter()
                case = OutbreakCase(id=uuid.uuid4(), person_id=f0, basis="pcr", collected_at=collected,
                                    infectious_from=window.start, traced_at=traced, status="open")  # fmt: skip
                session.add(case)
                await session.flush()
                contacts = await repository.trace(session, case, window, params.dwell, None)
                elapsed = (time.perf_counter() - started) * 1000
                await session.rollback()
            conn = await asyncpg.connect(url)
            try:
                started = time.perf_counter()
                overlaps = await conn.fetchval(compiled)
                ref = (time.perf_counter() - started) * 1000
            finally:
                await conn.close()
            if rep:  # the first run warms the caches
                trace_ms.append(elapsed)
                ref_ms.append(ref)
    finally:
        await engine.dispose()
    return trace_ms, ref_ms, contacts, overlaps


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="1,000 people instead of 1,000,000")
    parser.add_argument("--people", type=int, default=None)
    parser.add_argument("--keep", action="store_true", help="keep the scratch database (prints its URL)")
    args = parser.parse_args(argv)
    people = args.people or (1_000 if args.quick else 1_000_000)
    admin = os.environ.get("BENCH_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/postgres")

    async def run() -> int:
        url = await create_scratch(admin, "trace")
        try:
            await asyncio.to_thread(migrate.upgrade, url, "heads", configure_logger=False)
            started = time.perf_counter()
            f0, rows = await fill(url, people)
            fill_s = time.perf_counter() - started
            trace_ms, ref_ms, contacts, overlaps = await measure(url, f0)
            ours, ref = statistics.median(trace_ms), statistics.median(ref_ms)
            print(f"fill: {people:,} people, {rows:,} rows (30 days of check-ins) by COPY in {fill_s:.1f} s")
            print(
                f"trace of one F0 ({contacts:,} contacts marked, outbox included): {ours:.1f} ms warm (median of "
                f"{len(trace_ms)}) | reference, one indexed SQL query of the same overlaps ({overlaps:,} rows): "
                f"{ref:.1f} ms | ratio {ours / ref:.1f}x | target < {TARGET_MS:.0f} ms: "
                f"{'met' if ours < TARGET_MS else 'NOT met'}"
                + ("" if people >= 1_000_000 else f" (the target is for 1,000,000 people; this run has {people:,})")
            )
            if args.keep:
                print(f"kept: {url}")
            return 0 if ours < TARGET_MS or people < 1_000_000 else 1
        finally:
            if not args.keep:
                await drop_scratch(admin, url)

    return asyncio.run(run())


if __name__ == "__main__":
    sys.exit(main())
