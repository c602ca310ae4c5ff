"""Load a synthetic province with COPY: the plan in this process, the people in worker processes.

Each worker generates a chunk of enterprises (Python, CPU-bound: names, national-ID HMAC and
AES-GCM, UUIDs, 30 days of records) and COPYs it on its own connection in one transaction, so
one process's generation overlaps another's COPY. Chunks and keys do not depend on the number
of workers: the same seed gives the same rows.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import multiprocessing.util
import os
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Final

import asyncpg

from safework_cli.seed.people import MAX_PEOPLE, TABLE_ORDER, Chunk, Context, Generator
from safework_cli.seed.plan import EnterprisePlan, ProvincePlan, build_plan
from safework_cli.seed.province import DEFAULT_AS_OF
from safework_common.settings import plain_pg_url
from safework_registry.partitions import ensure_months, ensure_partitions, months_between

# COPY column lists, as in the registry's models. Timestamps with a server default
# (created_at, updated_at) are left to the database.
COLUMNS: Final[dict[str, tuple[str, ...]]] = {
    "vaccine_product": ("code", "name", "min_interval_days", "doses_in_primary_series", "active"),
    "lab": ("id", "name", "licence_code", "active"),
    "enterprise": (
        "id",
        "tax_code",
        "name",
        "district",
        "zone_type",
        "zone_name",
        "industry",
        "headcount",
        "operating_status",
        "status_reason",
        "status_changed_at",
    ),
    "accommodation": ("id", "name", "address", "owner_name", "district", "kind", "enterprise_id"),
    "venue": ("id", "enterprise_id", "name", "kind", "qr_code", "active"),
    "person": (
        "id",
        "national_id_hash",
        "national_id_enc",
        "national_id_last4",
        "full_name",
        "date_of_birth",
        "sex",
        "phone",
        "home_province",
        "job_role",
        "enterprise_id",
        "employee_code",
        "hire_date",
        "arrived_from_province",
        "arrived_at",
        "accommodation_id",
        "high_risk",
        "high_risk_reason",
        "high_risk_until",
        "status",
        "left_at",
        "test_cohort",
    ),
    "pool": ("id", "lab_id", "pool_sample_id", "size", "collected_at", "resulted_at", "result", "received_at"),
    "test_result": (
        "id",
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
    ),
    "pool_member": ("pool_id", "person_id", "position"),
    "dose": ("id", "person_id", "dose_number", "product_code", "administered_at", "site", "lot"),
    "health_declaration": ("id", "person_id", "declared_at", "symptoms", "contact_with_confirmed_case", "note"),
    "travel": ("id", "person_id", "left_at", "destination_province", "returned_at", "returned_to_boarding_house"),
    "checkin": ("id", "person_id", "venue_id", "checked_in_at"),
    "app_installation": (
        "id",
        "device_id",
        "person_id",
        "enterprise_id",
        "app_id",
        "app_version",
        "platform",
        "first_seen_at",
        "last_sync_at",
        "revoked_at",
    ),
}
IDENTITY_TABLES: Final = ("app_installation", "pool", "test_result", "dose", "health_declaration", "travel", "checkin")
REPORT_ORDER: Final = ("vaccine_product", "lab", "enterprise", "accommodation", "venue", *TABLE_ORDER)
CHUNK_PEOPLE: Final = 20_000
PARTITIONED_BACK: Final = timedelta(days=180)  # the 2021 policies' results window (not in the source)
_SETVAL: Final = "SELECT setval(pg_get_serial_sequence('{table}', 'id'), coalesce(max(id), 0) + 1, false) FROM {table}"


class RegistryNotEmpty(Exception):
    """The registry already holds people; seeding would mix synthetic and real records."""

    def __init__(self, people: int) -> None:
        super().__init__(
            f"the registry already has {people:,} people; seed an empty registry, or pass --reset to empty "
            "every registry table first"
        )
        self.people = people


def registry_tables() -> list[str]:
    """Every registry table (never the scheduler's or the gateway's)."""
    from safework_registry.models import metadata

    return [t.name for t in metadata.sorted_tables]


def chunk_bounds(plans: Sequence[EnterprisePlan], size: int = CHUNK_PEOPLE) -> list[tuple[int, int]]:
    """Consecutive enterprises grouped to about ``size`` people (a bigger enterprise alone)."""
    bounds: list[tuple[int, int]] = []
    start = 0
    people = 0
    for k, e in enumerate(plans):
        people += e.people
        if people >= size:
            bounds.append((start, k + 1))
            start, people = k + 1, 0
    if start < len(plans):
        bounds.append((start, len(plans)))
    return bounds


async def copy_chunk(conn: Any, chunk: Chunk) -> dict[str, int]:
    """One chunk in one transaction, parents before children."""
    counts: dict[str, int] = {}
    async with conn.transaction():
        for table, rows in chunk.tables().items():
            if rows:
                await conn.copy_records_to_table(table, records=rows, columns=COLUMNS[table])
            counts[table] = len(rows)
    return counts


@dataclass
class _Worker:
    loop: asyncio.AbstractEventLoop
    conn: Any
    generator: Generator
    plans: tuple[EnterprisePlan, ...]


_worker: _Worker | None = None


def _init_worker(url: str, ctx: Context, plans: tuple[EnterprisePlan, ...], skip_fk_triggers: bool) -> None:
    global _worker
    loop = asyncio.new_event_loop()
    conn = loop.run_until_complete(_connect(url, skip_fk_triggers=skip_fk_triggers))
    _worker = _Worker(loop, conn, Generator(ctx), plans)
    multiprocessing.util.Finalize(None, _close_worker, exitpriority=10)


def _close_worker() -> None:
    if _worker is not None:
        _worker.loop.run_until_complete(_worker.conn.close())
        _worker.loop.close()


def _run_chunk(first: int, last: int) -> dict[str, int]:
    w = _worker
    assert w is not None, "worker not initialised"
    chunk = w.generator.generate(list(w.plans[first:last]))
    return w.loop.run_until_complete(copy_chunk(w.conn, chunk))


async def _connect(url: str, *, skip_fk_triggers: bool = False) -> Any:
    conn = await asyncpg.connect(plain_pg_url(url))
    # A bulk load: no need to wait for the WAL flush at each commit (a crash loses the last
    # chunks, never consistency).
    await conn.execute("SET synchronous_commit = off")
    if skip_fk_triggers:
        # As pg_restore --disable-triggers does: the rows are consistent by construction (and
        # the tests check every reference), so the per-row foreign-key checks are skipped.
        await conn.execute("SET session_replication_role = replica")
    return conn


async def can_skip_fk_triggers(conn: Any) -> bool:
    """A superuser may load without the foreign-key triggers, when every other trigger on the
    loaded tables fires even so (``ENABLE ALWAYS``: those that keep derived rows, such as
    ``person_rollup``, must not be skipped)."""
    if await conn.fetchval("SELECT current_setting('is_superuser')") != "on":
        return False
    others = await conn.fetchval(
        "SELECT count(*) FROM pg_trigger WHERE NOT tgisinternal AND tgenabled <> 'A' "
        "AND tgrelid = ANY($1::text[]::regclass[])",
        list(REPORT_ORDER),
    )
    return int(others) == 0


def default_workers() -> int:
    return max(2, min(4, os.cpu_count() or 2))


async def seed_province(
    url: str,
    *,
    people: int,
    enterprises: int,
    seed: int,
    national_id_key: bytes,
    as_of: datetime = DEFAULT_AS_OF,
    progress: bool = False,
    reset: bool = False,
    workers: int | None = None,
) -> dict[str, int]:
    """Generate a province of ``people`` people in ``enterprises`` enterprises from ``seed`` and
    load it; return the rows added per table. Refuses a registry that already has people
    unless ``reset`` (which empties every registry table first)."""
    if as_of.tzinfo is None:
        raise ValueError("as_of must carry a time zone")
    if not 1 <= enterprises <= people <= MAX_PEOPLE:
        raise ValueError(f"need 1 <= enterprises <= people <= {MAX_PEOPLE:,}")
    conn = await _connect(url)
    try:
        if reset:
            await conn.execute("TRUNCATE " + ", ".join(f'"{t}"' for t in registry_tables()) + " RESTART IDENTITY")
        else:
            existing = await conn.fetchval("SELECT count(*) FROM person")
            if existing:
                raise RegistryNotEmpty(existing)
        # The months the seeded results and check-ins fall in have their partitions (as the
        # partition job keeps them in production: the results' retention window back, two
        # months ahead); anything older lands in the default partition.
        await ensure_months(conn, months_between(as_of - PARTITIONED_BACK, as_of))
        await ensure_partitions(conn, as_of, months_ahead=2)
        id_base = {t: await conn.fetchval(f'SELECT coalesce(max(id), 0) FROM "{t}"') for t in IDENTITY_TABLES}  # noqa: S608
        plan = build_plan(
            people=people, enterprises=enterprises, seed=seed, as_of=as_of, install_base=id_base["app_installation"]
        )
        skip = await can_skip_fk_triggers(conn)
        if skip:
            await conn.execute("SET session_replication_role = replica")
        counts, ctx = await _load_reference(conn, plan, seed, as_of, national_id_key, id_base)
        bounds = chunk_bounds(plan.enterprises)
        with _Progress(progress, people) as bar:
            n_workers = default_workers() if workers is None else workers
            if n_workers <= 1 or len(bounds) == 1:
                generator = Generator(ctx)
                for first, last in bounds:
                    part = plan.enterprises[first:last]
                    _add(counts, await copy_chunk(conn, generator.generate(list(part))))
                    bar.advance(sum(e.people for e in part))
            else:
                await _run_workers(url, ctx, plan, bounds, n_workers, skip, counts, bar.advance)
        for table in IDENTITY_TABLES:  # the API's next rows continue after the seeded keys
            await conn.execute(_SETVAL.format(table=table))
        await conn.execute("ANALYZE " + ", ".join(f'"{t}"' for t in (*REPORT_ORDER, "person_rollup")))
    finally:
        await conn.close()
    return {t: counts.get(t, 0) for t in REPORT_ORDER}


async def _load_reference(
    conn: Any, plan: ProvincePlan, seed: int, as_of: datetime, key: bytes, id_base: dict[str, int]
) -> tuple[dict[str, int], Context]:
    """Vaccine products and labs (kept when already there), then the enterprise-level rows."""
    counts: dict[str, int] = {}
    products = plan.rows["vaccine_product"]
    added = await conn.fetch(
        "INSERT INTO vaccine_product (code, name, min_interval_days, doses_in_primary_series, active)"
        " SELECT * FROM unnest($1::text[], $2::text[], $3::int[], $4::int2[], $5::bool[])"
        " ON CONFLICT (code) DO NOTHING RETURNING code",
        *(list(col) for col in zip(*products, strict=True)),
    )
    counts["vaccine_product"] = len(added)
    intervals = {
        r["code"]: r["min_interval_days"]
        for r in await conn.fetch(
            "SELECT code, min_interval_days FROM vaccine_product WHERE code = ANY($1::text[])", [p[0] for p in products]
        )
    }
    lab_rows = plan.rows["lab"]
    added = await conn.fetch(
        "INSERT INTO lab (id, name, licence_code, active)"
        " SELECT * FROM unnest($1::uuid[], $2::text[], $3::text[], $4::bool[])"
        " ON CONFLICT (licence_code) DO NOTHING RETURNING id",
        *(list(col) for col in zip(*lab_rows, strict=True)),
    )
    counts["lab"] = len(added)
    by_licence = {
        r["licence_code"]: r["id"]
        for r in await conn.fetch(
            "SELECT id, licence_code FROM lab WHERE licence_code = ANY($1::text[])", [r[2] for r in lab_rows]
        )
    }
    labs = tuple((by_licence[row[2]], prefix) for row, (_, prefix) in zip(lab_rows, plan.labs, strict=True))
    for table in ("enterprise", "accommodation", "venue", "app_installation"):
        rows = plan.rows[table]
        if rows:
            await conn.copy_records_to_table(table, records=rows, columns=COLUMNS[table])
        counts[table] = len(rows)
    ctx = Context(
        seed=seed,
        as_of=as_of,
        enterprises=len(plan.enterprises),
        labs=labs,
        intervals=intervals,
        national_id_key=key,
        id_base=id_base,
    )
    return counts, ctx


async def _run_workers(
    url: str,
    ctx: Context,
    plan: ProvincePlan,
    bounds: list[tuple[int, int]],
    n_workers: int,
    skip_fk_triggers: bool,
    counts: dict[str, int],
    advance: Callable[[int], None],
) -> None:
    loop = asyncio.get_running_loop()
    executor = ProcessPoolExecutor(
        max_workers=min(n_workers, len(bounds)),
        mp_context=multiprocessing.get_context("spawn"),
        initializer=_init_worker,
        initargs=(url, ctx, plan.enterprises, skip_fk_triggers),
    )
    people = [sum(e.people for e in plan.enterprises[a:b]) for a, b in bounds]

    async def one(k: int) -> None:
        a, b = bounds[k]
        _add(counts, await loop.run_in_executor(executor, _run_chunk, a, b))
        advance(people[k])

    try:
        await asyncio.gather(*(one(k) for k in range(len(bounds))))
    except BaseException:
        executor.shutdown(wait=True, cancel_futures=True)
        raise
    executor.shutdown(wait=True)


def _add(total: dict[str, int], part: dict[str, int]) -> None:
    for table, n in part.items():
        total[table] = total.get(table, 0) + n


class _Progress:
    """A rich progress bar of people loaded (or nothing)."""

    def __init__(self, enabled: bool, total: int) -> None:
        self.enabled = enabled
        self.total = total
        self._progress: Any = None
        self._task: Any = None

    def __enter__(self) -> _Progress:
        if self.enabled:
            from rich.console import Console
            from rich.progress import (
                BarColumn,
                MofNCompleteColumn,
                Progress,
                TextColumn,
                TimeElapsedColumn,
                TimeRemainingColumn,
            )

            self._progress = Progress(
                TextColumn("[bold]seeding people"),
                BarColumn(),
                MofNCompleteColumn(),
                TimeElapsedColumn(),
                TimeRemainingColumn(),
                console=Console(stderr=True),
            )
            self._progress.start()
            self._task = self._progress.add_task("people", total=self.total)
        return self

    def advance(self, n: int) -> None:
        if self._progress is not None:
            self._progress.advance(self._task, n)

    def __exit__(self, *exc: object) -> None:
        if self._progress is not None:
            self._progress.stop()
