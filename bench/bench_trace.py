"""Tracing benchmark (issue 14): trace one F0 in the synthetic province with 30 days of QR
check-ins for every worker, beside a single indexed SQL query of the same overlaps.

Creates a scratch database (``BENCH_DATABASE_URL``, default the server on 127.0.0.1:5432),
migrates it and fills it with ``safework seed``'s loader: ``--people`` people (1,000,000; one
enterprise per 200) and every worker's check-ins over the 30 days at the density the seed
documents (gate, production unit, canteen, a shuttle bus for some; shifts; ~75 a person). Then
``VACUUM (ANALYZE) checkin`` (the seed's rows are fresh; a live registry's are vacuumed by
autovacuum, and the trace's venue reads are index-only once they are), timed and printed.

F0s are drawn at random (a fixed sample) among the people with check-ins in the infectious
window. For each F0, warm (one untimed run first, then the median of ``REPEATS``):

- ``trace``: the registry's ``outbreak.repository.trace`` (venue overlaps over the infectious
  window, housemates, every contact and its outbox fact written in one statement, counted), in
  a transaction rolled back after each run;
- the reference: ``SELECT count(*)`` of ``outbreak.repository.overlaps`` for the same F0 and
  window (the same indexed overlap query, nothing written).

The figure is the median over the F0s (the spread is printed too).

    .venv/bin/python -m bench.bench_trace [--quick] [--people N] [--f0s K] [--explain] [--keep]
    .venv/bin/python -m bench.bench_trace --url URL   # measure again a database a --keep run left

Target (the issue): < 200 ms warm for one F0 in the 1,000,000-person province.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import secrets
import statistics
import sys
import time
import uuid
from collections.abc import Sequence
from datetime import date, datetime, timedelta
from typing import Any

import asyncpg
from sqlalchemy import event, func, select, text
from sqlalchemy.ext.asyncio import async_sessionmaker, create_async_engine

import safework_registry.models  # noqa: F401  (every table, for the ORM's foreign keys)
from bench.support import create_scratch, drop_scratch
from safework_cli import migrate
from safework_cli.seed import seed_province
from safework_common.settings import asyncpg_url
from safework_common.timezone import LOCAL_TZ
from safework_registry.outbreak import repository
from safework_registry.outbreak.models import OutbreakCase
from safework_registry.outbreak.parameters import current
from safework_registry.outbreak.rules import Window, infectious_window

TARGET_MS = 200.0
DAY0 = date(2021, 9, 1)  # the seed's window: 30 days to its default as-of, 2021-09-30 12:00
REPEATS = 3
BUSY_HEADCOUNT = 4000
SEED = 2021


def at(day: int, minute: int) -> datetime:
    d = DAY0 + timedelta(days=day)
    return datetime(d.year, d.month, d.day, tzinfo=LOCAL_TZ) + timedelta(minutes=minute)


COLLECTED = at(27, 8 * 60)  # a Tuesday's specimen
TRACED = at(28, 10 * 60)  # traced the next morning


async def fill(url: str, people: int) -> tuple[int, float, float]:
    """The province by ``seed_province`` (30 days of check-ins); (rows, seed s, vacuum s)."""
    started = time.perf_counter()
    counts = await seed_province(
        url,
        people=people,
        enterprises=max(1, people // 200),
        seed=SEED,
        national_id_key=secrets.token_hex(32).encode(),
        progress=sys.stderr.isatty(),
        checkin_days=30,
    )
    seeded = time.perf_counter() - started
    conn = await asyncpg.connect(url)
    try:
        started = time.perf_counter()
        await conn.execute("VACUUM (ANALYZE) checkin")
        vacuumed = time.perf_counter() - started
    finally:
        await conn.close()
    return sum(counts.values()), seeded, vacuumed


async def _people(url: str) -> int:
    conn = await asyncpg.connect(url)
    try:
        return int(await conn.fetchval("SELECT count(*) FROM person"))
    finally:
        await conn.close()


async def pick_f0s(url: str, window: Window, people: int, k: int, headcount: int = 0) -> list[uuid.UUID]:
    """``k`` people drawn at random (repeatably) among those with check-ins in ``window`` (and
    an employer of at least ``headcount`` workers)."""
    percent = min(100.0, 100.0 * 4000 / people) if headcount == 0 else 100.0
    conn = await asyncpg.connect(url)
    try:
        rows = await conn.fetch(
            "SELECT p.id FROM person p TABLESAMPLE BERNOULLI ($1) REPEATABLE (14)"
            " JOIN enterprise e ON e.id = p.enterprise_id AND e.headcount >= $5"
            " WHERE EXISTS (SELECT 1 FROM checkin c WHERE c.person_id = p.id"
            " AND c.checked_in_at BETWEEN $2 AND $3) ORDER BY md5(p.id::text) LIMIT $4",
            percent,
            window.start,
            window.end,
            k,
            headcount,
        )
    finally:
        await conn.close()
    return [r["id"] for r in rows]


async def measure(url: str, f0s: list[uuid.UUID], explain: bool) -> list[dict[str, Any]]:
    params = current()
    window = infectious_window(COLLECTED, params.infectious_before, None, TRACED)
    engine = create_async_engine(asyncpg_url(url))
    sessions = async_sessionmaker(engine, expire_on_commit=False)
    statements: list[str] = []

    @event.listens_for(engine.sync_engine, "before_cursor_execute")
    def _count(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        statements.append(statement)

    out: list[dict[str, Any]] = []
    try:
        for n, f0 in enumerate(f0s):
            reference_sql = select(func.count()).select_from(repository.overlaps([f0], window, params.dwell).subquery())
            trace_ms: list[float] = []
            ref_ms: list[float] = []
            contacts = overlaps = writes = 0
            for rep in range(REPEATS + 1):
                async with sessions() as session:
                    case = OutbreakCase(id=uuid.uuid4(), person_id=f0, basis="pcr", collected_at=COLLECTED,
                                        infectious_from=window.start, traced_at=TRACED, status="open")  # fmt: skip
                    if explain and n == 0 and rep == REPEATS:
                        await _auto_explain(session)
                    started = time.perf_counter()
                    session.add(case)
                    await session.flush()
                    before = len(statements)
                    contacts = await repository.trace(session, case, window, params.dwell, None)
                    elapsed = (time.perf_counter() - started) * 1000
                    writes = len(statements) - before
                    await session.rollback()
                async with sessions() as session:
                    started = time.perf_counter()
                    overlaps = (await session.execute(reference_sql)).scalar_one()
                    ref = (time.perf_counter() - started) * 1000
                if rep:  # the first run warms the caches
                    trace_ms.append(elapsed)
                    ref_ms.append(ref)
            out.append(
                {
                    "f0": f0,
                    "trace": statistics.median(trace_ms),
                    "ref": statistics.median(ref_ms),
                    "contacts": contacts,
                    "overlaps": overlaps,
                    "statements": writes,
                }
            )
    finally:
        await engine.dispose()
    return out


async def _auto_explain(session: Any) -> None:
    """EXPLAIN ANALYZE of what the session runs next, printed (``--explain``)."""
    conn = await session.connection()
    raw = (await conn.get_raw_connection()).driver_connection
    raw.add_log_listener(lambda _c, msg: print(msg.message, file=sys.stderr))
    await session.execute(text("LOAD 'auto_explain'"))
    for setting in ("log_min_duration = 0", "log_analyze = on", "log_buffers = on", "log_triggers = on",
                    "log_level = notice"):  # fmt: skip
        await session.execute(text(f"SET auto_explain.{setting}"))
    await session.execute(text("SET client_min_messages = notice"))


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="3,000 people instead of 1,000,000")
    parser.add_argument("--people", type=int, default=None)
    parser.add_argument("--f0s", type=int, default=7, help="F0s to trace (the figure is their median)")
    parser.add_argument("--explain", action="store_true", help="print EXPLAIN ANALYZE of the first F0's trace")
    parser.add_argument("--keep", action="store_true", help="keep the scratch database (prints its URL)")
    parser.add_argument("--url", default=None, help="measure this already seeded database (no fill; kept)")
    args = parser.parse_args(argv)
    wanted = args.people or (3_000 if args.quick else 1_000_000)
    admin = os.environ.get("BENCH_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/postgres")

    async def run() -> int:
        url = args.url or await create_scratch(admin, "trace")
        people = wanted
        try:
            await asyncio.to_thread(migrate.upgrade, url, "heads", configure_logger=False)
            if args.url is None:
                rows, seeded, vacuumed = await fill(url, people)
                print(
                    f"fill: safework seed of {people:,} people with 30 days of check-ins, {rows:,} rows in "
                    f"{seeded:.1f} s; VACUUM (ANALYZE) checkin {vacuumed:.1f} s"
                )
            else:
                people = await _people(url)
            window = infectious_window(COLLECTED, current().infectious_before, None, TRACED)
            f0s = await pick_f0s(url, window, people, args.f0s)
            results = await measure(url, f0s, args.explain)
            for r in results:
                print(
                    f"  F0 {r['f0']}: trace {r['trace']:.1f} ms ({r['contacts']:,} contacts, {r['statements']} "
                    f"statement{'s' if r['statements'] != 1 else ''}) | reference {r['ref']:.1f} ms "
                    f"({r['overlaps']:,} overlapping check-ins)"
                )
            ours = statistics.median(r["trace"] for r in results)
            ref = statistics.median(r["ref"] for r in results)
            contacts = statistics.median(r["contacts"] for r in results)
            print(
                f"trace of one F0, warm (median of {len(results)} F0s, each the median of {REPEATS}; "
                f"{min(r['trace'] for r in results):.1f}-{max(r['trace'] for r in results):.1f} ms; median "
                f"{contacts:,.0f} contacts marked with their outbox facts, "
                f"{max(r['statements'] for r in results)} statement): {ours:.1f} ms | reference, one indexed SQL "
                f"query of the same overlaps: {ref:.1f} ms | ratio {ours / ref:.1f}x | target < {TARGET_MS:.0f} ms: "
                f"{'met' if ours < TARGET_MS else 'NOT met'}"
                + ("" if people >= 1_000_000 else f" (the target is for 1,000,000 people; this run has {people:,})")
            )
            # The busiest F0s: workers of the largest employers, ~1,000 contacts each.
            big = await measure(url, await pick_f0s(url, window, people, 3, BUSY_HEADCOUNT), False)
            if big:
                print(
                    f"busiest: {len(big)} F0s of employers of {BUSY_HEADCOUNT:,}+ workers: "
                    + ", ".join(f"{r['trace']:.1f} ms ({r['contacts']:,} contacts)" for r in big)
                    + " | reference "
                    + ", ".join(f"{r['ref']:.1f}" for r in big)
                    + " ms"
                )
            if args.keep:
                print(f"kept: {url}")
            return 0 if ours < TARGET_MS or people < 1_000_000 else 1
        finally:
            if not args.keep and args.url is None:
                await drop_scratch(admin, url)

    return asyncio.run(run())


if __name__ == "__main__":
    sys.exit(main())
