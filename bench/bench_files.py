"""Issue 16: files in and out, each figure beside a reference measured in the same run.

(a) Lab results as CSV against the JSON batch: the same 10,000 rows (fresh sample IDs each
    time), ``POST /v1/labs/{lab}/results`` on a real registry (uvicorn), request to stored rows.
    Target: CSV >= 50% of the JSON batch's rate.
(b) The due-list export of a province of 1,000,000 people (``bench_due``'s synthetic province),
    ``GET /v1/exports/due.csv?status=all`` on a real scheduler, streamed and counted: rows/s and
    the scheduler's peak RSS; reference: ``COPY (SELECT`` the same people with their enterprise
    ``) TO STDOUT`` in CSV. Targets: >= 100,000 rows/s, peak RSS < 300 MiB.
(c) The bulk FHIR export of the same province, ``GET /v1/fhir/$export`` (Organization, Patient,
    Immunization, Observation) as the province authority (national IDs decrypted), streamed:
    resources/s; reference: ``COPY`` of the same rows (people, doses, results) TO STDOUT.
    Target: >= 20,000 resources/s.

    .venv/bin/python -m bench.bench_files [--quick] [--people N]

``--quick``: 1,000 result rows and a province of 20,000 people.
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import io
import os
import secrets
import subprocess
import sys
import time
from collections.abc import Sequence
from typing import Any

import asyncpg
import httpx

from bench.bench_due import load
from bench.bench_ingest import COLLECTED, RESULTED, batch_body, seed
from bench.support import MIB, PeakRss, create_scratch, drop_scratch, start_service, wait_ready
from safework_cli import migrate
from safework_common.internal_auth import INTERNAL_HEADER, Caller, InternalTokenMinter, generate_keypair
from safework_common.settings import plain_pg_url
from safework_registry.persons.national_id import NationalIdCipher

REGISTRY_PORT, SCHEDULER_PORT = 18131, 18132
DEFAULT_ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
AUTHORITY = Caller(subject="client:bench-authority", role="authority", client_id="bench-authority")


def csv_body(people: list[tuple[Any, str]], prefix: str) -> bytes:
    buf = io.StringIO()
    w = csv.writer(buf, delimiter=";", lineterminator="\r\n")
    w.writerow(["Mã mẫu", "Số CCCD/CMND", "Loại xét nghiệm", "Thời gian lấy mẫu", "Thời gian có kết quả", "Kết quả"])
    collected = COLLECTED.astimezone().strftime("%d/%m/%Y %H:%M")
    resulted = RESULTED.astimezone().strftime("%d/%m/%Y %H:%M")
    for k, (_, nid) in enumerate(people):
        w.writerow([f"{prefix}-{k}", nid, "PCR", collected, resulted, "Âm tính"])
    return b"\xef\xbb\xbf" + buf.getvalue().encode()


def env_for(url: str, key: str, public: bytes) -> dict[str, str]:
    return {
        **os.environ,
        "SAFEWORK_ENV": "development",
        "DATABASE_URL": url,
        "REGISTRY_NATIONAL_ID_KEY": key,
        "INTERNAL_TOKEN_PUBLIC_KEY": public.decode(),
        "LOG_LEVEL": "WARNING",
    }


async def uploads(admin_url: str, items: int, key: str, minter: InternalTokenMinter, public: bytes) -> None:
    url = await create_scratch(admin_url, "files_upload")
    proc: subprocess.Popen[bytes] | None = None
    try:
        await asyncio.to_thread(migrate.upgrade, url, "heads", configure_logger=False)
        lab_id, people = await seed(plain_pg_url(url), NationalIdCipher(key.encode()), max(items, 1000))
        people = people[:items]
        lab = Caller(subject=f"client:lab-{lab_id}", role="lab", client_id="lab-bench", lab_id=str(lab_id))
        proc = start_service("safework_registry.app:create_app", REGISTRY_PORT, env_for(url, key, public))
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{REGISTRY_PORT}", timeout=300) as client:
            await wait_ready(client, proc)
            rates: dict[str, list[float]] = {"json": [], "csv": []}
            for rep in range(4):
                for kind in ("json", "csv"):  # interleaved, so drift hits both alike
                    prefix = f"{kind}{rep}"
                    if kind == "json":
                        body, media = batch_body(people, prefix, True), "application/json"
                    else:
                        body, media = csv_body(people, prefix), "text/csv"
                    headers = {INTERNAL_HEADER: minter.mint(lab), "Content-Type": media}
                    started = time.perf_counter()
                    r = await client.post(f"/v1/labs/{lab_id}/results", content=body, headers=headers)
                    elapsed = time.perf_counter() - started
                    r.raise_for_status()
                    if r.json()["accepted"] != items:
                        raise RuntimeError(f"{kind}: not every row accepted: {r.text[:300]}")
                    if rep:  # the first round warms both paths up
                        rates[kind].append(items / elapsed)
        best = {k: max(v) for k, v in rates.items()}
        print(
            f"(a) upload of {items:,} results: CSV {best['csv']:,.0f} rows/s, JSON batch {best['json']:,.0f} "
            f"items/s (reference); CSV / JSON = {best['csv'] / best['json']:.0%} (target >= 50%)"
        )
    finally:
        if proc is not None:
            proc.terminate()
            proc.wait()
        await drop_scratch(admin_url, url)


async def stream(client: httpx.AsyncClient, path: str, headers: dict[str, str]) -> tuple[int, int, float]:
    """Lines and bytes of a streamed answer, and the seconds it took."""
    lines = size = 0
    started = time.perf_counter()
    async with client.stream("GET", path, headers=headers) as r:
        r.raise_for_status()
        async for chunk in r.aiter_raw():
            lines += chunk.count(b"\n")
            size += len(chunk)
    return lines, size, time.perf_counter() - started


async def copy_out(url: str, sql: str) -> tuple[int, float]:
    conn = await asyncpg.connect(plain_pg_url(url))
    sink = io.BytesIO()

    async def write(chunk: bytes) -> None:
        sink.write(chunk)

    try:
        started = time.perf_counter()
        await conn.copy_from_query(sql, output=write, format="csv")
        elapsed = time.perf_counter() - started
    finally:
        await conn.close()
    return sink.getvalue().count(b"\n"), elapsed


async def exports(admin_url: str, people: int, key: str, minter: InternalTokenMinter, public: bytes) -> None:
    url = await create_scratch(admin_url, "files_export")
    procs: list[subprocess.Popen[bytes]] = []
    try:
        await load(plain_pg_url(url), people, 1)
        # bench_due's people carry a dummy ciphertext: give them all one real one, so the
        # authority's export decrypts as it would in production.
        blob = NationalIdCipher(key.encode()).encrypt("024190001234")
        conn = await asyncpg.connect(plain_pg_url(url))
        try:
            await conn.execute("UPDATE person SET national_id_enc = $1", blob)
            await conn.execute("VACUUM ANALYZE person")
        finally:
            await conn.close()
        env = env_for(url, key, public)
        sched = start_service("safework_scheduler.app:create_app", SCHEDULER_PORT, env)
        reg = start_service("safework_registry.app:create_app", REGISTRY_PORT, env)
        procs = [sched, reg]
        headers = {INTERNAL_HEADER: minter.mint(AUTHORITY)}
        async with (
            httpx.AsyncClient(base_url=f"http://127.0.0.1:{SCHEDULER_PORT}", timeout=600) as s,
            httpx.AsyncClient(base_url=f"http://127.0.0.1:{REGISTRY_PORT}", timeout=600) as r,
        ):
            await wait_ready(s, sched)
            await wait_ready(r, reg)
            as_of = "2021-09-30T12:00:00%2B07:00"
            with PeakRss({"scheduler": sched.pid, "registry": reg.pid}) as rss:
                lines, size, elapsed = await stream(s, f"/v1/exports/due.csv?status=all&as_of={as_of}", headers)
                ref_rows, ref_s = await copy_out(
                    url,
                    "SELECT e.id, e.name, e.district, e.zone_type, p.employee_code, p.full_name, p.id, p.status "
                    "FROM person p JOIN enterprise e ON e.id = p.enterprise_id WHERE p.status = 'active'",
                )
                rows = lines - 1
                print(
                    f"(b) due export: {rows:,} rows, {size / MIB:,.0f} MiB in {elapsed:.1f} s = {rows / elapsed:,.0f} "
                    f"rows/s (target >= 100,000); reference COPY of the same people: {ref_rows / ref_s:,.0f} rows/s; "
                    f"ratio {rows / elapsed / (ref_rows / ref_s):.0%}"
                )
                fhir_lines, fhir_size, fhir_s = await stream(r, "/v1/fhir/$export", headers)
                copies = [
                    await copy_out(url, "SELECT * FROM person"),
                    await copy_out(url, "SELECT * FROM dose"),
                    await copy_out(url, "SELECT * FROM test_result"),
                    await copy_out(url, "SELECT * FROM enterprise"),
                ]
                ref = sum(n for n, _ in copies) / sum(t for _, t in copies)
                print(
                    f"(c) bulk FHIR export: {fhir_lines:,} resources, {fhir_size / MIB:,.0f} MiB in {fhir_s:.1f} s = "
                    f"{fhir_lines / fhir_s:,.0f} resources/s (target >= 20,000); reference COPY of the same rows: "
                    f"{ref:,.0f} rows/s; ratio {fhir_lines / fhir_s / ref:.0%}"
                )
            peak = rss.peak
            print(
                f"    peak RSS: scheduler {peak['scheduler'] / MIB:.0f} MiB (target < 300), "
                f"registry {peak['registry'] / MIB:.0f} MiB"
            )
    finally:
        for p in procs:
            p.terminate()
            p.wait()
        await drop_scratch(admin_url, url)


async def run(admin_url: str, items: int, people: int) -> int:
    key = secrets.token_urlsafe(32)
    private, public = generate_keypair()
    minter = InternalTokenMinter(private)
    await uploads(admin_url, items, key, minter, public)
    await exports(admin_url, people, key, minter, public)
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--people", type=int, default=None)
    args = parser.parse_args(argv)
    admin = os.environ.get("BENCH_DATABASE_URL", DEFAULT_ADMIN_URL)
    items = 1000 if args.quick else 10_000
    people = args.people or (20_000 if args.quick else 1_000_000)
    return asyncio.run(run(admin, items, people))


if __name__ == "__main__":
    sys.exit(main())
