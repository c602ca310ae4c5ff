"""Idempotency through the public door (issue "Hardening", item 4): "the same lab batch posted 10
times concurrently leaves exactly one set of rows and answers consistently; the same
Idempotency-Key with another body gets 422."

The posts are concurrent at the database: each request the gateway forwards runs in the
registry in its own session on its own connection, and ``asyncio.gather`` interleaves them at
every await, so their transactions overlap (the in-process ASGI stack of ``tests/gateway``).
``test_concurrent_batches_against_real_servers`` repeats the two concurrent cases against the
gateway and the registry running under uvicorn (real sockets, the gateway's pooled transport)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest

from safework_cli import migrate
from safework_cli.policy import load_policies
from safework_common.db import make_engine, make_sessionmaker
from safework_common.settings import plain_pg_url
from safework_gateway.clients.service import create_client
from tests.gateway.conftest import Stack, bearer
from tests.gateway.world import DISTRICT_A, Tenant, enterprise, lab, national_id, tax_code
from tests.hardening.conftest import Snapshot
from tests.reliability.conftest import ServiceProcess, free_port, service_env, stop_all
from tests.support import database

COPIES = 10
WHEN = "2021-09-15T07:30:00+07:00"
LATER = "2021-09-15T15:00:00+07:00"
ROW_TABLES = ("test_result", "pool", "pool_member")


def lab_batch(tenant: Tenant, tag: str) -> dict[str, Any]:
    """Six single results (one named by national ID), a negative pool of three (which gives each
    member a pooled negative result) and a positive pool of two: 9 results, 2 pools, 5 members."""
    people = tenant.people

    def single(k: int, **over: Any) -> dict[str, Any]:
        return {"type": "single", "sample_id": f"{tag}-S{k}", "person_id": people[k], "kind": "PCR",
                "collected_at": WHEN, "resulted_at": LATER, "result": "NEGATIVE", **over}  # fmt: skip

    items = [
        single(0),
        single(1, kind="RAPID_ANTIGEN"),
        single(2, result="POSITIVE"),
        single(3, result="INVALID"),
        single(4),
        {**single(5), "person_id": None, "national_id": tenant.national_ids[5]},
        {"type": "pool", "pool_sample_id": f"{tag}-PN", "members": [{"person_id": p} for p in people[5:8]],
         "collected_at": WHEN, "resulted_at": LATER, "result": "NEGATIVE"},
        {"pool_sample_id": f"{tag}-PP", "members": [{"person_id": people[0]}, {"national_id": tenant.national_ids[1]}],
         "collected_at": WHEN, "resulted_at": LATER, "result": "POSITIVE"},
    ]  # fmt: skip
    for item in items:
        if item.get("person_id") is None:
            item.pop("person_id", None)
    return {"items": items}


ONE_SET = {"test_result": 9, "pool": 2, "pool_member": 5}


async def row_counts(url: str, tables: tuple[str, ...] = (*ROW_TABLES, "idempotency_record")) -> dict[str, int]:
    conn = await asyncpg.connect(plain_pg_url(url))
    try:
        return {t: await conn.fetchval(f'SELECT count(*) FROM "{t}"') for t in tables}  # noqa: S608 - fixed names
    finally:
        await conn.close()


def assert_one_accepted_per_item(answers: list[httpx.Response], items: int) -> None:
    """Every answer is 200 with an outcome per item; each item is ``accepted`` in exactly one
    answer and ``duplicate`` in all the others; nothing is rejected."""
    for a in answers:
        assert a.status_code == 200, a.text[:500]
        body = a.json()
        assert len(body["items"]) == items
        assert body["rejected"] == 0 and body["accepted"] + body["duplicate"] == items
    for k in range(items):
        statuses = sorted(a.json()["items"][k]["status"] for a in answers)
        assert statuses == ["accepted"] + ["duplicate"] * (len(answers) - 1), (k, statuses)


def classify(answers: list[httpx.Response]) -> tuple[list[httpx.Response], list[httpx.Response], list[httpx.Response]]:
    """(executed, replayed, refused as in progress); anything else fails."""
    executed, replayed, busy = [], [], []
    for a in answers:
        if a.status_code == 200 and a.headers.get("idempotent-replayed") == "true":
            replayed.append(a)
        elif a.status_code == 200:
            executed.append(a)
        elif a.status_code == 409 and a.json()["error"]["code"] == "idempotency_key_in_progress":
            assert int(a.headers["retry-after"]) > 0
            busy.append(a)
        else:
            raise AssertionError(f"unexpected answer {a.status_code}: {a.text[:500]}")
    return executed, replayed, busy


def assert_one_execution(answers: list[httpx.Response], items: int) -> Any:
    """One request did the work (every item accepted); each other one was refused as in
    progress or replayed that answer (the same JSON document: the replay is stored as jsonb,
    which keeps values, not key order or spacing). Returns the executed answer's JSON."""
    executed, replayed, busy = classify(answers)
    assert len(executed) == 1, [a.status_code for a in answers]
    first = executed[0]
    assert first.json()["accepted"] == items
    assert all(r.json() == first.json() for r in replayed)
    assert len(executed) + len(replayed) + len(busy) == len(answers)
    return first.json()


