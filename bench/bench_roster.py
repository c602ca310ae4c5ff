"""Roster upsert over HTTP against a plain COPY of the same rows.

Starts a real registry (uvicorn, 127.0.0.1:18111) on a scratch database (created, migrated,
dropped at the end) on the PostgreSQL at ``BENCH_DATABASE_URL`` (default
``postgresql://postgres@127.0.0.1:5432/postgres``) and measures, per repetition on a fresh
enterprise:

- ``PUT /v1/enterprises/{id}/roster`` with N new people (create run);
- the same roster with every person changed (update run: phone, job role, hire date);
- the same roster again (replay: every item ``unchanged``);
- the reference: asyncpg ``copy_records_to_table`` of N rows of the same shape into ``person``
  (same table, same indexes and constraints), hashes and ciphertexts computed beforehand.

Times are wall-clock from sending the request (body already encoded) to the decoded answer.
Target: a 10,000-person upsert under 1 s. Also prints the registry's peak resident memory during
the upserts (``bench.support.PeakRss``).

    .venv/bin/python -m bench.bench_roster [--quick] [--repetitions N]

``--quick``: 1,000 people, 1 repetition.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import secrets
import statistics
import subprocess
import sys
import time
import uuid
from datetime import date
from typing import Any

import asyncpg
import httpx
import orjson

from bench.support import PeakRss, start_service, wait_ready, with_database
from safework_cli import migrate
from safework_common.internal_auth import INTERNAL_HEADER, Caller, InternalTokenMinter, generate_keypair
from safework_common.settings import plain_pg_url
from safework_registry.persons.national_id import NationalIdCipher

PORT = 18111
BASE_URL = f"http://127.0.0.1:{PORT}"
DEFAULT_ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
AUTHORITY = Caller(subject="client:bench", role="authority", client_id="bench")
PERSON_COLUMNS = (
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
    "status",
    "test_cohort",
)


def roster_items(batch: int, people: int, *, changed: bool) -> list[dict[str, Any]]:
    """``people`` valid roster items; ``changed`` alters phone, job role and hire date."""
    items = []
    for k in range(people):
        items.append(
            {
                "national_id": f"0{batch % 90 + 1:02d}1{k + 1:08d}",
                "full_name": f"Nguyễn Văn Công Nhân {k}",
                "date_of_birth": date(1980 + k % 20, 1 + k % 12, 1 + k % 28).isoformat(),
                "sex": "female" if k % 3 else "male",
                "phone": f"09{(k * 7 + (5 if changed else 0)) % 100_000_000:08d}",
                "home_province": "Bắc Giang",
                "job_role": ("manager" if k % 10 == 0 else "worker") if changed else "worker",
                "employee_code": f"B{batch}-{k:06d}",
                "hire_date": "2020-03-01" if changed else "2019-06-01",
            }
        )
    return items


async def timed_put(client: httpx.AsyncClient, url: str, body: bytes, headers: dict[str, str]) -> tuple[float, Any]:
    started = time.perf_counter()
    r = await client.put(url, content=body, headers=headers)
    answer = r.json()
    elapsed = time.perf_counter() - started
    if r.status_code != 200:
        raise SystemExit(f"roster upsert failed: {r.status_code} {r.text[:500]}")
    return elapsed, answer


async def copy_reference(
    url: str, cipher: NationalIdCipher, enterprise_id: uuid.UUID, people: int, batch: int
) -> float:
    """COPY of ``people`` person rows of the same shape (binary, one call)."""
    rows = []
    for k in range(people):
        number = f"096{batch * people + k + 1:09d}"
        rows.append(
            (
                uuid.uuid4(),
                cipher.hash(number),
                cipher.encrypt(number),
                number[-4:],
                f"Nguyễn Văn Công Nhân {k}",
                date(1980 + k % 20, 1 + k % 12, 1 + k % 28),
                "female" if k % 3 else "male",
                f"09{k * 7 % 100_000_000:08d}",
                "Bắc Giang",
                "worker",
                enterprise_id,
                f"REF-{k:06d}",
                date(2019, 6, 1),
                "active",
                k % 2,
            )
        )
    conn = await asyncpg.connect(url)
    try:
        started = time.perf_counter()
        async with conn.transaction():
            await conn.copy_records_to_table("person", records=rows, columns=PERSON_COLUMNS)
        return time.perf_counter() - started
    finally:
        await conn.close()


async def run(admin_url: str, people: int, repetitions: int) -> None:
    name = f"safework_bench_roster_{uuid.uuid4().hex[:8]}"
    admin = await asyncpg.connect(admin_url)
    await admin.execute(f'CREATE DATABASE "{name}"')
    await admin.close()
    url = with_database(admin_url, name)
    proc: subprocess.Popen[bytes] | None = None
    try:
        await asyncio.to_thread(migrate.upgrade, url, "heads", configure_logger=False)
        private, public = generate_keypair()
        national_key = secrets.token_urlsafe(32)
        env = {
            **os.environ,
            "REGISTRY_DATABASE_URL": url,
            "INTERNAL_TOKEN_PUBLIC_KEY": public.decode(),
            "REGISTRY_NATIONAL_ID_KEY": national_key,
            "SAFEWORK_ENV": "development",
            "LOG_LEVEL": "WARNING",
        }
        proc = start_service("safework_registry.app:create_app", PORT, env)
        headers = {
            INTERNAL_HEADER: InternalTokenMinter(private).mint(AUTHORITY),
            "content-type": "application/json",
        }
        cipher = NationalIdCipher(national_key.encode())
        creates, updates, replays, copies = [], [], [], []
        rss = PeakRss({"registry": proc.pid})
        async with httpx.AsyncClient(base_url=BASE_URL, timeout=300) as client:
            await wait_ready(client, proc)
            rss.start()
            for rep in range(repetitions):
                r = await client.post(
                    "/v1/enterprises",
                    headers=headers,
                    json={
                        "tax_code": f"24{rep:08d}",
                        "name": f"Công ty Bench {rep}",
                        "district": "Việt Yên",
                        "zone_type": "KCN",
                        "zone_name": "KCN Vân Trung",
                        "industry": "garment",
                        "headcount": people,
                    },
                )
                enterprise_id = r.json()["id"]
                roster = f"/v1/enterprises/{enterprise_id}/roster"
                first = orjson.dumps({"items": roster_items(rep, people, changed=False)})
                second = orjson.dumps({"items": roster_items(rep, people, changed=True)})
                seconds, answer = await timed_put(client, roster, first, headers)
                assert answer["counts"]["created"] == people, answer["counts"]
                creates.append(seconds)
                seconds, answer = await timed_put(client, roster, second, headers)
                assert answer["counts"]["updated"] == people, answer["counts"]
                updates.append(seconds)
                seconds, answer = await timed_put(client, roster, second, headers)
                assert answer["counts"]["unchanged"] == people, answer["counts"]
                replays.append(seconds)
                ref = await client.post(
                    "/v1/enterprises",
                    headers=headers,
                    json={"tax_code": f"25{rep:08d}", "name": "Ref", "district": "Việt Yên", "zone_type": "OUTSIDE"},
                )
                copies.append(await copy_reference(url, cipher, uuid.UUID(ref.json()["id"]), people, rep))
                if rep == 0:
                    print(f"body sizes: create {len(first) / 1e6:.2f} MB, update {len(second) / 1e6:.2f} MB")
            rss.stop()
        copy = statistics.median(copies)
        print(f"\nroster upsert of {people:,} people, median of {repetitions} repetition(s), registry on :{PORT}")
        print(f"{'run':<28}{'seconds':>10}{'rows/s':>12}{'x COPY time':>14}")
        for label, values in (
            ("create (PUT, all new)", creates),
            ("update (PUT, all changed)", updates),
            ("replay (PUT, all unchanged)", replays),
            ("reference: asyncpg COPY", copies),
        ):
            seconds = statistics.median(values)
            print(f"{label:<28}{seconds:>10.3f}{people / seconds:>12,.0f}{seconds / copy:>14.1f}")
        worst = max(statistics.median(creates), statistics.median(updates))
        target = "not measured (--quick)" if people < 10_000 else ("met" if worst < 1.0 else "missed")
        print(f"target (10,000 people < 1 s per upsert): {target}")
        print(f"peak resident memory during the upserts (sampled every 50 ms): {rss.report()}")
    finally:
        if proc is not None:
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
        admin = await asyncpg.connect(admin_url)
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.bench_roster", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="1,000 people, 1 repetition")
    parser.add_argument("--repetitions", type=int, default=None)
    args = parser.parse_args(argv)
    people = 1_000 if args.quick else 10_000
    repetitions = args.repetitions or (1 if args.quick else 3)
    admin_url = os.environ.get("BENCH_DATABASE_URL", DEFAULT_ADMIN_URL)
    asyncio.run(run(plain_pg_url(admin_url), people, repetitions))
    return 0


if __name__ == "__main__":
    sys.exit(main())
