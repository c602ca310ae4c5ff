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

SEEDED_TABLES: Final = (
    "vaccine_product",
    "lab",
    "enterprise",
    "accommodation",
    "venue",
    "person",
    "pool",
    "test_result",
    "pool_member",
    "dose",
    "health_declaration",
    "travel",
    "checkin",
    "app_installation",
)
# Columns the seed leaves to their defaults: the server timestamps everywhere, and these.
DEFAULTED: Final[dict[str, frozenset[str]]] = {
    "enterprise": frozenset({"latitude", "longitude"}),
    "accommodation": frozenset({"concentrated"}),
    "travel": frozenset({"to_home_town"}),
}
_SERVER_TIMESTAMPS: Final = frozenset({"created_at", "updated_at"})


def copy_columns(table: str) -> tuple[str, ...]:
    """The COPY column list of a seeded table: the registry model's columns in table order
    (the generators build rows in that order), less those left to their defaults."""
    from safework_registry.models import metadata

    skip = _SERVER_TIMESTAMPS | DEFAULTED.get(table, frozenset())
    return tuple(c.name for c in metadata.tables[table].columns if c.name not in skip)


COLUMNS: Final[dict[str, tuple[str, ...]]] = {table: copy_columns(table) for table in SEEDED_TABLES}
IDENTITY_TABLES: Final = ("app_installation", "pool", "test_result", "dose", "health_declaration", "travel", "checkin")
REPORT_ORDER: Final = ("vaccine_product", "lab", "enterprise", "accommodation", "venue", *TABLE_ORDER)
CHUNK_PEOPLE: Final = 20_000
DEFAULT_CHECKIN_DAYS: Final = 30
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
    checkin_days: int = DEFAULT_CHECKIN_DAYS,
) -> dict[str, int]:
    """Generate a province of ``people`` people in ``enterprises`` enterprises from ``seed`` and
    load it; return the rows added per table. Every worker's QR check-ins cover the window's
    last ``checkin_days`` days (0 to 30; they are ~90% of the rows at 30). Refuses a registry
    that already has people unless ``reset`` (which empties every registry table first)."""
    if as_of.tzinfo is None:
        raise ValueError("as_of must carry a time zone")
    if not 0 <= checkin_days <= 30:
        raise ValueError("checkin_days must be 0 to 30")
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
        counts, ctx = await _load_reference(conn, plan, seed, as_of, national_id_key, id_base, checkin_days)
        bounds = chunk_bounds(plan.enterprises)
        dropped = await drop_indexes_of_empty(conn, REBUILT_INDEXES) if checkin_days else []
        try:
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
        finally:  # even when the load failed: never leave a table without its indexes
            await build_indexes(conn, dropped)
        for table in IDENTITY_TABLES:  # the API's next rows continue after the seeded keys
            await conn.execute(_SETVAL.format(table=table))
        await conn.execute("ANALYZE " + ", ".join(f'"{t}"' for t in (*REPORT_ORDER, "person_rollup")))
    finally:
        await conn.close()
    return {t: counts.get(t, 0) for t in REPORT_ORDER}


# Tables whose indexes (besides the primary key) are dropped while a load fills them from empty,
# then built once (one sorted build is ~6x faster than tens of millions of scattered inserts,
# and gives denser indexes). The check-ins are ~90% of a province's rows.
REBUILT_INDEXES: Final = ("checkin",)
INDEX_BUILD_MEMORY: Final = "512MB"


def _ddl(element: Any) -> str:
    from sqlalchemy.dialects import postgresql

    return str(element.compile(dialect=postgresql.dialect()))  # type: ignore[no-untyped-call]


async def drop_indexes_of_empty(conn: Any, tables: Sequence[str]) -> list[Any]:
    """Drop the model's indexes of each of ``tables`` that is empty; return them (to build)."""
    from sqlalchemy import exists, select
    from sqlalchemy.schema import DropIndex

    from safework_registry.models import metadata

    dropped: list[Any] = []
    for name in tables:
        table = metadata.tables[name]
        if await conn.fetchval(_ddl(select(exists().select_from(table)))):
            continue
        for index in sorted(table.indexes, key=lambda i: str(i.name)):
            await conn.execute(_ddl(DropIndex(index, if_exists=True)))
            dropped.append(index)
    return dropped


async def build_indexes(conn: Any, indexes: Sequence[Any]) -> None:
    """Build ``indexes`` (from the model, so as the migrations made them) with more sort memory."""
    from sqlalchemy.schema import CreateIndex

    if not indexes:
        return
    await conn.execute("SELECT set_config('maintenance_work_mem', $1, false)", INDEX_BUILD_MEMORY)
    for index in indexes:
        await conn.execute(_ddl(CreateIndex(index, if_not_exists=True)))
    await conn.execute("RESET maintenance_work_mem")


async def _load_reference(
    conn: Any,
    plan: ProvincePlan,
    seed: int,
    as_of: datetime,
    key: bytes,
    id_base: dict[str, int],
    checkin_days: int,
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
        checkin_days=checkin_days,
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
