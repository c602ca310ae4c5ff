"""Monthly partitions of the tables that grow with every test and every gate scan.

``test_result`` (by ``collected_at``) and ``checkin`` (by ``checked_in_at``) are declaratively
range-partitioned by month (migration ``registry_0011``). A month runs from the 1st at 00:00 in
the province's time zone (Asia/Ho_Chi_Minh) to the next 1st; its partition is named
``<table>_yYYYYmMM``. Each table also has a default partition, ``<table>_default``, so no insert
ever fails for a month without a partition; the job below keeps it empty by creating months
ahead.

Two plain functions, each taking an asyncpg connection, for the CLI (``safework partitions``), the
retention run and a scheduled loop:

- ``ensure_partitions(conn, as_of, months_ahead)``: the month of ``as_of`` and the
  ``months_ahead`` after it exist for each table. A month whose rows already sit in the default
  partition (inserted before its partition existed) is created by detaching the default, creating
  the month, moving those rows into it and attaching the default again, in one transaction.
- ``drop_partitions_before(conn, cutoff)``: every monthly partition whose whole month ends at or
  before ``cutoff`` is dropped (``DROP TABLE``: no per-row work, no dead rows to vacuum). What a
  per-row ``DELETE`` would have done besides is done set-based: an outbreak case naming a dropped
  result forgets the ID (the foreign key's ``SET NULL (result_id)``), and the people whose latest
  result or positive was in a dropped month have their ``person_rollup`` row recomputed, and
  the month's idempotency keys leave ``test_result_sample`` (the delete triggers do not fire for
  a dropped partition).

Both take ``ACCESS EXCLUSIVE`` locks on the parent table for the DDL (a moment when nothing is in
the default partition); they run in the caller's transaction if one is open, else in their own.
Every name in the DDL below is built from the fixed ``PARTITIONED`` table and a calendar month,
never from a caller's value (DDL takes no bind parameters).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, Final

from safework_common.timezone import local_date, start_of_local_day

# Table -> its partition key (a timestamptz column).
PARTITIONED: Final = {"test_result": "collected_at", "checkin": "checked_in_at"}
_MONTHLY: Final = re.compile(r"^(?P<table>[a-z_]+)_y(?P<year>\d{4})m(?P<month>\d{2})$")

_PARTITIONS = """
SELECT c.relname AS name
FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
WHERE i.inhparent = $1::regclass
"""
_ANY_IN_DEFAULT = "SELECT EXISTS (SELECT 1 FROM {default} WHERE {key} >= $1 AND {key} < $2)"
_COUNT = "SELECT count(*) FROM {name}"
# An outbreak case made from a result about to go keeps its own copy of the collection time.
_FORGET_CASE_RESULTS = (
    "UPDATE outbreak_case SET result_id = NULL WHERE result_id IS NOT NULL AND collected_at >= $1 AND collected_at < $2"
)
# The lab's idempotency keys of the month's results (``test_result_sample``, unpartitioned: a
# narrow per-row delete by its ``collected_at`` index, the one per-row cost of a dropped month).
_FORGET_SAMPLES = "DELETE FROM test_result_sample WHERE collected_at >= $1 AND collected_at < $2"
# The people whose latest result or latest positive was collected before ``$1`` (all of them in
# dropped months, or in the default partition, which is re-read).
_REFRESH_ROLLUP = """
SELECT person_rollup_refresh(array(
    SELECT person_id FROM person_rollup WHERE last_result_at < $1 OR last_positive_at < $1
))
"""


@dataclass(frozen=True, order=True)
class Month:
    year: int
    month: int

    @classmethod
    def of(cls, instant: datetime) -> Month:
        d = local_date(instant)
        return cls(d.year, d.month)

    def next(self) -> Month:
        return Month(self.year + 1, 1) if self.month == 12 else Month(self.year, self.month + 1)

    @property
    def start(self) -> datetime:
        """The 1st at 00:00, province time."""
        return start_of_local_day(date(self.year, self.month, 1))

    @property
    def end(self) -> datetime:
        return self.next().start

    def partition(self, table: str) -> str:
        return f"{table}_y{self.year:04d}m{self.month:02d}"


def default_partition(table: str) -> str:
    return f"{table}_default"


def is_partition(name: str) -> bool:
    """Whether ``name`` is a partition's (monthly or default) of a partitioned table."""
    found = _MONTHLY.match(name)
    if found:
        return found["table"] in PARTITIONED
    return any(name == default_partition(t) for t in PARTITIONED)


