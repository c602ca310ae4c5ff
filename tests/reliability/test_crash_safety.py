"""Crash safety of results ingest (Hardening item 5).

A real registry (uvicorn) is SIGKILLed again and again while three lab clients post result batches
(single samples and pools, with and without ``Idempotency-Key``); it is restarted each time, and
every batch whose answer was not received is posted again, unchanged. At the end:

- every item ever acknowledged ``accepted`` or ``duplicate`` is in ``test_result`` exactly once,
  with the data that was posted; nothing else is (rejected and unacknowledged items are not);
- pools are whole: a stored pool has all its members, a negative one every member's pooled
  negative PCR (seeds/001), a positive one none; an unstored pool has nothing;
- posting everything again answers ``duplicate`` for what is stored (without a key) and replays
  the first answer (with the key).

CI size: 5 kills, batches of 200 items. Larger: ``pytest tests/reliability --crash-rounds 50
--crash-batch 1000`` (or ``SAFEWORK_CRASH_ROUNDS`` / ``SAFEWORK_CRASH_BATCH``).
"""

from __future__ import annotations

import asyncio
import collections
import random
import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import orjson
import pytest
from fastapi import FastAPI

from safework_common.internal_auth import INTERNAL_HEADER, InternalTokenMinter
from safework_registry.results import ingest as ingest_module
from tests import callers
from tests.conftest import running
from tests.registry.factories import Seed, cipher_for
from tests.reliability.conftest import CRASH_PORTS, ServiceProcess, free_port, service_env, until

SEED = 20210911
WORKERS = 3
PEOPLE = 400
ICT = timezone(timedelta(hours=7))
FIRST_COLLECTED = datetime(2021, 9, 1, tzinfo=ICT)
# How long a batch may keep being refused as "in progress" before the test calls it stuck.
STUCK_AFTER = 30.0


@dataclass
class Batch:
    """One lab batch and what the test expects of it."""

    n: int
    body: bytes
    key: str | None
    singles: dict[str, tuple[uuid.UUID, str, datetime, datetime, str]]
    pools: dict[str, tuple[list[uuid.UUID], str, datetime, datetime]]
    rejected: dict[str, str]  # sample ID -> the rejection code it must get
    answer: dict[str, Any] | None = None  # the first acknowledged answer
    refused_since: float | None = None

    def item_ids(self) -> list[str]:
        return [item.get("sample_id") or item["pool_sample_id"] for item in orjson.loads(self.body)["items"]]


def make_batch(n: int, size: int, people: list[tuple[uuid.UUID, str]]) -> Batch:
    """Batch ``n``: mostly single results (some naming the person by national ID), one pool in
    ten (10 or 20 members, one in three positive), and in every third batch two items that must
    be rejected. Content depends on ``n`` only."""
    rng = random.Random(SEED * 1_000_003 + n)
    items: list[dict[str, Any]] = []
    singles: dict[str, tuple[uuid.UUID, str, datetime, datetime, str]] = {}
    pools: dict[str, tuple[list[uuid.UUID], str, datetime, datetime]] = {}
    rejected: dict[str, str] = {}
    for k in range(size):
        collected = FIRST_COLLECTED + timedelta(minutes=rng.randrange(60 * 24 * 20))
        resulted = collected + timedelta(hours=rng.choice((1, 6, 20)))
        if k % 10 == 5:
            sid = f"P{n:05d}-{k:05d}"
            members = [pid for pid, _ in rng.sample(people, 10 if k % 20 == 5 else 20)]
            result = "POSITIVE" if k % 30 == 5 else "NEGATIVE"
            items.append(
                {
                    "type": "pool",
                    "pool_sample_id": sid,
                    "members": [{"person_id": str(m)} for m in members],
                    "collected_at": collected.isoformat(),
                    "resulted_at": resulted.isoformat(),
                    "result": result,
                }
            )
            pools[sid] = (members, result, collected, resulted)
            continue
        sid = f"R{n:05d}-{k:05d}"
        pid, nid = rng.choice(people)
        kind = rng.choice(("PCR", "RAPID_ANTIGEN"))
        result = "POSITIVE" if rng.random() < 0.02 else "NEGATIVE"
        item: dict[str, Any] = {"sample_id": sid, "kind": kind, "result": result}
        if n % 3 == 2 and k == 1:
            item["person_id"] = str(uuid.uuid4())
            rejected[sid] = "person_not_found"
        elif n % 3 == 2 and k == 2:
            resulted = collected - timedelta(hours=1)
            rejected[sid] = "resulted_before_collected"
        if "person_id" not in item:
            if k % 7 == 0:
                item["national_id"] = nid
            else:
                item["person_id"] = str(pid)
        item["collected_at"] = collected.isoformat()
        item["resulted_at"] = resulted.isoformat()
        items.append(item)
        if sid not in rejected:
            singles[sid] = (pid, kind, collected, resulted, result)
    key = f"crash-batch-{n}" if n % 2 == 0 else None
    return Batch(n, orjson.dumps({"items": items}), key, singles, pools, rejected)


