"""Due-test benchmark: one enterprise of 10,000 workers and a province of N people.

Creates a scratch database on the test server (``BENCH_DATABASE_URL``, default
``postgresql://postgres@127.0.0.1:5432/postgres``), migrates it, loads the policies, fills it
with COPY (a province as of 24 September 2021 with five weeks of realistic test histories,
doses, declarations, travels, pools and app installations), then measures, each beside a single
SQL scan of the same rows in the same run:

- the enterprise's due list, warm, through the scheduler app in-process (median of repeats);
- the province-wide due computation (counts and overdue by enterprise), in a fresh process so
  its peak resident memory is its own (median of runs).

The machine is shared, so beside wall time it prints CPU time (Python in every process
involved, and the PostgreSQL server processes serving the scratch database when the server runs
on this machine), peak resident memory of all processes, and the load average.

    .venv/bin/python -m bench.bench_due [--quick] [--people N] [--runs N] [--keep] [--reuse URL]

Targets (the issue): enterprise list < 100 ms warm; province of 1,000,000 < 5 s and < 1 GiB.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import random
import statistics
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

import asyncpg

from bench.support import MIB, create_scratch, drop_scratch, tree_rss

TZ = ZoneInfo("Asia/Ho_Chi_Minh")
AS_OF = datetime(2021, 9, 24, 10, 0, tzinfo=TZ)
BENCH_DAY = AS_OF.date()
HISTORY_START = datetime(2021, 8, 20, tzinfo=TZ)
ANCHOR = date(2021, 1, 4)
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
OTHER_PROVINCES = ("Hà Nội", "Bắc Ninh", "Thái Nguyên", "Lạng Sơn", "Hải Dương", "Thanh Hóa", "Nghệ An")
PRODUCTS = (("AZ", "AstraZeneca", 56, 2), ("PFIZER", "Pfizer-BioNTech", 21, 2), ("VERO", "Sinopharm", 21, 2))
SANCTIONED_APP = "vn.gov.bluezone"
BIG_ENTERPRISE_WORKERS = 10_000


def uid(rng: random.Random) -> uuid.UUID:
    return uuid.UUID(int=rng.getrandbits(128), version=4)


def at(day: date, hour: float) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=TZ) + timedelta(hours=hour)


@dataclass
class Enterprise:
    id: uuid.UUID
    district: str
    zone_type: str
    industry: str
    size: int
    round_offset: int


@dataclass
class Counts:
    enterprises: int = 0
    people: int = 0
    results: int = 0
    doses: int = 0
    declarations: int = 0
    travels: int = 0
    pools: int = 0
    installations: int = 0


def enterprise_sizes(rng: random.Random, people: int) -> list[int]:
    """The big enterprise first, then a realistic mix (seeds/001: a district with 230
    enterprises of 6,300 workers outside the clusters; parks with thousands each)."""
    sizes = [min(BIG_ENTERPRISE_WORKERS, people)]
    left = people - sizes[0]
    while left > 0:
        pick = rng.random()
        if pick < 0.12:
            n = rng.randint(3, 19)
        elif pick < 0.62:
            n = rng.randint(20, 200)
        elif pick < 0.92:
            n = rng.randint(200, 1000)
        else:
            n = rng.randint(1000, 5000)
        n = min(n, left)
        sizes.append(n)
        left -= n
    return sizes


def make_enterprises(rng: random.Random, people: int) -> list[Enterprise]:
    from safework_scheduler.due.rules import round_offset_days

    out = []
    for i, size in enumerate(enterprise_sizes(rng, people)):
        eid = uid(rng)
        if i == 0:
            zone, industry = "KCN", "other"
        else:
            zone = "KCN" if size >= 1000 and rng.random() < 0.8 else rng.choice(("KCN", "CCN", "OUTSIDE", "OUTSIDE"))
            industry = rng.choices(("garment", "shuttlecock", "other"), weights=(20, 4, 76))[0]
        out.append(Enterprise(eid, rng.choice(DISTRICTS), zone, industry, size, round_offset_days(eid, 7)))
    return out


class Generator:
    """Rows for every table, built in Python and sent with binary COPY."""

    def __init__(self, seed: int, people: int) -> None:
        self.rng = random.Random(seed)
        self.people = people
        self.labs = [uid(self.rng) for _ in range(20)]
        self.sample_no = 0
        self.pool_no = 0
        self.counts = Counts()

    def sample_id(self) -> str:
        self.sample_no += 1
        return f"S{self.sample_no:09d}"

    async def fill(self, conn: asyncpg.Connection) -> tuple[Counts, uuid.UUID]:
        rng = self.rng
        await conn.execute("SET session_replication_role = replica")  # bulk load: no FK triggers
        await conn.copy_records_to_table(
            "lab",
            records=[(lab, f"Lab {i}", f"LIC-{i:04d}", True) for i, lab in enumerate(self.labs)],
            columns=["id", "name", "licence_code", "active"],
        )
        await conn.copy_records_to_table(
            "vaccine_product",
            records=[(c, n, d, s, True) for c, n, d, s in PRODUCTS],
            columns=["code", "name", "min_interval_days", "doses_in_primary_series", "active"],
        )
        enterprises = make_enterprises(rng, self.people)
        await conn.copy_records_to_table(
            "enterprise",
            records=[
                (
                    e.id,
                    f"{1_000_000_000 + i:010d}",
                    f"Enterprise {i}",
                    e.district,
                    e.zone_type,
                    f"KCN {e.district}" if e.zone_type == "KCN" else None,
                    e.industry,
                    e.size,
                    "suspended" if i and rng.random() < 0.01 else "cleared",
                )
                for i, e in enumerate(enterprises)
            ],
            columns=[
                "id",
                "tax_code",
                "name",
                "district",
                "zone_type",
                "zone_name",
                "industry",
                "headcount",
                "operating_status",
            ],
        )
        self.counts.enterprises = len(enterprises)
        person_no = 0
        batch = _Batch()
        for e in enterprises:
            if rng.random() < 0.9:
                batch.installations.append(
                    (
                        f"ent-{e.id}",
                        None,
                        e.id,
                        SANCTIONED_APP,
                        "4.2.0",
                        "web",
                        HISTORY_START,
                        AS_OF - timedelta(hours=rng.uniform(1, 120)),
                    )
                )
            for j in range(e.size):
                person_no += 1
                self.person(e, j, person_no, batch)
                if len(batch.people) >= 50_000:
                    await batch.flush(conn, self.counts)
        await batch.flush(conn, self.counts)
        await conn.execute("SET session_replication_role = DEFAULT")
        return self.counts, enterprises[0].id

    def person(self, e: Enterprise, j: int, n: int, b: _Batch) -> None:
        rng = self.rng
        pid = uid(rng)
        cohort = j % 2
        new_hire = rng.random() < 0.02
        arrived = at(BENCH_DAY - timedelta(days=rng.randint(0, 18)), rng.uniform(6, 20)) if new_hire else None
        high_risk = rng.random() < 0.02
        left = rng.random() < 0.01
        b.people.append(
            (
                pid,
                n.to_bytes(32, "big"),
                b"\x00" * 28,
                f"{n % 10000:04d}",
                f"Worker {n}",
                date(1970 + rng.randint(0, 33), rng.randint(1, 12), rng.randint(1, 28)),
                rng.choice(("male", "female")),
                rng.choice(DISTRICTS) if not new_hire else rng.choice(OTHER_PROVINCES),
                "freight_driver" if rng.random() < 0.03 else "worker",
                e.id,
                f"E{j:06d}",
                (arrived.date() if arrived else date(2021, rng.randint(1, 8), rng.randint(1, 28))),
                rng.choice(OTHER_PROVINCES) if new_hire else None,
                arrived,
                high_risk,
                AS_OF + timedelta(days=rng.randint(-3, 10)) if high_risk else None,
                "left" if left else "active",
                AS_OF - timedelta(days=3) if left else None,
                cohort,
            )
        )
        # Doses: about three in four had dose 1 by late September 2021, one in three dose 2.
        dose1 = rng.random() < 0.75
        if dose1:
            product = rng.choice(PRODUCTS)
            d1 = at(date(2021, 7, 1) + timedelta(days=rng.randint(0, 80)), rng.uniform(7, 17))
            b.doses.append((pid, 1, product[0], d1))
            if rng.random() < 0.4 and d1 + timedelta(days=product[2]) < AS_OF:
                b.doses.append((pid, 2, product[0], d1 + timedelta(days=product[2] + rng.randint(0, 10))))
        # Test history since 20 August: every 3 days for the unvaccinated and high-risk, the
        # enterprise's rounds (every 14 days in a half, or a rotating sample) for the rest.
        results = b.results
        start = HISTORY_START
        if arrived is not None:
            if rng.random() < 0.9:
                self.result(results, pid, arrived - timedelta(hours=rng.uniform(6, 40)), "PCR")
            for day in (0, 6):
                if arrived + timedelta(days=day) < AS_OF:
                    self.result(results, pid, arrived + timedelta(days=day, hours=1), "RAPID_ANTIGEN")
            start = arrived + timedelta(days=9)
        if not dose1 or high_risk:
            t = start + timedelta(days=rng.uniform(0, 3))
            while t < AS_OF:
                if rng.random() > 0.05:
                    self.result(results, pid, t, rng.choice(("PCR", "RAPID_ANTIGEN")))
                t += timedelta(days=3, hours=rng.uniform(-6, 6))
        else:
            sampled = e.zone_type != "KCN" and (e.industry != "other" or e.size < 20)
            first = ANCHOR + timedelta(days=e.round_offset)
            k = (start.date() - first).days // 7
            while True:
                round_day = first + timedelta(days=7 * k)
                t = at(round_day, rng.uniform(7, 16))
                if t >= AS_OF:
                    break
                due = rng.random() < 0.25 if sampled else k % 2 == cohort
                if due and t >= start and rng.random() > 0.07:
                    pooled = rng.random() < 0.4
                    self.result(results, pid, t, "PCR", pooled=pooled, pools=b)
                k += 1
        # Events: symptoms, contacts, returns from other provinces, positives, positive pools.
        if rng.random() < 0.005:
            d = AS_OF - timedelta(hours=rng.uniform(1, 240))
            b.declarations.append((pid, d, ["fever", "cough"], False))
            if rng.random() < 0.6:
                self.result(results, pid, d + timedelta(hours=2), "RAPID_ANTIGEN")
                if d + timedelta(hours=30) < AS_OF:
                    self.result(results, pid, d + timedelta(hours=3), "PCR")
        if rng.random() < 0.003:
            b.declarations.append((pid, AS_OF - timedelta(hours=rng.uniform(1, 300)), [], True))
        if rng.random() < 0.025:
            returned = AS_OF - timedelta(hours=rng.uniform(1, 200))
            elsewhere = rng.random() < 0.6
            b.travels.append(
                (
                    pid,
                    returned - timedelta(days=2),
                    rng.choice(OTHER_PROVINCES) if elsewhere else "Bắc Giang",
                    returned,
                    True,
                )
            )
            if elsewhere and rng.random() < 0.7:
                self.result(results, pid, returned + timedelta(hours=rng.uniform(2, 20)), "RAPID_ANTIGEN")
        if rng.random() < 0.0002:
            self.result(results, pid, AS_OF - timedelta(days=rng.uniform(0.5, 6)), "PCR", result="POSITIVE")
        if rng.random() < 0.0004:
            self.pool_no += 1
            collected = AS_OF - timedelta(days=rng.uniform(0.5, 5))
            b.pools.append(
                (
                    self.pool_no,
                    self.labs[0],
                    f"P{self.pool_no:08d}",
                    10,
                    collected,
                    collected + timedelta(hours=8),
                    "POSITIVE",
                )
            )
            b.pool_members.append((self.pool_no, pid, 1))
            if rng.random() < 0.5:
                self.result(results, pid, collected + timedelta(hours=20), "PCR")
        if rng.random() < 0.85:
            b.installations.append(
                (
                    f"dev-{pid}",
                    pid,
                    None,
                    SANCTIONED_APP,
                    "4.2.0",
                    "android",
                    HISTORY_START,
                    AS_OF - timedelta(hours=rng.uniform(1, 200)),
                )
            )

    def result(
        self,
        out: list[tuple[Any, ...]],
        pid: uuid.UUID,
        collected: datetime,
        kind: str,
        *,
        result: str = "NEGATIVE",
        pooled: bool = False,
        pools: _Batch | None = None,
    ) -> None:
        if collected >= AS_OF:
            return
        lab = self.labs[self.sample_no % len(self.labs)]
        sample = self.sample_id()
        pool_id = None
        if pooled and pools is not None:
            pool_id = pools.pool_for(self, lab, collected)
            sample = f"{pools.open_pool_sample}#{pools.open_pool_members}"
        if self.rng.random() < 0.003:
            result = "INVALID"
        resulted = collected + timedelta(hours=0.5 if kind == "RAPID_ANTIGEN" else 8)
        out.append((pid, lab, sample, kind, collected, resulted, result, pool_id is not None, pool_id, resulted))


class _Batch:
    def __init__(self) -> None:
        self.people: list[tuple[Any, ...]] = []
        self.doses: list[tuple[Any, ...]] = []
        self.results: list[tuple[Any, ...]] = []
        self.declarations: list[tuple[Any, ...]] = []
        self.travels: list[tuple[Any, ...]] = []
        self.pools: list[tuple[Any, ...]] = []
        self.pool_members: list[tuple[Any, ...]] = []
        self.installations: list[tuple[Any, ...]] = []
        self.open_pool: list[Any] | None = None
        self.open_pool_sample = ""
        self.open_pool_members = 0

    def pool_for(self, g: Generator, lab: uuid.UUID, collected: datetime) -> int:
        """Negative pools of up to 10 consecutive pooled samples (seeds/001: pools of 10 and 20)."""
        if self.open_pool is None or self.open_pool_members >= 10:
            self.close_pool()
            g.pool_no += 1
            self.open_pool_sample = f"P{g.pool_no:08d}"
            self.open_pool_members = 0
            self.open_pool = [
                g.pool_no,
                lab,
                self.open_pool_sample,
                0,
                collected,
                collected + timedelta(hours=8),
                "NEGATIVE",
            ]
        self.open_pool_members += 1
        self.open_pool[3] = self.open_pool_members
        return int(self.open_pool[0])

    def close_pool(self) -> None:
        if self.open_pool is not None:
            self.pools.append(tuple(self.open_pool))
            self.open_pool = None

    async def flush(self, conn: asyncpg.Connection, counts: Counts) -> None:
        self.close_pool()
        tables: Sequence[tuple[str, list[tuple[Any, ...]], list[str]]] = (
            (
                "person",
                self.people,
                [
                    "id",
                    "national_id_hash",
                    "national_id_enc",
                    "national_id_last4",
                    "full_name",
                    "date_of_birth",
                    "sex",
                    "home_province",
                    "job_role",
                    "enterprise_id",
                    "employee_code",
                    "hire_date",
                    "arrived_from_province",
                    "arrived_at",
                    "high_risk",
                    "high_risk_until",
                    "status",
                    "left_at",
                    "test_cohort",
                ],
            ),
            ("dose", self.doses, ["person_id", "dose_number", "product_code", "administered_at"]),
            ("pool", self.pools, ["id", "lab_id", "pool_sample_id", "size", "collected_at", "resulted_at", "result"]),
            ("pool_member", self.pool_members, ["pool_id", "person_id", "position"]),
            (
                "test_result",
                self.results,
                [
                    "person_id",
                    "lab_id",
                    "sample_id",
                    "kind",
                    "collected_at",
                    "resulted_at",
                    "result",
                    "pooled",
                    "pool_id",
                    "received_at",
                ],
            ),
            (
                "health_declaration",
                self.declarations,
                ["person_id", "declared_at", "symptoms", "contact_with_confirmed_case"],
            ),
            (
                "travel",
                self.travels,
                ["person_id", "left_at", "destination_province", "returned_at", "returned_to_boarding_house"],
            ),
            (
                "app_installation",
                self.installations,
                [
                    "device_id",
                    "person_id",
                    "enterprise_id",
                    "app_id",
                    "app_version",
                    "platform",
                    "first_seen_at",
                    "last_sync_at",
                ],
            ),
        )
        for table, rows, columns in tables:
            if rows:
                await conn.copy_records_to_table(table, records=rows, columns=columns)
        counts.people += len(self.people)
        counts.results += len(self.results)
        counts.doses += len(self.doses)
        counts.declarations += len(self.declarations)
        counts.travels += len(self.travels)
        counts.pools += len(self.pools)
        counts.installations += len(self.installations)
        for rows in (
            self.people,
            self.doses,
            self.pools,
            self.pool_members,
            self.results,
            self.declarations,
            self.travels,
            self.installations,
        ):
            rows.clear()


async def load(url: str, people: int, seed: int) -> uuid.UUID:
    """Migrate, load the policies and fill the scratch database; return the big enterprise."""
    from safework_cli import migrate
    from safework_cli.policy import load_policies

    await asyncio.to_thread(migrate.upgrade, url, "heads", configure_logger=False)
    await load_policies(url)
    conn = await asyncpg.connect(url)
    try:
        started = time.perf_counter()
        # Results and check-ins are partitioned by month: the months of the history exist, as the
        # partition job keeps them in production (the results' window back, two months ahead).
        from safework_registry.partitions import ensure_months, ensure_partitions, months_between

        await ensure_months(conn, months_between(AS_OF - timedelta(days=180), AS_OF))
        await ensure_partitions(conn, AS_OF, months_ahead=2)
        # Bulk load as usual: secondary indexes are built once after the COPY, then analysed
        # (a partitioned table's index: dropped and made on the parent, for every partition).
        indexes = await conn.fetch(
            "SELECT indexname, indexdef FROM pg_indexes i WHERE schemaname = 'public' AND NOT EXISTS"
            " (SELECT 1 FROM pg_constraint c WHERE c.conname = i.indexname) AND NOT EXISTS"
            " (SELECT 1 FROM pg_inherits h JOIN pg_class p ON p.oid = h.inhrelid WHERE p.relname = i.tablename)"
        )
        for row in indexes:
            await conn.execute(f'DROP INDEX "{row["indexname"]}"')
        counts, big = await Generator(seed, people).fill(conn)
        await conn.execute(
            "SELECT setval(pg_get_serial_sequence('pool', 'id'), (SELECT coalesce(max(id), 1) FROM pool))"
        )
        for row in indexes:
            # A partitioned table's index reads back as "ON ONLY <table>" (the parent alone):
            # made again on the whole table, it is made on every partition.
            await conn.execute(row["indexdef"].replace(" ON ONLY ", " ON ", 1))
        await conn.execute("VACUUM ANALYZE")
        print(
            f"data: {counts.enterprises:,} enterprises, {counts.people:,} people, {counts.results:,} results, "
            f"{counts.doses:,} doses, {counts.pools:,} pools, {counts.declarations:,} declarations, "
            f"{counts.travels:,} travels, {counts.installations:,} devices ({time.perf_counter() - started:.1f} s)"
        )
    finally:
        await conn.close()
    return big


# -- measurements ----------------------------------------------------------------------------


def _app(url: str) -> tuple[Any, Any]:
    """The scheduler app on the scratch database, and a minter for its internal tokens."""
    from pydantic import SecretStr

    from safework_common.internal_auth import InternalTokenMinter, generate_keypair
    from safework_scheduler.app import create_app
    from safework_scheduler.settings import SchedulerSettings

    private, public = generate_keypair()
    settings = SchedulerSettings(
        database_url=url, environment="test", internal_token_public_key=SecretStr(public.decode())
    )
    return create_app(settings, configure_logs=False), InternalTokenMinter(private)


def _horizon() -> datetime:
    from safework_scheduler.policy.files import read_versions

    policy = max((d for d in read_versions() if d.effective_from <= AS_OF.date()), key=lambda d: d.effective_from)
    return AS_OF - timedelta(days=policy.testing.history_days)


def loadavg() -> str:
    one, five, fifteen = os.getloadavg()
    return f"{one:.2f} {five:.2f} {fifteen:.2f}"


def peak_rss_mib() -> float:
    """This process's peak resident memory. Linux's VmHWM starts afresh at exec (ru_maxrss would
    carry the parent's high-water mark into a child)."""
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


class Meter:
    """CPU and memory of one measured stretch, wall clock aside (the machine is shared, so wall
    time says as much about the neighbours as about us):

    - Python: this process, plus every process it started (the scheduler's workers, and the
      server process they are forked from, which reaps them: their CPU is in its children's
      times); the meter's own sampling thread is left out;
    - PostgreSQL: the server processes serving the scratch database (their /proc times; with
      ``sample``, read every ``interval`` seconds, so a process that ends loses at most its last
      interval; n/a when the server is not on this machine);
    - memory (with ``sample``): the peak of the summed resident memory of this process and its
      descendants (shared pages counted in each process: an upper bound).
    """

    def __init__(self, database: str, postmaster: int | None, *, sample: bool, interval: float = 0.1) -> None:
        import psutil

        self._psutil = psutil
        self.database = database
        self.postmaster = psutil.Process(postmaster) if postmaster else None
        self.sample = sample
        self.interval = interval
        self.me = psutil.Process()
        self._server: dict[int, tuple[Any, float, float]] = {}  # pid -> (process, cpu when first seen, last seen)
        self._known: set[int] = set()
        self.peak_rss = 0.0
        self.sampler_cpu = 0.0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @staticmethod
    def _cpu(times: Any, children: bool = True) -> float:
        total = float(times.user + times.system)
        if children:
            total += float(getattr(times, "children_user", 0.0) + getattr(times, "children_system", 0.0))
        return total

    def _ours(self) -> float:
        """Cumulative CPU of this process and its descendants (with the children they reaped)."""
        total = self._cpu(self.me.cpu_times(), children=False)
        for child in self.me.children(recursive=True):
            with contextlib.suppress(self._psutil.Error):
                total += self._cpu(child.cpu_times())
        return total

    def _discover(self, started: bool) -> None:
        if self.postmaster is None:
            return
        ours = set(self._server)
        for proc in self.postmaster.children():
            if proc.pid in self._known:
                continue
            self._known.add(proc.pid)
            with contextlib.suppress(self._psutil.Error):
                cmd = " ".join(proc.cmdline())
                leader = cmd.rsplit("parallel worker for PID ", 1)
                if f" {self.database} " in cmd or (len(leader) == 2 and int(leader[1].split()[0]) in ours):
                    cpu = self._cpu(proc.cpu_times(), children=False)
                    self._server[proc.pid] = (proc, 0.0 if started else cpu, cpu)

    def _read_server(self) -> None:
        for pid, (proc, first, _) in list(self._server.items()):
            with contextlib.suppress(self._psutil.Error):
                self._server[pid] = (proc, first, self._cpu(proc.cpu_times(), children=False))

    def _read_memory(self) -> None:
        self.peak_rss = max(self.peak_rss, tree_rss(self.me.pid) / MIB)

    def _run(self) -> None:
        started = time.thread_time()
        n = 0
        while not self._stop.wait(self.interval):
            if n % 3 == 0:
                self._discover(started=True)
            self._read_server()
            self._read_memory()
            n += 1
        self.sampler_cpu = time.thread_time() - started

    def __enter__(self) -> Meter:
        self._discover(started=False)
        self.python_start = self._ours() if self.sample else time.process_time()
        self.wall_start = time.perf_counter()
        if self.sample:
            self._read_memory()
            self._thread = threading.Thread(target=self._run, daemon=True)
            self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.wall = time.perf_counter() - self.wall_start
        if not self.sample:
            self.python = time.process_time() - self.python_start
            self._read_server()
            return
        time.sleep(2 * self.interval)  # let finished workers be reaped; catch the backends' last samples
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        self._discover(started=True)
        self._read_server()
        self._read_memory()
        self.python = self._ours() - self.python_start - self.sampler_cpu

    @property
    def server(self) -> float | None:
        if self.postmaster is None:
            return None
        return sum(last - first for _, first, last in self._server.values())


async def _server_of(url: str) -> tuple[str, int | None]:
    """The scratch database's name, and the pid of the PostgreSQL server process when it runs on
    this machine and its processes can be read (else None: no server CPU)."""
    import psutil

    host = urlsplit(url).hostname or "localhost"
    conn = await asyncpg.connect(url)
    try:
        database: str = await conn.fetchval("SELECT current_database()")
        if host not in ("127.0.0.1", "localhost", "::1"):
            return database, None
        try:
            return database, psutil.Process(await conn.fetchval("SELECT pg_backend_pid()")).ppid()
        except psutil.Error:
            return database, None
    finally:
        await conn.close()


async def _scan(url: str, sql: str, *args: Any, serial: bool = False) -> tuple[float, float | None]:
    """The reference: one statement scanning the same rows (parallel workers allowed); its wall
    time, and the server CPU of its backend when ``serial`` (parallel workers off, so the
    backend does all the work and its CPU is exact)."""
    conn = await asyncpg.connect(url, server_settings={"jit": "off"})
    try:
        if serial:
            await conn.execute("SET max_parallel_workers_per_gather = 0")
        pid = await conn.fetchval("SELECT pg_backend_pid()")
        before = _proc_cpu(pid)
        started = time.perf_counter()
        await conn.fetchrow(sql, *args)
        wall = time.perf_counter() - started
        after = _proc_cpu(pid)
        return wall, (after - before if before is not None and after is not None else None)
    finally:
        await conn.close()


def _proc_cpu(pid: int) -> float | None:
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError):
        return None