async def setup_lab(stack: Stack) -> tuple[Tenant, str, dict[str, str]]:
    tenant = await enterprise(stack, DISTRICT_A, people=8)
    lab_id = await lab(stack)
    return tenant, lab_id, bearer(stack.token("lab", lab_id=lab_id))


async def test_ten_concurrent_posts_of_one_batch_leave_one_set_of_rows(stack: Stack, db: str) -> None:
    """Without a key, the sample IDs are the idempotency key (UNIQUE (lab, sample id))."""
    tenant, lab_id, headers = await setup_lab(stack)
    body = lab_batch(tenant, "B1")
    url = f"/api/v1/labs/{lab_id}/results"

    answers = await asyncio.gather(*(stack.http.post(url, json=body, headers=headers) for _ in range(COPIES)))

    assert_one_accepted_per_item(list(answers), len(body["items"]))
    assert await row_counts(db) == {**ONE_SET, "idempotency_record": 0}
    # And later, sequentially: still one set, every item a duplicate.
    again = await stack.http.post(url, json=body, headers=headers)
    assert again.json()["duplicate"] == len(body["items"])
    assert await row_counts(db) == {**ONE_SET, "idempotency_record": 0}


async def test_ten_concurrent_posts_with_one_key_execute_once(stack: Stack, db: str) -> None:
    """One claims the key and does the work; the others get 409 idempotency_key_in_progress
    (with Retry-After) or, once it has committed, its answer replayed; never a second write."""
    tenant, lab_id, headers = await setup_lab(stack)
    body = lab_batch(tenant, "K1")
    url = f"/api/v1/labs/{lab_id}/results"
    keyed = {**headers, "Idempotency-Key": "lab-batch-2021-09-15-0042"}

    answers = await asyncio.gather(*(stack.http.post(url, json=body, headers=keyed) for _ in range(COPIES)))

    first = assert_one_execution(list(answers), len(body["items"]))
    assert await row_counts(db) == {**ONE_SET, "idempotency_record": 1}
    retry = await stack.http.post(url, json=body, headers=keyed)
    assert retry.status_code == 200 and retry.headers["idempotent-replayed"] == "true"
    assert retry.json() == first
    assert await row_counts(db) == {**ONE_SET, "idempotency_record": 1}


async def test_the_same_key_with_another_body_is_422_and_writes_nothing(
    stack: Stack, snapshot: Callable[[], Awaitable[Snapshot]]
) -> None:
    tenant, lab_id, headers = await setup_lab(stack)
    url = f"/api/v1/labs/{lab_id}/results"
    keyed = {**headers, "Idempotency-Key": "lab-batch-0043"}
    first = await stack.http.post(url, json=lab_batch(tenant, "R1"), headers=keyed)
    assert first.status_code == 200 and first.json()["accepted"] == 8
    before = await snapshot()

    other = lab_batch(tenant, "R2")  # other sample IDs: it would write 9 more results
    r = await stack.http.post(url, json=other, headers=keyed)
    assert r.status_code == 422, r.text
    error = r.json()["error"]
    assert error["code"] == "idempotency_key_reused"
    assert error["details"][0]["field"] == "header.Idempotency-Key"
    # Concurrent misuses contend for the key's lock first: each is refused, as reused or as in
    # progress; none is executed.
    answers = await asyncio.gather(*(stack.http.post(url, json=other, headers=keyed) for _ in range(COPIES)))
    codes = {(a.status_code, a.json()["error"]["code"]) for a in answers}
    assert codes <= {(422, "idempotency_key_reused"), (409, "idempotency_key_in_progress")}, codes
    assert await snapshot() == before
    # The first answer is still the key's answer.
    retry = await stack.http.post(url, json=lab_batch(tenant, "R1"), headers=keyed)
    assert retry.status_code == 200 and retry.headers["idempotent-replayed"] == "true"
    assert retry.json() == first.json()


# --- the same, against real servers ---------------------------------------------------------------

TEST_KEK = "a2tra2tra2tra2tra2tra2tra2tra2tra2tra2tra2s"  # 32 bytes, base64url: a test-only key
HARDENING_PORTS = range(18210, 18220)


@dataclass
class RealStack:
    base_url: str
    database_url: str
    processes: list[ServiceProcess]