@dataclass
class Load:
    """Lab clients posting batches, and the record of what the registry acknowledged."""

    lab_id: uuid.UUID
    minter: InternalTokenMinter
    size: int
    people: list[tuple[uuid.UUID, str]]
    batches: list[Batch] = field(default_factory=list)
    retry: collections.deque[Batch] = field(default_factory=collections.deque)
    up: asyncio.Event = field(default_factory=asyncio.Event)
    stop_new: bool = False
    in_flight: int = 0
    acknowledged: int = 0
    posts: int = 0
    cut_by_kill: int = 0  # requests whose answer never came (the process died under them)
    refused_in_progress: int = 0
    lost_answers_replayed: int = 0  # keyed batches whose first answer reached us as a replay
    lost_answers_duplicate: int = 0  # unkeyed batches stored by an attempt whose answer was lost
    failures: list[str] = field(default_factory=list)

    @property
    def path(self) -> str:
        return f"/v1/labs/{self.lab_id}/results"

    def headers(self, key: str | None) -> dict[str, str]:
        headers = {INTERNAL_HEADER: self.minter.mint(callers.lab(self.lab_id)), "Content-Type": "application/json"}
        if key is not None:
            headers["Idempotency-Key"] = key
        return headers

    def unacknowledged(self) -> int:
        return sum(b.answer is None for b in self.batches)

    def next_job(self) -> Batch | None:
        if self.retry:
            return self.retry.popleft()
        if self.stop_new:
            return None
        batch = make_batch(len(self.batches), self.size, self.people)
        self.batches.append(batch)
        return batch

    async def worker(self, client: httpx.AsyncClient) -> None:
        while not self.failures:
            batch = self.next_job()
            if batch is None:
                if self.unacknowledged() == 0:
                    return
                await asyncio.sleep(0.01)  # another worker holds the last ones
                continue
            await self.up.wait()
            self.in_flight += 1
            self.posts += 1
            try:
                r = await client.post(self.path, content=batch.body, headers=self.headers(batch.key))
            except httpx.TransportError:
                self.cut_by_kill += 1
                self.retry.append(batch)
                await asyncio.sleep(0.02)
                continue
            finally:
                self.in_flight -= 1
            if self.settle(batch, r):
                await asyncio.sleep(0.05)  # refused as in progress: give the old attempt a moment

    def settle(self, batch: Batch, r: httpx.Response) -> bool:
        """Record one answer; True when the batch is to be posted again."""
        if r.status_code == 409 and r.json()["error"]["code"] == "idempotency_key_in_progress":
            # A killed attempt's transaction may take a moment to end; it must not stay stuck.
            self.refused_in_progress += 1
            now = time.monotonic()
            batch.refused_since = batch.refused_since or now
            if now - batch.refused_since > STUCK_AFTER:
                self.failures.append(f"batch {batch.n}: key {batch.key} stuck 'in progress' after a crash")
            self.retry.append(batch)
            return True
        if r.status_code != 200:
            self.failures.append(f"batch {batch.n}: {r.status_code} {r.text[:500]}")
            return False
        answer = r.json()
        problem = check_answer(batch, answer)
        if problem:
            self.failures.append(f"batch {batch.n}: {problem}")
            return False
        if batch.answer is None:
            batch.answer = answer
            self.acknowledged += 1
            if r.headers.get("idempotent-replayed") == "true":
                self.lost_answers_replayed += 1
            elif answer["duplicate"]:
                self.lost_answers_duplicate += 1
        return False


def check_answer(batch: Batch, answer: dict[str, Any]) -> str | None:
    """Per-item outcomes that can be right for this batch: the expected rejections, and
    accepted or duplicate for every other item (never ``sample_conflict``), all the same."""
    ids = batch.item_ids()
    got = [(o["index"], o["sample_id"]) for o in answer["items"]]
    if got != list(enumerate(ids)):
        return "outcomes are not one per item in request order"
    for o in answer["items"]:
        want = batch.rejected.get(o["sample_id"])
        if want is not None and (o["status"], o.get("code")) != ("rejected", want):
            return f"{o['sample_id']}: expected rejected {want}, got {o}"
        if want is None and o["status"] not in ("accepted", "duplicate"):
            return f"{o['sample_id']}: expected stored, got {o}"
    # A batch is stored whole or not at all: an earlier attempt cannot have stored part of it.
    stored = {o["status"] for o in answer["items"] if o["status"] != "rejected"}
    if len(stored) > 1:
        return "part of the batch was stored by an earlier attempt (accepted and duplicate mixed)"
    return None


