"""The province's due list, made in the worker processes, sent in the JSON pages' order.

A million people's verdicts cost the rules several microseconds each in Python, and the server
about as much to read them: one process (one interpreter, one backend) does it at a core's
speed. So, as for the province's counts (``due.bulk``), the people are cut into shares by
ranges of person id (``due.repository.shares``: a hash join over each share's range of the
roll-up, the statement the counts read, with names) and each share is read and evaluated by a
worker process (``due.bulk.WORKERS``) over a read-only connection of its own, its transaction
importing the request's snapshot (``SET TRANSACTION SNAPSHOT``): every share reads exactly what
the request read. The enterprises' rounds are planned once, in the request.

A share comes sorted by enterprise then person; since the shares are ranges of person id, one
enterprise's people in share 1 all come before its people in share 2. So a worker writes its
share an enterprise at a time (CSV text, or the cells pickled for an XLSX sheet) to a temporary
file and returns where each enterprise's block lies; the request then sends, enterprise by
enterprise in id order, each share's block of it: the JSON pages' order, while memory holds an
enterprise's people and a chunk of text, never the province. The files are removed at the end.

A small population (a district, the tests) is one share, made in the request's own process on
its own transaction and sent as it comes.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import pickle
import re
import shutil
import tempfile
import uuid
from collections.abc import AsyncGenerator, AsyncIterator, Mapping, Sequence
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, replace
from typing import Any, Final

import asyncpg

from safework_common.db import prefetched
from safework_common.export import CSV_CHUNK_BYTES
from safework_common.gcpause import gc_paused
from safework_scheduler.due import bulk
from safework_scheduler.due import repository as due_repo
from safework_scheduler.due.rules import DueRules
from safework_scheduler.exports.due_rows import EnterpriseRows

Row = Sequence[Any]
Made = bytes | list[Row]
_SNAPSHOT_ID: Final = re.compile(r"[0-9A-F]+-[0-9A-F]+-[0-9]+")

# A share's active people with their employee code and name, by enterprise then person, the
# enterprise's id on the first of its people's rows only (``due.repository.PROVINCE_PEOPLE``);
# its columns' positions by name (a million rows read by index).
_SHARE: Final = due_repo.PROVINCE_PEOPLE
_ENTERPRISE: Final = _SHARE.at("enterprise_id")
# Rows per fetch: two batches are held (one worked on, one on its way). A worker's peak memory
# grew 36 MiB over a share of 500,000 people with 5,000, 33 MiB with 2,000 (bench_export's DB).
_BATCH: Final = 2_000


@dataclass(frozen=True, slots=True, kw_only=True)
class Job(bulk.Job):
    """A share as the counts' worker gets it (``due.bulk.Job``: the snapshot, the policy, the
    rounds, the share), and what its rows need besides."""

    flag: int  # the statuses shown (0: everyone)
    enterprises: Mapping[uuid.UUID, due_repo.EnterpriseRow]
    as_csv: bool  # CSV text, else the cells (XLSX)
    path: str = ""  # the worker's file


async def blocks(conn: Any, job: Job) -> AsyncGenerator[tuple[uuid.UUID, Made], None]:
    """A share's rows on ``conn`` (inside a transaction reading the request's snapshot), an
    enterprise at a time: (enterprise id, its rows in the share written as CSV or as cells)."""
    rules = DueRules(job.policy, job.as_of, job.versions)
    share = job.share
    await conn.execute(due_repo.BULK_SETTINGS)
    if job.serial:
        await conn.execute(due_repo.SERIAL)
    stream = prefetched(
        conn,
        _SHARE.sql,
        *_SHARE.args(
            as_of=rules.as_of,
            since=rules.horizon,
            arrivals_after=rules.arrivals_after,
            low=share.low,
            high=share.high,
            district=share.district,
            zone_type=share.zone_type,
        ),
        batch=_BATCH,
    )
    current: EnterpriseRows | None = None
    try:
        async for rows in stream:
            for r in rows:
                eid = r[_ENTERPRISE]
                if eid is not None:  # the first of an enterprise's people
                    if current is not None:
                        yield current.enterprise.id, _written(current, job.as_csv)
                        current.plan.release()  # its people come all together: done with it
                    enterprise = job.enterprises.get(eid)
                    # None: not in scope (a filter), or registered since: its people are skipped.
                    current = (
                        None
                        if enterprise is None
                        else EnterpriseRows(rules, job.flag, enterprise, job.plans[eid], _SHARE)
                    )
                if current is not None:
                    current.rows.append(r)
        if current is not None:
            yield current.enterprise.id, _written(current, job.as_csv)
    finally:
        await stream.aclose()


def _written(rows: EnterpriseRows, as_csv: bool) -> Made:
    return rows.csv() if as_csv else rows.out()


def run(job: Job) -> list[tuple[uuid.UUID, int, int]]:
    """A worker process's entry point: the share's blocks written to ``job.path``; where each
    enterprise's block lies (enterprise id, offset, length)."""
    with gc_paused():  # acyclic, short-lived objects only, freed by reference counting
        return asyncio.run(_to_file(job))