async def measure_enterprise(url: str, enterprise_id: uuid.UUID, repeats: int) -> dict[str, Any]:
    """The enterprise's due list through the app in-process, warm: medians of ``repeats``, each
    beside the reference scan."""
    import httpx

    from safework_common.internal_auth import INTERNAL_HEADER, Caller
    from safework_scheduler.due.repository import ENTERPRISE_SCAN

    database, postmaster = await _server_of(url)
    app, minter = _app(url)
    caller = Caller(subject="bench", role="enterprise", enterprise_id=str(enterprise_id))
    path = f"/v1/enterprises/{enterprise_id}/due"
    walls: list[float] = []
    pythons: list[float] = []
    servers: list[float] = []
    scans: list[float] = []
    scan_cpus: list[float] = []
    load_start = loadavg()
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://bench") as client:
            for i in range(repeats + 3):
                headers = {INTERNAL_HEADER: minter.mint(caller)}
                meter = Meter(database, postmaster, sample=False)
                with meter:
                    r = await client.get(path, params={"date": BENCH_DAY.isoformat()}, headers=headers)
                r.raise_for_status()
                args = ENTERPRISE_SCAN.args(as_of=AS_OF, since=_horizon(), enterprise_id=enterprise_id)
                scan, _ = await _scan(url, ENTERPRISE_SCAN.sql, *args)
                _, scan_cpu = await _scan(url, ENTERPRISE_SCAN.sql, *args, serial=True)
                if i >= 3:  # warm-up first
                    walls.append(meter.wall)
                    pythons.append(meter.python)
                    if meter.server is not None:
                        servers.append(meter.server)
                    scans.append(scan)
                    if scan_cpu is not None:
                        scan_cpus.append(scan_cpu)
            body = r.json()
    return {
        "median": statistics.median(walls),
        "min": min(walls),
        "python": statistics.median(pythons),
        "server": statistics.median(servers) if servers else None,
        "scan": statistics.median(scans),
        "scan_cpu": statistics.median(scan_cpus) if scan_cpus else None,
        "people": body["counts"]["people"],
        "listed": len(body["people"]),
        "bytes": len(r.content),
        "load": (load_start, loadavg()),
    }