async def kill_repeatedly(load: Load, registry: ServiceProcess, rounds: int, rng: random.Random) -> int:
    """``rounds`` times: let ingest run a random while, SIGKILL the registry with requests in
    flight, restart it, and wait for one more acknowledged batch before the next kill."""
    kills = 0
    for _ in range(rounds):
        await asyncio.sleep(rng.uniform(0.05, 0.6))
        await until(lambda: load.in_flight > 0 or bool(load.failures), 60, "a request in flight")
        if load.failures:
            break
        load.up.clear()
        await registry.sigkill()
        kills += 1
        registry.start()
        await registry.wait_ready()
        acknowledged = load.acknowledged
        load.up.set()
        await until(
            lambda before=acknowledged: load.acknowledged > before or bool(load.failures),  # type: ignore[misc]
            60,
            "a batch acknowledged after restart",
        )
    return kills


async def stored_state(url: str, lab_id: uuid.UUID) -> tuple[list[asyncpg.Record], list[asyncpg.Record]]:
    conn = await asyncpg.connect(url)
    try:
        results = await conn.fetch(
            "SELECT t.sample_id, t.person_id, t.kind, t.collected_at, t.resulted_at, t.result, t.pooled, "
            "p.pool_sample_id FROM test_result t LEFT JOIN pool p ON p.id = t.pool_id WHERE t.lab_id = $1",
            lab_id,
        )
        pools = await conn.fetch(
            "SELECT p.pool_sample_id, p.size, p.result, "
            "  (SELECT array_agg(m.person_id ORDER BY m.position) FROM pool_member m WHERE m.pool_id = p.id) "
            "    AS members, "
            "  (SELECT array_agg(t.person_id ORDER BY t.sample_id) FROM test_result t WHERE t.pool_id = p.id) "
            "    AS results "
            "FROM pool p WHERE p.lab_id = $1",
            lab_id,
        )
    finally:
        await conn.close()
    return list(results), list(pools)


async def test_acknowledged_results_survive_sigkill_exactly_once(
    scratch_database: str,
    keys_dir: Path,
    minter: InternalTokenMinter,
    tmp_path: Path,
    crash_rounds: int,
    crash_batch: int,
) -> None:
    seed = Seed(scratch_database, cipher_for(keys_dir))
    enterprise = await seed.enterprise()
    people = await seed.people(enterprise, PEOPLE)
    lab_id = await seed.lab()

    port = free_port(CRASH_PORTS)
    registry = ServiceProcess(
        "registry",
        "safework_registry.app:create_app",
        port,
        service_env(keys_dir, REGISTRY_DATABASE_URL=scratch_database),
        tmp_path,
    )
    load = Load(lab_id, minter, crash_batch, people)
    registry.start()
    try:
        await registry.wait_ready()
        load.up.set()
        async with httpx.AsyncClient(base_url=registry.base_url, timeout=60) as client:
            workers = [asyncio.create_task(load.worker(client)) for _ in range(WORKERS)]
            kills = await kill_repeatedly(load, registry, crash_rounds, random.Random(SEED))
            load.stop_new = True  # from here on, only retries of what was not acknowledged
            await asyncio.gather(*workers)
            assert not load.failures, load.failures[:5]

            # Everything again: what is stored answers duplicate; a key replays its first answer.
            for batch in load.batches:
                assert batch.answer is not None
                again = await client.post(load.path, content=batch.body, headers=load.headers(None))
                assert again.status_code == 200, again.text
                for first, now in zip(batch.answer["items"], again.json()["items"], strict=True):
                    want = "rejected" if first["status"] == "rejected" else "duplicate"
                    assert (now["status"], now.get("code")) == (want, first.get("code")), (batch.n, first, now)
                if batch.key is not None:
                    replay = await client.post(load.path, content=batch.body, headers=load.headers(batch.key))
                    assert replay.status_code == 200, replay.text
                    assert replay.headers.get("idempotent-replayed") == "true"
                    assert replay.json() == batch.answer
    finally:
        registry.stop()

    # The rule the test is for: every acknowledged result stored exactly once, nothing else.
    expected_singles: dict[str, tuple[uuid.UUID, str, datetime, datetime, str]] = {}
    expected_pools: dict[str, tuple[list[uuid.UUID], str, datetime, datetime]] = {}
    for batch in load.batches:
        assert batch.answer is not None
        for o in batch.answer["items"]:
            if o["status"] == "rejected":
                continue
            sid = o["sample_id"]
            if sid in batch.singles:
                expected_singles[sid] = batch.singles[sid]
            else:
                expected_pools[sid] = batch.pools[sid]
    results, pools = await stored_state(scratch_database, lab_id)

    sample_ids = [r["sample_id"] for r in results]
    assert len(sample_ids) == len(set(sample_ids)), "a result is stored twice"
    singles = {r["sample_id"]: r for r in results if r["pool_sample_id"] is None}
    assert set(singles) == set(expected_singles), "stored single results differ from the acknowledged ones"
    for sid, (pid, kind, collected, resulted, result) in expected_singles.items():
        row = singles[sid]
        assert (row["person_id"], row["kind"], row["collected_at"], row["resulted_at"], row["result"]) == (
            pid,
            kind,
            collected,
            resulted,
            result,
        ), sid
        assert not row["pooled"], sid

    # Pools are whole: members all there; a negative pool's members each have its result, in
    # position order (sample ID <pool>#<position>), a positive pool's none (seeds/001).
    assert {p["pool_sample_id"] for p in pools} == set(expected_pools), "stored pools differ from acknowledged"
    pooled = collections.Counter(r["pool_sample_id"] for r in results if r["pool_sample_id"] is not None)
    for p in pools:
        pool_members, result, _, _ = expected_pools[p["pool_sample_id"]]
        assert (p["size"], p["result"], list(p["members"] or [])) == (len(pool_members), result, pool_members)
        results_of = pool_members if result == "NEGATIVE" else []
        by_position = sorted(
            zip([f"{p['pool_sample_id']}#{k + 1}" for k in range(len(results_of))], results_of, strict=True)
        )
        assert list(p["results"] or []) == [pid for _, pid in by_position], p["pool_sample_id"]
        assert pooled[p["pool_sample_id"]] == len(results_of)
    assert set(pooled) <= set(expected_pools)

    log = registry.log()
    assert "unhandled error" not in log and "Traceback" not in log, log[-3000:]
    # The kills must have hit ingest, or the test proved nothing.
    assert kills == crash_rounds and registry.starts == crash_rounds + 1
    assert load.cut_by_kill >= 1
    print(
        f"\ncrash safety: {kills} SIGKILLs, {len(load.batches)} batches of {crash_batch} items "
        f"({sum(len(b.singles) + len(b.pools) + len(b.rejected) for b in load.batches)} items), "
        f"{load.posts} posts, {load.cut_by_kill} cut by a kill, {load.lost_answers_replayed} keyed replays "
        f"and {load.lost_answers_duplicate} all-duplicate retries of answers lost after commit, "
        f"{load.refused_in_progress} refused in progress; {len(results)} results and {len(pools)} pools stored"
    )