@pytest.fixture
async def real_stack(admin_url: str, keys_dir: Path, tmp_path: Path) -> AsyncIterator[RealStack]:
    """Registry, scheduler and gateway under uvicorn on ports 18210-18219, on a database of
    their own (dropped afterwards)."""
    url = await database.create_database(admin_url, prefix="safework_hardening")
    processes: list[ServiceProcess] = []
    try:
        await asyncio.to_thread(migrate.upgrade, url, "heads", configure_logger=False)
        await load_policies(url)
        ports: list[int] = []
        for _ in range(3):
            ports.append(free_port(range(max([HARDENING_PORTS.start - 1, *ports]) + 1, HARDENING_PORTS.stop)))
        registry, scheduler, gateway = (f"http://127.0.0.1:{p}" for p in ports)
        env = service_env(keys_dir, DATABASE_URL=url)
        gateway_env = {
            **env,
            "GATEWAY_INTERNAL_TOKEN_PRIVATE_KEY": (keys_dir / "internal_ed25519.pem").read_text(),
            "GATEWAY_KEY_ENCRYPTION_KEY": TEST_KEK,
            "GATEWAY_REGISTRY_URL": registry,
            "GATEWAY_SCHEDULER_URL": scheduler,
            "GATEWAY_RATE_LIMIT_BURST": "100000",
        }
        for name, factory, port, service_env_ in (
            ("registry", "safework_registry.app:create_app", ports[0], env),
            ("scheduler", "safework_scheduler.app:create_app", ports[1], env),
            ("gateway", "safework_gateway.app:create_app", ports[2], gateway_env),
        ):
            processes.append(ServiceProcess(name, factory, port, service_env_, tmp_path))
        for p in processes:
            p.start()
        await asyncio.gather(*(p.wait_ready() for p in processes))
        yield RealStack(gateway, url, processes)
    finally:
        stop_all(processes)
        await database.drop_database(admin_url, url)


async def grant(http: httpx.AsyncClient, client_id: str, secret: str) -> dict[str, str]:
    r = await http.post(
        "/api/v1/auth/token",
        data={"grant_type": "client_credentials", "client_id": client_id, "client_secret": secret},
    )
    assert r.status_code == 200, r.text
    return bearer(r.json()["access_token"])


async def test_concurrent_batches_against_real_servers(real_stack: RealStack) -> None:
    """Ten concurrent copies of a batch over real connections, without a key and then with
    one: one set of rows each time, one execution per key."""
    engine = make_engine(real_stack.database_url, pool_size=1)
    try:
        async with make_sessionmaker(engine)() as session, session.begin():
            client, secret = await create_client(session, name="province", role="authority", created_by="test")
            client_id = client.client_id
    finally:
        await engine.dispose()
    async with httpx.AsyncClient(base_url=real_stack.base_url, timeout=60.0) as http:
        province = await grant(http, client_id, secret)
        body = {"tax_code": tax_code(), "name": "Công ty X", "district": DISTRICT_A, "zone_type": "OUTSIDE"}
        r = await http.post("/api/v1/enterprises", json=body, headers=province)
        assert r.status_code == 201, r.text
        tenant = Tenant(enterprise_id=r.json()["id"], district=DISTRICT_A)
        for n in range(8):
            nid = national_id()
            body = {"national_id": nid, "full_name": f"Người {n}", "date_of_birth": "1990-01-01", "sex": "male",
                    "enterprise_id": tenant.enterprise_id, "employee_code": f"NV-{n}"}  # fmt: skip
            r = await http.post("/api/v1/persons", json=body, headers=province)
            assert r.status_code == 201, r.text
            tenant.people.append(r.json()["id"])
            tenant.national_ids.append(nid)
        r = await http.post("/api/v1/labs", json={"name": "Lab", "licence_code": "BG-REAL-1"}, headers=province)
        assert r.status_code == 201, r.text
        lab_id = r.json()["id"]
        r = await http.post("/api/v1/clients", json={"name": "lab", "role": "lab", "lab_id": lab_id}, headers=province)
        assert r.status_code == 201, r.text
        headers = await grant(http, r.json()["client_id"], r.json()["client_secret"])
        url = f"/api/v1/labs/{lab_id}/results"

        plain = lab_batch(tenant, "REAL")
        answers = await asyncio.gather(*(http.post(url, json=plain, headers=headers) for _ in range(COPIES)))
        assert_one_accepted_per_item(list(answers), len(plain["items"]))
        assert await row_counts(real_stack.database_url) == {**ONE_SET, "idempotency_record": 0}

        keyed_body = lab_batch(tenant, "REALK")
        keyed = {**headers, "Idempotency-Key": "real-batch-1"}
        answers = await asyncio.gather(*(http.post(url, json=keyed_body, headers=keyed) for _ in range(COPIES)))
        assert_one_execution(list(answers), len(keyed_body["items"]))
        twice = {table: 2 * n for table, n in ONE_SET.items()}
        assert await row_counts(real_stack.database_url) == {**twice, "idempotency_record": 1}
    for p in real_stack.processes:
        assert "Traceback" not in p.log(), p.log()