def months_between(first: datetime, last: datetime) -> list[Month]:
    """The months from ``first``'s to ``last``'s, both included."""
    out: list[Month] = []
    m, end = Month.of(first), Month.of(last)
    while m <= end:
        out.append(m)
        m = m.next()
    return out


def _literal(instant: datetime) -> str:
    return "'" + instant.isoformat() + "'"


def _table(table: str) -> str:
    if table not in PARTITIONED:
        raise ValueError(f"{table!r} is not a partitioned table")
    return table


async def monthly_partitions(conn: Any, table: str) -> dict[Month, str]:
    """The monthly partitions ``table`` has now."""
    out: dict[Month, str] = {}
    for row in await conn.fetch(_PARTITIONS, _table(table)):
        found = _MONTHLY.match(row["name"])
        if found and found["table"] == table:
            out[Month(int(found["year"]), int(found["month"]))] = row["name"]
    return out


async def _create_month(conn: Any, table: str, month: Month) -> None:
    key, name, default = PARTITIONED[table], month.partition(table), default_partition(table)
    bounds = f"FOR VALUES FROM ({_literal(month.start)}) TO ({_literal(month.end)})"
    if not await conn.fetchval(_ANY_IN_DEFAULT.format(default=default, key=key), month.start, month.end):
        await conn.execute(f"CREATE TABLE {name} PARTITION OF {table} {bounds}")
        return
    # Rows of this month arrived before its partition: the default must give them up first
    # (PostgreSQL refuses a partition whose rows sit in the default). A result an outbreak case
    # names makes the detach fail: such a month is left to an operator, and the error says why.
    await conn.execute(f"ALTER TABLE {table} DETACH PARTITION {default}")
    await conn.execute(f"CREATE TABLE {name} PARTITION OF {table} {bounds}")
    await conn.execute(
        f"WITH moved AS (DELETE FROM {default} WHERE {key} >= $1 AND {key} < $2 RETURNING *) "  # noqa: S608
        f"INSERT INTO {name} SELECT * FROM moved",
        month.start,
        month.end,
    )
    await conn.execute(f"ALTER TABLE {table} ATTACH PARTITION {default} DEFAULT")


async def ensure_months(conn: Any, months: list[Month]) -> list[str]:
    """Each of ``months`` has its partition in every partitioned table; the names created."""
    created: list[str] = []
    async with conn.transaction():
        for table in PARTITIONED:
            have = await monthly_partitions(conn, table)
            for month in sorted(set(months)):
                if month not in have:
                    await _create_month(conn, table, month)
                    created.append(month.partition(table))
    return created


async def ensure_partitions(conn: Any, as_of: datetime, months_ahead: int = 2) -> list[str]:
    """The month of ``as_of`` and the ``months_ahead`` after it exist for every partitioned
    table (the job: run it at least monthly; ``months_ahead`` is a parameter not in the source).
    Returns the partitions created (none when all were there)."""
    if months_ahead < 0:
        raise ValueError("months_ahead must be >= 0")
    months = [Month.of(as_of)]
    for _ in range(months_ahead):
        months.append(months[-1].next())
    return await ensure_months(conn, months)


@dataclass(frozen=True)
class Dropped:
    table: str
    partition: str
    rows: int


async def drop_partitions_before(
    conn: Any, cutoff: datetime, tables: tuple[str, ...] = tuple(PARTITIONED)
) -> list[Dropped]:
    """Drop every monthly partition of ``tables`` whose month ends at or before ``cutoff``, with
    the row count each had; the default partition is never dropped (rows left in it, and those
    of the month ``cutoff`` falls in, go by ``DELETE``: the retention run)."""
    dropped: list[Dropped] = []
    async with conn.transaction():
        for table in map(_table, tables):
            old = sorted(m for m in await monthly_partitions(conn, table) if m.end <= cutoff)
            for month in old:
                name = month.partition(table)
                rows = int(await conn.fetchval(_COUNT.format(name=name)))
                if table == "test_result":
                    await conn.execute(_FORGET_CASE_RESULTS, month.start, month.end)
                    await conn.execute(_FORGET_SAMPLES, month.start, month.end)
                await conn.execute(f"ALTER TABLE {table} DETACH PARTITION {name}")
                await conn.execute(f"DROP TABLE {name}")
                dropped.append(Dropped(table, name, rows))
            if table == "test_result" and old:
                await conn.execute(_REFRESH_ROLLUP, old[-1].end)
    return dropped