async def test_a_live_keyed_request_holds_its_key_and_a_dead_one_frees_it_at_once(
    registry_app: FastAPI, minter: InternalTokenMinter, db: str, keys_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Idempotency-Key and crashes: the key is held by the live request's transaction, so a
    concurrent repeat is refused at once (409, Retry-After), and a request that dies leaves no
    claim behind: the retry runs at once, not after a stale-claim timeout (the SIGKILL test
    above found retries refused for 5 minutes when the claim was committed on its own)."""
    seed = Seed(db, cipher_for(keys_dir))
    people = await seed.people(await seed.enterprise(), 3)
    lab_id = await seed.lab()
    batch = make_batch(1, 3, people)
    entered, never = asyncio.Event(), asyncio.Event()
    original = ingest_module.ingest

    async def stuck(*args: Any, **kw: Any) -> Any:
        entered.set()
        await never.wait()  # the process "dies" here, mid-request
        return await original(*args, **kw)

    monkeypatch.setattr(ingest_module, "ingest", stuck)
    load = Load(lab_id, minter, 3, people)
    path = load.path
    async with running(registry_app) as client:
        first = asyncio.create_task(client.post(path, content=batch.body, headers=load.headers("live-key")))
        await entered.wait()
        # Nothing of the claim is committed while the request runs, so if its process dies
        # (SIGKILL: no cleanup code runs) nothing is left to block the retry.
        assert await seed.count("idempotency_record") == 0

        repeat = await client.post(path, content=batch.body, headers=load.headers("live-key"))
        assert repeat.status_code == 409 and repeat.json()["error"]["code"] == "idempotency_key_in_progress"
        assert int(repeat.headers["retry-after"]) >= 1

        first.cancel()
        with pytest.raises(asyncio.CancelledError):
            await first
        assert await seed.count("idempotency_record") == 0 and await seed.count("test_result") == 0
        monkeypatch.undo()

        retry = await client.post(path, content=batch.body, headers=load.headers("live-key"))
        assert retry.status_code == 200 and retry.headers.get("idempotent-replayed") is None
        assert check_answer(batch, retry.json()) is None and retry.json()["duplicate"] == 0
