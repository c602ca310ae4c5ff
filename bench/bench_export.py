"""Export benchmark (issue 16): the province's whole due list as CSV, and the bulk FHIR NDJSON
export, over N people (default 1,000,000; ``--quick``: 20,000).

Fills a scratch database as ``bench_due`` does (its generator: five weeks of results, doses,
declarations, pools), gives every person a real encrypted national ID (the authority's FHIR
export decrypts each), then, in a fresh child process each (so peak RSS is the export's own):

- the due-list export (``status=all``: every active person with their verdict, the rules of the
  JSON routes, enterprise by enterprise) turned into CSV bytes, beside the reference: PostgreSQL
  writing the same people's rows (person joined to its roll-up) as CSV itself
  (``COPY ... TO STDOUT``), read by the same client;
- the FHIR export (Organization, Patient, Immunization, Observation as NDJSON, national IDs in
  full: the province authority), beside the reference: ``COPY`` of ``row_to_json`` of the same
  rows.

Targets: due list >= 100,000 rows/s with peak RSS < 300 MiB; FHIR >= 20,000 resources/s.

    .venv/bin/python -m bench.bench_export [--quick] [--people N] [--keep] [--reuse URL]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import time
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import asyncpg

from bench.bench_due import AS_OF, load, peak_rss_mib
from bench.support import PeakRss, create_scratch, drop_scratch

KEY = b"bench-national-id-key-0123456789abcdef"


def province() -> Any:
    from safework_common.internal_auth import Caller

    return Caller(subject="client:bench", role="authority", client_id="bench")


DUE_TARGET_ROWS_PER_S = 100_000
DUE_TARGET_RSS_MIB = 300
FHIR_TARGET_PER_S = 20_000


async def encrypt_ids(url: str) -> None:
    """Real AES-GCM national IDs (the generator's are placeholders), in batches."""
    from safework_registry.persons.national_id import NationalIdCipher

    cipher = NationalIdCipher(KEY)
    conn = await asyncpg.connect(url)
    try:
        ids = [r["id"] for r in await conn.fetch("SELECT id FROM person ORDER BY id")]
        await conn.execute("CREATE TEMP TABLE enc (id uuid PRIMARY KEY, e bytea)")
        rows = [(pid, cipher.encrypt(f"0241{n:08d}")) for n, pid in enumerate(ids)]
        await conn.copy_records_to_table("enc", records=rows, columns=["id", "e"])
        await conn.execute("SET session_replication_role = replica")
        await conn.execute("UPDATE person p SET national_id_enc = enc.e FROM enc WHERE enc.id = p.id")
        await conn.execute("VACUUM ANALYZE person")
    finally:
        await conn.close()


class _Sink:
    def __init__(self) -> None:
        self.bytes = 0

    async def __call__(self, data: bytes) -> None:
        self.bytes += len(data)


async def _copy_reference(url: str, sql: str) -> tuple[float, int]:
    conn = await asyncpg.connect(url, server_settings={"jit": "off"})
    try:
        sink = _Sink()
        started = time.perf_counter()
        await conn.copy_from_query(sql, output=sink, format="csv")
        return time.perf_counter() - started, sink.bytes
    finally:
        await conn.close()


async def measure_due(url: str) -> dict[str, Any]:
    """The due-list export through the scheduler's own code, in this (fresh) process."""
    from safework_common.db import make_engine, make_sessionmaker
    from safework_common.export import csv_bytes
    from safework_scheduler.due import bulk
    from safework_scheduler.exports import due_rows, service
    from safework_scheduler.policy.repository import PolicyStore

    engine = make_engine(url, pool_size=2, read_only=True)
    maker = make_sessionmaker(engine)
    try:
        async with maker() as session:
            export = await service.due_people(session, PolicyStore(), province(), AS_OF, None, None, "all")
        runs = []
        with PeakRss({"export": os.getpid()}, 0.2, pss_interval=1.0) as tree:
            # Twice: the first export starts the worker processes (the fork server importing the
            # scheduler, then each worker), the next finds them running, as a server's later
            # requests do.
            for _ in range(2):
                before = sum(c for _, c in worker_peaks(bulk.WORKERS))
                started, cpu = time.perf_counter(), time.process_time()
                size = 0
                lines = 0
                async for chunk in csv_bytes(due_rows.DUE_PEOPLE_COLUMNS, export.encoded(maker)):
                    size += len(chunk)
                    lines += chunk.count(b"\r\n")
                seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
                runs.append((seconds, cpu, sum(c for _, c in worker_peaks(bulk.WORKERS)) - before))
        workers = worker_peaks(bulk.WORKERS)
    finally:
        bulk.WORKERS.close()
        await engine.dispose()
    ref, ref_bytes = await _copy_reference(
        url,
        "SELECT p.id, p.employee_code, p.full_name, p.test_cohort, s.last_result_at, s.first_dose_at"
        " FROM person p LEFT JOIN person_rollup s ON s.person_id = p.id WHERE p.status = 'active'"
        " ORDER BY p.enterprise_id, p.id",
    )
    return {
        "rows": lines - 1,
        "seconds": runs[1][0],
        "cpu": runs[1][1],
        "worker_cpu": runs[1][2],
        "first": runs[0],
        "bytes": size,
        "ref": ref,
        "ref_bytes": ref_bytes,
        "rss": peak_rss_mib(),
        "worker_rss": workers,
        "tree_rss": tree.peak["export"] / 2**20,
        "tree_pss": tree.peak_pss["export"] / 2**20,
    }


def worker_peaks(workers: Any) -> list[tuple[float, float]]:
    """Each worker process's peak RSS in MiB (``VmHWM``) and CPU seconds: the export's rows are
    made there."""
    pool = getattr(workers, "_pool", None)
    out = []
    for process in (getattr(pool, "_processes", None) or {}).values():
        try:
            with open(f"/proc/{process.pid}/status") as f:
                hwm = next(line for line in f if line.startswith("VmHWM:"))
            with open(f"/proc/{process.pid}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            cpu = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
            out.append((int(hwm.split()[1]) / 1024, cpu))
        except (OSError, StopIteration):
            continue
    return out


async def measure_fhir(url: str) -> dict[str, Any]:
    from safework_common.db import make_engine, make_sessionmaker
    from safework_registry.fhir import service
    from safework_registry.persons.national_id import NationalIdCipher

    engine = make_engine(url, pool_size=2)
    maker = make_sessionmaker(engine)
    try:
        export = service.bulk(province(), service.RESOURCE_TYPES)
        started, cpu = time.perf_counter(), time.process_time()
        size = 0
        lines = 0
        async for chunk in export.lines(maker, NationalIdCipher(KEY)):
            size += len(chunk)
            lines += chunk.count(b"\n")
        ours = time.perf_counter() - started
        cpu = time.process_time() - cpu
    finally:
        await engine.dispose()
    ref = 0.0
    ref_bytes = 0
    for table in ("enterprise", "lab", "person", "dose", "test_result"):
        seconds, n = await _copy_reference(url, f"SELECT row_to_json(t) FROM {table} t")  # noqa: S608
        ref += seconds
        ref_bytes += n
    return {
        "resources": lines,
        "seconds": ours,
        "cpu": cpu,
        "bytes": size,
        "ref": ref,
        "ref_bytes": ref_bytes,
        "rss": peak_rss_mib(),
    }


def _child(kind: str, url: str) -> dict[str, Any]:
    out = subprocess.run(
        [sys.executable, "-m", "bench.bench_export", f"--measure-{kind}", url],
        capture_output=True,
        text=True,
        check=True,
    )
    result: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


def report(due: dict[str, Any], fhir: dict[str, Any]) -> bool:
    due_rate = due["rows"] / due["seconds"]
    first_seconds, first_cpu, first_workers = due["first"]
    first_rate = due["rows"] / first_seconds
    total = due["rss"] + sum(w for w, _ in due["worker_rss"])  # shared pages counted in each
    cpu = due["cpu"] + due["worker_cpu"]
    ref_rate = due["rows"] / due["ref"]
    print(
        f"due list CSV: {due['rows']:,} rows in {due['seconds']:.2f} s = {due_rate:,.0f} rows/s with the workers"
        f" running (the first export, which starts them: {first_seconds:.2f} s = {first_rate:,.0f} rows/s,"
        f" CPU {first_cpu + first_workers:.2f} s)"
        f" ({due['bytes'] / 2**20:.1f} MiB), peak RSS {due['rss']:.0f} MiB"
        f" (+ {len(due['worker_rss'])} workers: {', '.join(f'{w:.0f}' for w, _ in due['worker_rss']) or '-'} MiB;"
        f" all together {total:.0f} MiB; the process tree sampled every 0.2 s (proportional: every second):"
        f" at most {due['tree_rss']:.0f} MiB"
        f" resident at once, {due['tree_pss']:.0f} MiB proportional (a shared page counted once))"
        f" (CPU of this process and its workers {cpu:.2f} s = {due['rows'] / cpu:,.0f} rows per CPU-second;"
        f" the database's own not counted)"
        f" | reference COPY of the same people: {due['ref']:.2f} s = {ref_rate:,.0f} rows/s"
        f" | ratio {due['seconds'] / due['ref']:.1f}x"
        f" | target >= {DUE_TARGET_ROWS_PER_S:,} rows/s: {'met' if due_rate >= DUE_TARGET_ROWS_PER_S else 'NOT met'}"
        f" ({'met' if first_rate >= DUE_TARGET_ROWS_PER_S else 'NOT met'} by the first export);"
        f" < {DUE_TARGET_RSS_MIB} MiB: {'met' if due['tree_pss'] < DUE_TARGET_RSS_MIB else 'NOT met'} by the tree's"
        f" proportional size, {'met' if total < DUE_TARGET_RSS_MIB else 'NOT met'} by its processes' peaks added up"
    )
    fhir_rate = fhir["resources"] / fhir["seconds"]
    print(
        f"FHIR NDJSON: {fhir['resources']:,} resources in {fhir['seconds']:.2f} s = {fhir_rate:,.0f}/s"
        f" ({fhir['bytes'] / 2**20:.1f} MiB), peak RSS {fhir['rss']:.0f} MiB"
        f" (this process's CPU {fhir['cpu']:.2f} s = {fhir['resources'] / fhir['cpu']:,.0f} per CPU-second)"
        f" | reference COPY row_to_json of the same rows: {fhir['ref']:.2f} s"
        f" | ratio {fhir['seconds'] / fhir['ref']:.1f}x"
        f" | target >= {FHIR_TARGET_PER_S:,}/s: {'met' if fhir_rate >= FHIR_TARGET_PER_S else 'NOT met'}"
    )
    return True


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="20,000 people instead of 1,000,000")
    parser.add_argument("--people", type=int, default=None)
    parser.add_argument("--seed", type=int, default=2021)
    parser.add_argument("--keep", action="store_true", help="keep the scratch database (prints its URL)")
    parser.add_argument("--reuse", default=None, help="measure an existing scratch database (made with --keep)")
    parser.add_argument("--measure-due", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--measure-fhir", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.measure_due:
        print(json.dumps(asyncio.run(measure_due(args.measure_due))))
        return 0
    if args.measure_fhir:
        print(json.dumps(asyncio.run(measure_fhir(args.measure_fhir))))
        return 0
    people = args.people or (20_000 if args.quick else 1_000_000)
    admin = os.environ.get("BENCH_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/postgres")

    async def run() -> int:
        url = args.reuse or await create_scratch(admin, "export")
        try:
            if not args.reuse:
                started = time.perf_counter()
                await load(url, people, args.seed)
                await encrypt_ids(url)
                print(f"fill: {time.perf_counter() - started:.1f} s ({datetime.now().isoformat(timespec='seconds')})")
            due = await asyncio.to_thread(_child, "due", url)
            fhir = await asyncio.to_thread(_child, "fhir", url)
            report(due, fhir)
            if args.keep:
                print(f"kept: {url}")
        finally:
            if not args.keep and not args.reuse:
                await drop_scratch(admin, url)
        return 0

    return asyncio.run(run())


if __name__ == "__main__":
    sys.exit(main())
