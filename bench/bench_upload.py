"""Lab results uploaded as a CSV file against the same rows as a JSON batch (issue 16).

Starts a real registry (uvicorn, 127.0.0.1:18131) on a scratch database on the PostgreSQL at
``BENCH_DATABASE_URL``, seeds one lab and 10,000 people by COPY (``bench.bench_ingest.seed``),
then, alternating in the same run with fresh sample IDs each time:

(a) the reference: ``POST /v1/labs/{lab_id}/results`` with the rows as a JSON batch;
(b) the same rows as a CSV file (``Content-Type: text/csv``, Vietnamese headers, a BOM,
    day-first local times, people named by national ID as spreadsheets do);
(c) for information, the same rows as an XLSX workbook (no target).

Each measured from sending the request to the answer. Prints the median rates and the ratio
CSV/JSON (target: >= 50%).

    .venv/bin/python -m bench.bench_upload [--quick] [--repetitions N]
"""

from __future__ import annotations

import argparse
import asyncio
import io
import os
import secrets
import statistics
import subprocess
import sys
import time
import uuid

import asyncpg
import httpx
import openpyxl
import orjson

from bench.bench_ingest import seed
from bench.support import start_service, wait_ready, with_database
from safework_cli import migrate
from safework_common.contract.files import RESULT_COLUMNS, XLSX_MEDIA_TYPE
from safework_common.internal_auth import INTERNAL_HEADER, Caller, InternalTokenMinter, generate_keypair
from safework_common.settings import plain_pg_url
from safework_registry.persons.national_id import NationalIdCipher

PORT = 18131
BASE_URL = f"http://127.0.0.1:{PORT}"
DEFAULT_ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
HEADER = [c.header for c in RESULT_COLUMNS if c.field not in ("person_id", "pool_sample_id")]


def rows(people: list[tuple[uuid.UUID, str]], prefix: str) -> list[tuple[str, str, str]]:
    """(sample ID, national ID, result) per person."""
    return [(f"{prefix}-{k:05d}", nid, "NEGATIVE" if k % 50 else "POSITIVE") for k, (_, nid) in enumerate(people)]


def json_body(batch: list[tuple[str, str, str]]) -> bytes:
    items = [
        {"sample_id": s, "national_id": n, "kind": "PCR", "collected_at": "2021-09-13T07:30:00+07:00",
         "resulted_at": "2021-09-13T15:30:00+07:00", "result": r}
        for s, n, r in batch
    ]  # fmt: skip
    return orjson.dumps({"items": items})


def csv_body(batch: list[tuple[str, str, str]]) -> bytes:
    words = {"NEGATIVE": "Âm tính", "POSITIVE": "Dương tính"}
    lines = [",".join(HEADER)]
    lines += [f"{s},{n},PCR,13/09/2021 07:30,13/09/2021 15:30,{words[r]}" for s, n, r in batch]
    return b"\xef\xbb\xbf" + ("\r\n".join(lines) + "\r\n").encode()


def xlsx_body(batch: list[tuple[str, str, str]]) -> bytes:
    book = openpyxl.Workbook(write_only=True)
    sheet = book.create_sheet()
    sheet.append(HEADER)
    for s, n, r in batch:
        sheet.append([s, n, "PCR", "13/09/2021 07:30", "13/09/2021 15:30", r])
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


FORMS = {
    "json": (json_body, "application/json"),
    "csv": (csv_body, "text/csv"),
    "xlsx": (xlsx_body, XLSX_MEDIA_TYPE),
}


async def post(
    client: httpx.AsyncClient, minter: InternalTokenMinter, lab: Caller, lab_id: uuid.UUID, form: str, body: bytes
) -> float:
    headers = {INTERNAL_HEADER: minter.mint(lab), "Content-Type": FORMS[form][1]}
    started = time.perf_counter()
    r = await client.post(f"/v1/labs/{lab_id}/results", content=body, headers=headers)
    elapsed = time.perf_counter() - started
    r.raise_for_status()
    answer = r.json()
    if answer["rejected"]:
        refused = [o for o in answer["items"] if o.get("code")][:3]
        raise RuntimeError(f"{form}: {answer['rejected']} rejected: {refused}")
    return elapsed


async def run(admin_url: str, items: int, repetitions: int) -> int:
    name = f"safework_bench_{secrets.token_hex(4)}"
    admin = await asyncpg.connect(admin_url)
    await admin.execute(f'CREATE DATABASE "{name}"')
    url = with_database(admin_url, name)
    proc: subprocess.Popen[bytes] | None = None
    try:
        await asyncio.to_thread(migrate.upgrade, url, "heads", configure_logger=False)
        key = secrets.token_urlsafe(32)
        lab_id, people = await seed(url, NationalIdCipher(key.encode()), items)
        people = people[:items]
        private, public = generate_keypair()
        minter = InternalTokenMinter(private)
        lab = Caller(subject=f"client:lab-{lab_id}", role="lab", client_id="lab-bench", lab_id=str(lab_id))
        env = {
            **os.environ,
            "SAFEWORK_ENV": "development",
            "REGISTRY_DATABASE_URL": url,
            "REGISTRY_NATIONAL_ID_KEY": key,
            "INTERNAL_TOKEN_PUBLIC_KEY": public.decode(),
            "LOG_LEVEL": "WARNING",
        }
        proc = start_service("safework_registry.app:create_app", PORT, env)
        rates: dict[str, list[float]] = {form: [] for form in FORMS}
        async with httpx.AsyncClient(base_url=BASE_URL, timeout=300) as client:
            await wait_ready(client, proc)
            for form, (make, _) in FORMS.items():  # warm-up: imports (openpyxl), statements, the pool
                await post(client, minter, lab, lab_id, form, make(rows(people[:50], f"W{form}")))
            for rep in range(repetitions):
                for form, (make, _) in FORMS.items():
                    body = make(rows(people, f"{form[0].upper()}{rep}"))
                    elapsed = await post(client, minter, lab, lab_id, form, body)
                    rates[form].append(items / elapsed)
                    print(f"  {form:<5} rep {rep + 1}: {elapsed * 1000:8.1f} ms  {items / elapsed:8.0f} results/s")
        median = {form: statistics.median(r) for form, r in rates.items()}
        print(f"rows per request: {items}, repetitions: {repetitions}, people named by national ID")
        print(f"JSON batch (reference, median): {median['json']:8.0f} results/s")
        print(f"CSV upload          (median): {median['csv']:8.0f} results/s")
        print(f"XLSX upload         (median): {median['xlsx']:8.0f} results/s (no target)")
        print(f"ratio CSV/JSON: {median['csv'] / median['json']:.0%} (target >= 50%)")
        return 0
    finally:
        if proc is not None:
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="1,000 rows, 1 repetition")
    parser.add_argument("--repetitions", type=int, default=5)
    args = parser.parse_args()
    items, reps = (1_000, 1) if args.quick else (10_000, args.repetitions)
    admin_url = plain_pg_url(os.environ.get("BENCH_DATABASE_URL", DEFAULT_ADMIN_URL))
    sys.exit(asyncio.run(run(admin_url, items, reps)))


if __name__ == "__main__":
    main()