async def _to_file(job: Job) -> list[tuple[uuid.UUID, int, int]]:
    if not _SNAPSHOT_ID.fullmatch(job.snapshot):
        raise ValueError("not a snapshot id")
    conn = await asyncpg.connect(
        job.url, server_settings={"jit": "off", "default_transaction_read_only": "on"}, command_timeout=600
    )
    where: list[tuple[uuid.UUID, int, int]] = []
    try:
        with open(job.path, "wb") as f:  # noqa: ASYNC230 - a local temporary file
            async with conn.transaction(isolation="repeatable_read", readonly=True):
                await conn.execute(f"SET TRANSACTION SNAPSHOT '{job.snapshot}'")
                async for eid, made in blocks(conn, job):
                    data = made if isinstance(made, bytes) else pickle.dumps(made, pickle.HIGHEST_PROTOCOL)
                    where.append((eid, f.tell(), len(data)))
                    f.write(data)
    finally:
        await conn.close()
    return where


async def _chunked(made: AsyncIterator[Made]) -> AsyncIterator[Made]:
    """Blocks of CSV joined into chunks of about ``CSV_CHUNK_BYTES`` (fewer, larger writes to
    the socket); blocks of cells as they come."""
    pending: list[bytes] = []
    size = 0
    async for block in made:
        if isinstance(block, list):
            yield block
            continue
        pending.append(block)
        size += len(block)
        if size >= CSV_CHUNK_BYTES:
            yield b"".join(pending)
            pending, size = [], 0
    if pending:
        yield b"".join(pending)


async def here(conn: Any, job: Job) -> AsyncIterator[Made]:
    """One share made in this process, on ``conn`` (inside the request's snapshot
    transaction), sent as it comes."""

    async def made() -> AsyncIterator[Made]:
        stream = blocks(conn, job)
        try:
            while True:
                with gc_paused():
                    block = await anext(stream, None)
                if block is None:
                    return
                yield block[1]
        finally:
            await stream.aclose()

    async for chunk in _chunked(made()):
        yield chunk


async def in_workers(jobs: Sequence[Job], order: Sequence[uuid.UUID]) -> AsyncIterator[Made]:
    """Each share made in a worker process of its own (``due.bulk.WORKERS``) into a file, then
    the blocks sent enterprise by enterprise in ``order``, each enterprise's shares in turn."""
    folder = tempfile.mkdtemp(prefix="safework-due-export-")
    try:
        jobs = [_with_path(job, os.path.join(folder, f"share-{k}")) for k, job in enumerate(jobs)]
        pool = bulk.WORKERS.pool(len(jobs))
        loop = asyncio.get_running_loop()
        futures = [loop.run_in_executor(pool, run, job) for job in jobs]
        try:
            indexes = await asyncio.gather(*futures)
        except BrokenProcessPool:
            bulk.WORKERS.close()  # a worker died (killed, out of memory): new ones for the next request
            raise
        finally:
            for f in futures:  # a share failed, or the client went away: the others are not wanted
                f.cancel()
                with contextlib.suppress(BaseException):
                    await f
        async for chunk in _chunked(_read_in_order(jobs, indexes, order)):
            yield chunk
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _with_path(job: Job, path: str) -> Job:
    return replace(job, path=path)


async def _read_in_order(
    jobs: Sequence[Job], indexes: Sequence[list[tuple[uuid.UUID, int, int]]], order: Sequence[uuid.UUID]
) -> AsyncIterator[Made]:
    by_share = [{eid: (offset, length) for eid, offset, length in index} for index in indexes]
    files = [open(job.path, "rb") for job in jobs]  # noqa: ASYNC230, SIM115 - local temporary files
    try:
        for eid in order:
            for f, where in zip(files, by_share, strict=True):
                at = where.get(eid)
                if at is None:
                    continue
                f.seek(at[0])
                data = f.read(at[1])
                yield data if jobs[0].as_csv else pickle.loads(data)  # noqa: S301 - our own worker's, just now
    finally:
        for f in files:
            f.close()
