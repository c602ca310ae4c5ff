"""The province-wide due counts, split across processes.

A province is a million people: the database aggregates their results and Python evaluates the
rules for each of them, and one process (one server backend, one interpreter) does both at
about a core's speed. So the people are cut into shares by ranges of person id
(``repository.shares``), and each share is read and evaluated by a worker process over its own
read-only connection, its transaction importing the request's snapshot
(``SET TRANSACTION SNAPSHOT``): every worker reads exactly what the request's own statements
read. A worker returns small per-enterprise counts, never people.

A small population (a district, the tests) is one share, counted in the request's own process
(still over a connection of its own, reading the request's snapshot: a share's statements must
read one snapshot): no worker is worth starting for it.

The worker processes are started with the first province-sized request and kept
(``WORKERS``): forking them, and re-running the main module in each, cost a request about a
third of a second of CPU per worker before any person was counted; the app's lifespan stops
them.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import os
import re
import uuid
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

import asyncpg

from safework_common.contract.policy_document import PolicyDocument
from safework_common.gcpause import gc_paused
from safework_scheduler.due import repository as repo
from safework_scheduler.due.rules import DUE_TODAY, NOT_CLEARED, OVERDUE, DueRules, RoundPlan

# Below this many people a share is not worth a process (starting one costs tens of
# milliseconds; evaluating 100,000 people about a quarter of a second).
PEOPLE_PER_WORKER: Final = 100_000

# Per enterprise, how many people have each status (``rules.DUE_TODAY | OVERDUE | NOT_CLEARED``,
# 0 to 7): one increment per person.
StatusCounts = list[int]

_SNAPSHOT_ID: Final = re.compile(r"[0-9A-F]+-[0-9A-F]+-[0-9]+")


def cpu_count() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def workers_for(people: int) -> int:
    """How many processes share the counting of ``people``."""
    return max(1, min(cpu_count(), people // PEOPLE_PER_WORKER))


def tallies(counts: StatusCounts) -> tuple[int, int, int, int]:
    """(people, due today, overdue, not cleared) from status counts."""
    people = due = overdue = not_cleared = 0
    for status, n in enumerate(counts):
        people += n
        if status & DUE_TODAY:
            due += n
        if status & OVERDUE:
            overdue += n
        if status & NOT_CLEARED:
            not_cleared += n
    return people, due, overdue, not_cleared


async def count_share(
    conn: Any, rules: DueRules, plans: Mapping[uuid.UUID, RoundPlan], share: repo.Share, *, serial: bool = False
) -> dict[uuid.UUID, StatusCounts]:
    """Status counts of a share's people, by enterprise, on ``conn`` inside a REPEATABLE READ
    transaction. Plain people (most of them) come counted by cell, and the rules are applied
    once per cell; the others come one a row with their history, for the general rules."""
    book: dict[uuid.UUID, tuple[RoundPlan, StatusCounts, Callable[..., int]]] = {
        eid: (plan, [0] * 8, rules.row_status_of(plan, rules.horizon_us)) for eid, plan in plans.items()
    }
    # Positions taken from the statement's column names: a million rows read by index (a name
    # costs a lookup more a read); the fast path's columns as one slice (``PLAIN_NAMES``).
    g = repo.PROVINCE_GROUPS
    enterprise_at, special_at, people_at, at = g.at("enterprise_id"), g.at("special"), g.at("people"), g.at("id")
    plain = slice(at, at + len(repo.PLAIN_NAMES))
    since = rules.horizon_us  # the rows' instants count from it
    cells = repo.Cells(
        rules.floor_day,
        rules.horizon_us - rules.cell_origin_us,
        tuple(cut - rules.horizon_us for cut in rules.cell_cuts_us),
        tuple(eid for eid, plan in plans.items() if not rules.groups_people(plan)),
    )
    stream = repo.stream_share(conn, share, rules.as_of, rules.horizon, rules.arrivals_after, cells, serial=serial)
    try:
        async for rows in stream:
            for row in rows:
                entry = book.get(row[enterprise_at])
                if entry is None:  # an enterprise registered since the enterprises were read
                    continue
                if row[special_at]:  # not plain: the general rules, on the history in the row
                    entry[1][rules.status(rules.evaluate(repo.facts(row, since), entry[0]))] += 1
                    continue
                # A cell's people share a status: the rules once, for the earliest latest test.
                counts = entry[1]
                counts[entry[2](*row[plain])] += row[people_at]
    finally:
        await stream.aclose()  # its prefetch awaited, even if this loop fails
    return {eid: counts for eid, (_, counts, _) in book.items() if any(counts)}


@dataclass(frozen=True, slots=True)
class Job:
    """One worker's share, and what it needs to count it in a process of its own."""

    url: str
    snapshot: str
    policy: PolicyDocument
    versions: tuple[PolicyDocument, ...]
    as_of: datetime
    plans: Mapping[uuid.UUID, RoundPlan]
    share: repo.Share
    serial: bool = True  # the shares run side by side: no parallel workers in each