async def measure_province(url: str, runs: int) -> dict[str, Any]:
    """The province-wide due computation through the app in-process (GET /v1/due), each run
    beside a single SQL scan of the same rows; CPU and peak memory of every process involved."""
    import httpx

    from safework_common.internal_auth import INTERNAL_HEADER, Caller
    from safework_scheduler.due.bulk import workers_for
    from safework_scheduler.due.repository import PROVINCE_SCAN

    database, postmaster = await _server_of(url)
    app, minter = _app(url)
    caller = Caller(subject="bench", role="authority")
    baseline = peak_rss_mib()
    runs_out: list[dict[str, Any]] = []
    load_start = loadavg()
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://bench", timeout=600) as client:
            for _ in range(runs):
                args = PROVINCE_SCAN.args(as_of=AS_OF, since=_horizon())
                scan, _ = await _scan(url, PROVINCE_SCAN.sql, *args)
                _, scan_cpu = await _scan(url, PROVINCE_SCAN.sql, *args, serial=True)
                headers = {INTERNAL_HEADER: minter.mint(caller)}
                meter = Meter(database, postmaster, sample=True)
                with meter:
                    r = await client.get("/v1/due", params={"as_of": AS_OF.isoformat()}, headers=headers)
                r.raise_for_status()
                runs_out.append(
                    {
                        "wall": meter.wall,
                        "python": meter.python,
                        "server": meter.server,
                        "rss": meter.peak_rss,
                        "scan": scan,
                        "scan_cpu": scan_cpu,
                        "load": loadavg(),
                    }
                )
    body = r.json()
    totals = body["totals"]
    return {
        "runs": runs_out,
        "people": totals["people"],
        "due": totals["due"],
        "overdue": totals["overdue"],
        "not_cleared": totals["not_cleared"],
        "enterprises": len(body["enterprises"]),
        "workers": workers_for(totals["people"]),
        "peak_rss_mb": max(peak_rss_mib(), max(r["rss"] for r in runs_out)),
        "main_rss_mb": peak_rss_mib(),
        "baseline_rss_mb": baseline,
        "load_start": load_start,
    }


