"""What pausing the cyclic garbage collector buys (issue 19: no GC toggling without a measurement).

In one process, the same work with ``safework_common.gcpause`` on and off, alternating, each
figure beside the other in the same run:

- the scheduler's enterprise due list (``GET /v1/enterprises/{id}/due`` in-process through the
  app, the big enterprise of ``bench_due``'s synthetic province, warm), which pauses the
  collector while it evaluates and until its answer is written;
- ``safework seed`` of a small province (generation and COPY), which pauses it while it makes
  each chunk's rows.

The due list: CPU seconds (``process_time``) and the time spent in the collector
(``gc.callbacks``), medians, and the ratio paused / not; the seed: wall and CPU seconds. The
registry's two batch paths (the lab results batch and the roster upsert) run in uvicorn servers:
``bench_ingest`` and ``bench_roster`` with ``SAFEWORK_GC_PAUSE=0`` in the environment against a
run without it measure them.

    .venv/bin/python -m bench.bench_gc_pause [--quick] [--people N] [--rounds N] [--only due|seed]
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import os
import resource
import secrets
import statistics
import sys
import time
from collections.abc import Awaitable, Callable
from typing import Any

from bench.support import create_scratch, drop_scratch

ADMIN = os.environ.get("BENCH_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/postgres")


class CollectorClock:
    """Seconds spent inside the cyclic collector while it is installed (``gc.callbacks``)."""

    def __init__(self) -> None:
        self.seconds = 0.0
        self.collections = 0
        self._started = 0.0

    def __call__(self, phase: str, info: dict[str, Any]) -> None:
        if phase == "start":
            self._started = time.perf_counter()
        else:
            self.seconds += time.perf_counter() - self._started
            self.collections += 1

    def __enter__(self) -> CollectorClock:
        gc.callbacks.append(self)
        return self

    def __exit__(self, *exc: object) -> None:
        gc.callbacks.remove(self)


async def measured(work: Callable[[], Awaitable[object]]) -> tuple[float, float, int]:
    """(CPU seconds, collector seconds, collections) of one run of ``work``."""
    with CollectorClock() as clock:
        cpu = time.process_time()
        await work()
        cpu = time.process_time() - cpu
    return cpu, clock.seconds, clock.collections


def summary(label: str, paused: list[tuple[float, float, int]], running: list[tuple[float, float, int]]) -> None:
    def med(rows: list[tuple[float, float, int]], i: int) -> float:
        return statistics.median(r[i] for r in rows)

    cpu_p, cpu_r = med(paused, 0), med(running, 0)
    print(
        f"{label}: CPU {cpu_p * 1000:.1f} ms paused / {cpu_r * 1000:.1f} ms not (ratio {cpu_p / cpu_r:.2f}); "
        f"in the collector {med(paused, 1) * 1000:.1f} / {med(running, 1) * 1000:.1f} ms, "
        f"{med(paused, 2):.0f} / {med(running, 2):.0f} collections (medians of {len(paused)} each)"
    )


async def due_list(people: int, rounds: int, per_round: int) -> None:
    import httpx

    from bench.bench_due import BENCH_DAY, _app, load
    from safework_common import gcpause
    from safework_common.internal_auth import INTERNAL_HEADER, Caller

    url = await create_scratch(ADMIN, "gcdue")
    try:
        big = await load(url, people, 2021)
        app, minter = _app(url)
        caller = Caller(subject="bench", role="enterprise", enterprise_id=str(big))
        paused: list[tuple[float, float, int]] = []
        running: list[tuple[float, float, int]] = []
        async with app.router.lifespan_context(app):
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://bench") as client:

                async def one() -> None:
                    headers = {INTERNAL_HEADER: minter.mint(caller)}
                    r = await client.get(
                        f"/v1/enterprises/{big}/due", params={"date": BENCH_DAY.isoformat()}, headers=headers
                    )
                    r.raise_for_status()

                for _ in range(3):  # warm
                    await one()
                for i in range(rounds * 2):
                    gcpause.ENABLED = i % 2 == 0
                    for _ in range(per_round):
                        (paused if gcpause.ENABLED else running).append(await measured(one))
        gcpause.ENABLED = True
        summary(f"enterprise due list ({people:,}-person province, its biggest enterprise)", paused, running)
    finally:
        await drop_scratch(ADMIN, url)


async def seed(people: int, rounds: int) -> None:
    """A small seed makes its rows in this process, a large one in spawned worker processes:
    the switch is set both here and in the environment the workers start with, and the CPU is
    this process's and its ended workers' (``RUSAGE_CHILDREN``)."""
    from bench.bench_seed import create_migrated
    from safework_cli.seed import seed_province
    from safework_common import gcpause

    walls: dict[bool, list[float]] = {True: [], False: []}
    cpus: dict[bool, list[float]] = {True: [], False: []}
    for i in range(rounds * 2):
        pausing = i % 2 == 0
        os.environ["SAFEWORK_GC_PAUSE"] = "1" if pausing else "0"
        gcpause.ENABLED = pausing
        url = await create_migrated(ADMIN)
        try:
            before = resource.getrusage(resource.RUSAGE_CHILDREN)
            own = time.process_time()
            started = time.perf_counter()
            await seed_province(
                url,
                people=people,
                enterprises=max(1, people // 200),
                seed=2021,
                national_id_key=secrets.token_hex(32).encode(),
                progress=False,
            )
            walls[pausing].append(time.perf_counter() - started)
            after = resource.getrusage(resource.RUSAGE_CHILDREN)
            children = after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime
            cpus[pausing].append(time.process_time() - own + children)
        finally:
            await drop_scratch(ADMIN, url)
    os.environ.pop("SAFEWORK_GC_PAUSE", None)
    gcpause.ENABLED = True
    wp, wr = statistics.median(walls[True]), statistics.median(walls[False])
    cp, cr = statistics.median(cpus[True]), statistics.median(cpus[False])
    print(
        f"seed of {people:,} people: wall {wp:.2f} s paused / {wr:.2f} s not (ratio {wp / wr:.2f}); "
        f"CPU {cp:.2f} / {cr:.2f} s (ratio {cp / cr:.2f}) (medians of {rounds} each)"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.bench_gc_pause", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="a smaller province, fewer rounds")
    parser.add_argument("--people", type=int, default=None, help="due list province (default 20,000; quick 5,000)")
    parser.add_argument("--rounds", type=int, default=None, help="alternations of each (default 4; quick 1)")
    parser.add_argument("--only", choices=["due", "seed"], default=None)
    args = parser.parse_args(argv)
    people = args.people or (5_000 if args.quick else 20_000)
    rounds = args.rounds or (1 if args.quick else 4)
    print(f"load average before: {os.getloadavg()}")
    if args.only in (None, "due"):
        asyncio.run(due_list(people, rounds, 5))
    if args.only in (None, "seed"):
        asyncio.run(seed(people, max(1, rounds // 2)))
    print(f"load average after: {os.getloadavg()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