def run(job: Job) -> dict[uuid.UUID, StatusCounts]:
    """A worker process's entry point, for one job (the process is kept for the next)."""
    with gc_paused():  # acyclic, short-lived objects only, freed by reference counting
        return asyncio.run(count(job))


async def count(job: Job) -> dict[uuid.UUID, StatusCounts]:
    """A share's status counts over a connection of its own, reading the request's snapshot."""
    if not _SNAPSHOT_ID.fullmatch(job.snapshot):
        raise ValueError("not a snapshot id")
    conn = await asyncpg.connect(
        job.url, server_settings={"jit": "off", "default_transaction_read_only": "on"}, command_timeout=600
    )
    try:
        async with conn.transaction(isolation="repeatable_read", readonly=True):
            await conn.execute(f"SET TRANSACTION SNAPSHOT '{job.snapshot}'")
            rules = DueRules(job.policy, job.as_of, job.versions)
            return await count_share(conn, rules, job.plans, job.share, serial=job.serial)
    finally:
        await conn.close()


# The modules whose functions run in the worker processes: the counts' (here) and the due-list
# export's. Imported once by the fork server rather than in each worker: a worker that imported
# the export itself held 10 MiB more of its own.
_RUN_IN_WORKERS: Final = (__name__, "safework_scheduler.exports.parallel")


class Workers:
    """The worker processes, started on first use and kept for later requests: forked from a
    server process that has the scheduler imported already (no threads or event loop of the
    caller's). A pool whose worker died is replaced by the next request."""

    def __init__(self) -> None:
        self._pool: ProcessPoolExecutor | None = None
        self._size = 0

    def pool(self, size: int) -> ProcessPoolExecutor:
        if self._pool is None or self._size < size:
            self.close()
            context = multiprocessing.get_context("forkserver")
            # The server imports the caller's main module and the modules whose functions the
            # workers run once, so each worker need not: their pages are shared, not copied.
            context.set_forkserver_preload(["__main__", *_RUN_IN_WORKERS])
            self._pool, self._size = ProcessPoolExecutor(max_workers=size, mp_context=context), size
        return self._pool

    def close(self) -> None:
        """Stop the workers (the app's shutdown; a broken pool)."""
        pool, self._pool, self._size = self._pool, None, 0
        if pool is not None:
            pool.shutdown(wait=False, cancel_futures=True)


WORKERS: Final = Workers()


async def count_in_workers(jobs: Sequence[Job]) -> list[dict[uuid.UUID, StatusCounts]]:
    """Each job in a worker process of its own (``WORKERS``)."""
    pool = WORKERS.pool(len(jobs))
    loop = asyncio.get_running_loop()
    try:
        return list(await asyncio.gather(*(loop.run_in_executor(pool, run, job) for job in jobs)))
    except BrokenProcessPool:
        WORKERS.close()  # a worker died (killed, out of memory): new ones for the next request
        raise