def _ms(seconds: float | None) -> str:
    return "n/a" if seconds is None else f"{seconds * 1000:.0f} ms"


def _s(seconds: float | None) -> str:
    return "n/a" if seconds is None else f"{seconds:.2f} s"


def report(enterprise: dict[str, Any], province: dict[str, Any], people: int) -> None:
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    ms = enterprise["median"] * 1000
    scan_ms = enterprise["scan"] * 1000
    print(
        f"enterprise due list ({enterprise['people']:,} active workers, {enterprise['listed']:,} listed, "
        f"{enterprise['bytes'] / 1024:.0f} KiB), warm median: {ms:.1f} ms (min {enterprise['min'] * 1000:.1f}); "
        f"CPU per request: Python {_ms(enterprise['python'])}, PostgreSQL {_ms(enterprise['server'])} | "
        f"single SQL scan of the same rows: {scan_ms:.1f} ms (CPU {_ms(enterprise['scan_cpu'])}) | "
        f"ratio {ms / scan_ms:.1f}x | target < 100 ms: {'met' if ms < 100 else 'NOT met'} | "
        f"load average {enterprise['load'][0]} -> {enterprise['load'][1]} on {cpus} CPUs"
    )
    runs = province["runs"]
    walls = [r["wall"] for r in runs]
    wall = statistics.median(walls)
    scan = statistics.median(r["scan"] for r in runs)
    servers = [r["server"] for r in runs if r["server"] is not None]
    scan_cpus = [r["scan_cpu"] for r in runs if r["scan_cpu"] is not None]
    rss = province["peak_rss_mb"]
    print(
        f"province due computation ({province['people']:,} active people in {province['enterprises']:,} "
        f"enterprises; {province['due']:,} due today, {province['overdue']:,} overdue, "
        f"{province['not_cleared']:,} not cleared; {province['workers']} worker process(es)): "
        f"runs {', '.join(f'{t:.2f}' for t in walls)} s, median {wall:.2f} s (best {min(walls):.2f}); "
        f"CPU per run (median): Python {_s(statistics.median(r['python'] for r in runs))}, "
        f"PostgreSQL {_s(statistics.median(servers) if servers else None)} | "
        f"single SQL scan of the same rows: {scan:.2f} s "
        f"(CPU {_s(statistics.median(scan_cpus) if scan_cpus else None)})"
        f" | ratio {wall / scan:.1f}x | peak RSS {rss:.0f} MiB, all processes (this one "
        f"{province['main_rss_mb']:.0f} MiB, of which interpreter and imports {province['baseline_rss_mb']:.0f}) | "
        f"targets < 5 s: {'met' if wall < 5 else 'NOT met'}, < 1 GiB: {'met' if rss < 1024 else 'NOT met'} | "
        f"load average {province['load_start']} -> {runs[-1]['load']} on {cpus} CPUs"
        + ("" if people >= 1_000_000 else f" (targets are for 1,000,000 people; this run has {people:,})")
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="20,000 people instead of 1,000,000")
    parser.add_argument("--people", type=int, default=None)
    parser.add_argument("--seed", type=int, default=2021)
    parser.add_argument("--repeats", type=int, default=15, help="warm runs of the enterprise list")
    parser.add_argument("--runs", type=int, default=None, help="runs of the province computation (default 3; 1 quick)")
    parser.add_argument("--keep", action="store_true", help="keep the scratch database (prints its URL)")
    parser.add_argument("--reuse", default=None, help="measure an existing scratch database")
    parser.add_argument("--measure-province", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    people = args.people or (20_000 if args.quick else 1_000_000)
    runs = args.runs or (1 if args.quick else 3)
    repeats = min(args.repeats, 5) if args.quick else args.repeats
    admin = os.environ.get("BENCH_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/postgres")

    if args.measure_province:  # the child process: its peak RSS is the computation's own
        print(json.dumps(asyncio.run(measure_province(args.measure_province, runs))))
        return 0

    async def run() -> int:
        url = args.reuse or await create_scratch(admin, "due")
        try:
            if args.reuse:
                conn = await asyncpg.connect(url)
                big = await conn.fetchval(
                    "SELECT enterprise_id FROM person GROUP BY enterprise_id ORDER BY count(*) DESC LIMIT 1"
                )
                people_n = await conn.fetchval("SELECT count(*) FROM person")
                await conn.close()
            else:
                big = await load(url, people, args.seed)
                people_n = people
            child = await asyncio.to_thread(
                subprocess.run,
                [sys.executable, "-m", "bench.bench_due", "--measure-province", url, "--runs", str(runs)],
                capture_output=True,
                text=True,
                check=True,
            )
            province = json.loads(child.stdout.strip().splitlines()[-1])
            enterprise = await measure_enterprise(url, big, repeats)
            report(enterprise, province, people_n)
            if args.keep:
                print(f"kept: {url}")
        finally:
            if not args.keep and not args.reuse:
                await drop_scratch(admin, url)
        return 0

    return asyncio.run(run())


if __name__ == "__main__":
    sys.exit(main())
