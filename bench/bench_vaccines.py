"""Vaccine queue and plan benchmark over a province of N people (default 1,000,000).

Creates a scratch database on the test server (``BENCH_DATABASE_URL``, default
``postgresql://postgres@127.0.0.1:5432/postgres``), migrates it, loads the policies, fills it
with COPY (enterprises of the three zone types in ten districts; people with roles, hire dates
and dose histories of five products as of 20 September 2021), then measures, each beside a
single SQL scan of the same rows in the same run (person ⋈ enterprise ⟕ dose, counted):

- queue, first page (limit 100), province-wide, through the scheduler app in-process: the
  figure held to the target (< 5 s over 1,000,000 people); median of warm repeats;
- queue, a page from the middle (keyset cursor), one district, one enterprise;
- queue, the full ordering streamed through the adapter's server-side cursor (every row);
- plan: the grouped-count read, one simulation, the minimal-capacity search (pure, in process),
  and the whole ``POST /v1/vaccines/plan`` (total and per district) through the app.

    .venv/bin/python -m bench.bench_vaccines [--quick] [--people N] [--keep]

Prints figure, reference, ratio and peak RSS; exits 0 when the queue target holds.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import resource
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable, Iterator
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

import asyncpg
import httpx

from bench.support import with_database

TZ = ZoneInfo("Asia/Ho_Chi_Minh")
AS_OF = datetime(2021, 9, 20, 10, 0, tzinfo=TZ)
DISTRICTS = (
    "Bắc Giang",
    "Việt Yên",
    "Yên Dũng",
    "Hiệp Hòa",
    "Lạng Giang",
    "Tân Yên",
    "Lục Nam",
    "Lục Ngạn",
    "Yên Thế",
    "Sơn Động",
)
# (code, name, minimum interval in days, doses in the primary series, share of dose 1s)
PRODUCTS = (
    ("AZ", "AstraZeneca", 56, 2, 0.45),
    ("PFIZER", "Pfizer-BioNTech", 21, 2, 0.20),
    ("VERO", "Sinopharm Vero Cell", 21, 2, 0.25),
    ("MODERNA", "Moderna", 28, 2, 0.07),
    ("ABDALA", "Abdala", 14, 3, 0.03),
)
QUEUE_TARGET_SECONDS = 5.0
REPEATS = 3
T = TypeVar("T")


def at(day: date, hour: float) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=TZ) + timedelta(hours=hour)


def peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


class Province:
    """Rows for the four tables the vaccine rules read, generated lazily in batches."""

    def __init__(self, seed: int, people: int) -> None:
        self.rng = random.Random(seed)
        self.people = people
        self.enterprises: list[tuple[uuid.UUID, str, str, int]] = []
        left = people
        while left > 0:
            size = min(left, self.rng.choice((15, 60, 150, 400, 900, 2500)))
            zone = self.rng.choices(("KCN", "CCN", "OUTSIDE"), weights=(55, 20, 25))[0]
            self.enterprises.append((self._uid(), self.rng.choice(DISTRICTS), zone, size))
            left -= size
        self.doses = 0

    def _uid(self) -> uuid.UUID:
        return uuid.UUID(int=self.rng.getrandbits(128), version=4)

    def people_and_doses(self, batch: int) -> Iterator[tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]]:
        rng = self.rng
        codes = [p[0] for p in PRODUCTS]
        weights = [p[4] for p in PRODUCTS]
        interval = {p[0]: p[2] for p in PRODUCTS}
        series = {p[0]: p[3] for p in PRODUCTS}
        persons: list[tuple[Any, ...]] = []
        doses: list[tuple[Any, ...]] = []
        n = 0
        for eid, _district, _zone, size in self.enterprises:
            for _ in range(size):
                n += 1
                pid = self._uid()
                role = rng.choices(
                    ("worker", "manager", "expert", "freight_driver", "freight_driver_assistant", "shuttle_driver"),
                    weights=(88, 5, 3, 2, 1, 1),
                )[0]
                pick = rng.random()
                if pick < 0.06:  # hired in the programme, some after the as-of date
                    hired = date(2021, 9, 1) + timedelta(days=rng.randint(0, 40))
                else:
                    hired = date(2015, 1, 1) + timedelta(days=rng.randint(0, 2300))
                status = "left" if rng.random() < 0.02 else "active"
                persons.append(
                    (
                        pid,
                        pid.bytes + pid.bytes,
                        b"bench",
                        f"{n % 10000:04d}",
                        f"Worker {n}",
                        date(1990, 1, 1) + timedelta(days=n % 9000),
                        "female" if n % 3 else "male",
                        role,
                        eid,
                        f"E{n:07d}",
                        hired,
                        status,
                    )
                )
                history = rng.random()
                if history < 0.35:
                    pass  # no dose yet
                else:
                    product = rng.choices(codes, weights=weights)[0]
                    # Up to 23 Sep (a few after as_of); AstraZeneca's 8 weeks only early enough to make 31 Oct.
                    last_first = 81 if product == "AZ" else 100
                    first = date(2021, 6, 15) + timedelta(days=rng.randint(0, last_first))
                    doses.append((pid, 1, product, at(first, rng.uniform(7, 17))))
                    given = first
                    for k in range(2, series[product] + 1):
                        nxt = given + timedelta(days=interval[product] + rng.randint(0, 10))
                        if history < 0.35 + 0.45 or nxt > date(2021, 9, 19):
                            break
                        doses.append((pid, k, product, at(nxt, rng.uniform(7, 17))))
                        given = nxt
                if len(persons) >= batch:
                    self.doses += len(doses)
                    yield persons, doses
                    persons, doses = [], []
        if persons:
            self.doses += len(doses)
            yield persons, doses

    async def load(self, conn: asyncpg.Connection) -> None:
        await conn.copy_records_to_table(
            "vaccine_product",
            records=[(c, n, i, s, True) for c, n, i, s, _ in PRODUCTS],
            columns=["code", "name", "min_interval_days", "doses_in_primary_series", "active"],
        )
        await conn.copy_records_to_table(
            "enterprise",
            records=[
                (eid, f"{1_000_000_000 + i:010d}", f"Enterprise {i}", district, zone, size)
                for i, (eid, district, zone, size) in enumerate(self.enterprises)
            ],
            columns=["id", "tax_code", "name", "district", "zone_type", "headcount"],
        )
        person_columns = [
            "id",
            "national_id_hash",
            "national_id_enc",
            "national_id_last4",
            "full_name",
            "date_of_birth",
            "sex",
            "job_role",
            "enterprise_id",
            "employee_code",
            "hire_date",
            "status",
        ]
        for persons, doses in self.people_and_doses(100_000):
            await conn.copy_records_to_table("person", records=persons, columns=person_columns)
            await conn.copy_records_to_table(
                "dose", records=doses, columns=["person_id", "dose_number", "product_code", "administered_at"]
            )
        await conn.execute("ANALYZE")


async def timed(fn: Callable[[], Awaitable[T]], repeats: int = REPEATS) -> tuple[float, T]:
    """Median seconds of ``repeats`` warm runs (after one warm-up), and the last result."""
    result = await fn()
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        result = await fn()
        times.append(time.perf_counter() - started)
    return statistics.median(times), result


def line(name: str, figure: float, reference: float, note: str = "") -> None:
    ratio = figure / reference if reference > 0 else float("inf")
    print(
        f"  {name:<46} {figure * 1000:9.1f} ms   ref {reference * 1000:8.1f} ms   x{ratio:6.2f}"
        f"   rss {peak_rss_mib():7.0f} MiB  {note}",
        flush=True,
    )


async def run(url: str, people: int) -> bool:
    from fastapi import FastAPI

    from safework_common.contract.policy_document import PolicyDocument, in_force
    from safework_common.db import make_sessionmaker
    from safework_common.internal_auth import INTERNAL_HEADER, Caller, InternalTokenMinter, generate_keypair
    from safework_common.scope import Reach
    from safework_common.timezone import local_date
    from safework_scheduler.app import create_app
    from safework_scheduler.policy.files import read_versions
    from safework_scheduler.settings import SchedulerSettings
    from safework_scheduler.vaccines import repository
    from safework_scheduler.vaccines.repository import DueQuery
    from safework_scheduler.vaccines.rules import (
        DistrictCapacity,
        PlanWindow,
        TotalCapacity,
        default_end,
        minimal_total_capacity,
        simulate,
        tier_table,
        with_dose1_product,
    )

    province = Province(seed=20210920, people=people)
    conn = await asyncpg.connect(url)
    try:
        started = time.perf_counter()
        await conn.execute("SET session_replication_role = replica")  # bulk load: no FK triggers
        await province.load(conn)
        print(
            f"loaded {people:,} people, {len(province.enterprises):,} enterprises, {province.doses:,} doses"
            f" in {time.perf_counter() - started:.1f} s",
            flush=True,
        )

        async def reference_scan() -> int:
            """One SQL scan of the rows the queue reads: active people, their enterprise, their doses."""
            return int(
                await conn.fetchval(
                    "SELECT count(*) FROM person p JOIN enterprise e ON e.id = p.enterprise_id"
                    " LEFT JOIN dose d ON d.person_id = p.id AND d.administered_at <= $1"
                    " WHERE p.status = 'active'",
                    AS_OF,
                )
            )

        ref, scanned = await timed(reference_scan)
        print(f"reference: single SQL scan of {scanned:,} joined rows: {ref * 1000:.1f} ms (median of {REPEATS})")
    finally:
        await conn.close()

    doc: PolicyDocument | None = in_force(read_versions(), local_date(AS_OF))
    assert doc is not None
    keys = Path(tempfile.mkdtemp(prefix="bench-vaccines-keys-"))
    private, public = generate_keypair()
    (keys / "pub.pem").write_bytes(public)
    minter = InternalTokenMinter(private)
    app: FastAPI = create_app(
        SchedulerSettings(database_url=url, environment="test", internal_token_public_key_file=keys / "pub.pem"),
        configure_logs=False,
    )
    province_caller = Caller(subject="client:province", role="authority", client_id="province")
    ok = True
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://bench", timeout=120) as client:

            def headers() -> dict[str, str]:
                return {INTERNAL_HEADER: minter.mint(province_caller)}  # tokens live 60 s; the minter caches

            async def get_queue(**params: Any) -> dict[str, Any]:
                r = await client.get(
                    "/v1/vaccines/queue", params={"as_of": AS_OF.isoformat(), **params}, headers=headers()
                )
                assert r.status_code == 200, r.text
                body: dict[str, Any] = r.json()
                return body

            print("queue (GET /v1/vaccines/queue, in-process app, warm median):")
            first, page = await timed(lambda: get_queue(limit=100))
            line("first page, province-wide, limit 100  [TARGET]", first, ref, f"{len(page['items'])} items")
            ok = first < QUEUE_TARGET_SECONDS
            maker = make_sessionmaker(app.state.engine)
            q = DueQuery(as_of=AS_OF, tiers=tier_table(doc.vaccines), programme_start=doc.effective_from, scope=Reach())
            ranking = doc.vaccines.dose2_ranking

            async def full_ordering() -> tuple[int, Any]:
                count, middle = 0, None
                async with maker() as session:
                    async for entry in repository.stream_queue(session, q, ranking, local_date(AS_OF)):
                        count += 1
                        if count == people // 4:
                            middle = entry
                return count, middle

            full, (queued, middle) = await timed(full_ordering, repeats=1)
            line("full ordering, streamed to Python (cursor)", full, ref, f"{queued:,} people in the queue")

            async def full_ordering_in_sql() -> int:
                from sqlalchemy import func, select

                ordered = repository._ordered(repository._queue(q, ranking, local_date(AS_OF), None, None))
                async with maker() as session:
                    return int(
                        (await session.execute(select(func.count()).select_from(ordered.subquery()))).scalar_one()
                    )

            in_sql, _ = await timed(full_ordering_in_sql, repeats=1)
            line("full ordering, sorted and counted in SQL", in_sql, ref)
            if middle is not None:
                from safework_common.cursor import encode_cursor
                from safework_scheduler.vaccines.rules import queue_key

                cursor = encode_cursor(queue_key(middle, ranking))
                deep, _ = await timed(lambda: get_queue(limit=100, cursor=cursor))
                line("page from the middle (keyset cursor)", deep, ref)
            district, _ = await timed(lambda: get_queue(limit=100, district=DISTRICTS[1]))
            line("first page, one district", district, ref)
            eid = str(province.enterprises[0][0])
            one, _ = await timed(lambda: get_queue(limit=100, enterprise_id=eid))
            line("first page, one enterprise", one, ref)

            print("plan:")

            async def read_demand() -> list[Any]:
                async with maker() as session:
                    return await repository.demand(session, q)

            read, rows = await timed(read_demand)
            line("grouped counts (SQL)", read, ref, f"{len(rows):,} buckets")
            demand = with_dose1_product(rows, 21, 2)
            start = local_date(AS_OF)
            window = PlanWindow(
                start=start,
                end=default_end(start, doc.vaccines.deadlines),
                ranking=ranking,
                deadlines=dict(doc.vaccines.deadlines),
                tiers=tuple(t.tier for t in doc.vaccines.tiers),
            )
            needed = sum(r.people for r in demand)

            async def one_simulation() -> Any:
                return simulate(demand, TotalCapacity(max(1, needed // 30)), window)

            sim_s, sim = await timed(one_simulation)
            line("one simulation (total capacity)", sim_s, ref, f"{sim.doses_given:,} doses given")
            per_district = {d: max(1, needed // 300) for d in DISTRICTS}

            async def district_simulation() -> Any:
                return simulate(demand, DistrictCapacity(per_district), window)

            dsim_s, _ = await timed(district_simulation)
            line("one simulation (per-district capacity)", dsim_s, ref)

            async def search() -> int | None:
                return minimal_total_capacity(demand, window)

            search_s, minimal = await timed(search)
            line("minimal-capacity search (bisection)", search_s, ref, f"minimal {minimal}/day")

            async def post_plan(capacity: int | dict[str, int]) -> dict[str, Any]:
                r = await client.post(
                    "/v1/vaccines/plan",
                    # Pfizer for new dose 1s: with the default (the most used, AstraZeneca, 8 weeks)
                    # a dose 1 after 5 Sep cannot make 31 Oct and the answer is "unreachable".
                    json={"as_of": AS_OF.isoformat(), "daily_capacity": capacity, "product_code": "PFIZER"},
                    headers=headers(),
                )
                assert r.status_code == 200, r.text
                body: dict[str, Any] = r.json()
                return body

            whole, body = await timed(lambda: post_plan(max(1, needed // 30)))
            line("POST /v1/vaccines/plan, total capacity", whole, ref, f"minimal {body['minimal_capacity']['total']}")
            whole_d, body_d = await timed(lambda: post_plan(per_district))
            line(
                "POST /v1/vaccines/plan, per district",
                whole_d,
                ref,
                f"minimal scale {body_d['minimal_capacity']['scale_percent']}%",
            )
    print(f"peak RSS {peak_rss_mib():.0f} MiB")
    print(f"queue first page {'<' if ok else '>='} {QUEUE_TARGET_SECONDS} s: {'ok' if ok else 'TARGET MISSED'}")
    return ok


async def main_async(args: argparse.Namespace) -> int:
    from safework_cli import migrate
    from safework_cli.policy import load_policies

    admin = os.environ.get("BENCH_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
    name = f"safework_bench_vaccines_{uuid.uuid4().hex[:8]}"
    conn = await asyncpg.connect(admin)
    try:
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
    url = with_database(admin, name)
    try:
        await asyncio.to_thread(migrate.upgrade, url, "heads", configure_logger=False)
        await load_policies(url)
        ok = await run(url, args.people or (20_000 if args.quick else 1_000_000))
    finally:
        if args.keep:
            print(f"kept {url}")
        else:
            conn = await asyncpg.connect(admin)
            try:
                await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            finally:
                await conn.close()
    return 0 if ok else 1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.bench_vaccines", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="20,000 people: a seconds-long smoke run")
    parser.add_argument("--people", type=int, default=0, help="people to load (default 1,000,000)")
    parser.add_argument("--keep", action="store_true", help="keep the scratch database")
    return asyncio.run(main_async(parser.parse_args(argv)))


if __name__ == "__main__":
    sys.exit(main())
