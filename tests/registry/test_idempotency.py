"""Idempotency-Key (IETF draft-ietf-httpapi-idempotency-key-header) on the registry's POST routes."""

from __future__ import annotations

import hashlib
import json
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest

from safework_common.internal_auth import InternalTokenMinter
from tests import callers
from tests.callers import As
from tests.registry.factories import Seed, cipher_for


@pytest.fixture
def seed(db: str, keys_dir: Path) -> Seed:
    return Seed(db, cipher_for(keys_dir))


def batch(people: list[uuid.UUID], prefix: str = "K") -> dict[str, Any]:
    return {
        "items": [
            {
                "sample_id": f"{prefix}-{k}",
                "person_id": str(p),
                "kind": "RAPID_ANTIGEN",
                "collected_at": "2021-09-20T07:00:00+07:00",
                "resulted_at": "2021-09-20T07:20:00+07:00",
                "result": "NEGATIVE",
            }
            for k, p in enumerate(people)
        ]
    }


async def _setup(seed: Seed) -> tuple[uuid.UUID, list[uuid.UUID]]:
    ent = await seed.enterprise()
    people = [pid for pid, _ in await seed.people(ent, 3)]
    return await seed.lab(), people


async def test_a_repeat_with_the_same_key_replays_the_first_answer(
    registry: httpx.AsyncClient, minter: InternalTokenMinter, seed: Seed
) -> None:
    lab, people = await _setup(seed)
    client = As(registry, minter)(callers.lab(lab))
    headers = {"Idempotency-Key": "batch-2021-09-20-001"}

    first = await client.post(f"/v1/labs/{lab}/results", json=batch(people), headers=headers)
    again = await client.post(f"/v1/labs/{lab}/results", json=batch(people), headers=headers)

    assert first.status_code == again.status_code == 200
    assert again.json() == first.json()  # "accepted", not "duplicate": the first answer, replayed
    assert [o["status"] for o in again.json()["items"]] == ["accepted"] * 3
    assert again.headers["Idempotent-Replayed"] == "true"
    assert "Idempotent-Replayed" not in first.headers
    assert await seed.count("test_result") == 3
    assert await seed.count("audit_log") == 1  # the replay did no work


async def test_the_same_key_with_another_body_is_refused(
    registry: httpx.AsyncClient, minter: InternalTokenMinter, seed: Seed
) -> None:
    lab, people = await _setup(seed)
    client = As(registry, minter)(callers.lab(lab))
    headers = {"Idempotency-Key": "k-1"}
    await client.post(f"/v1/labs/{lab}/results", json=batch(people[:1]), headers=headers)

    r = await client.post(f"/v1/labs/{lab}/results", json=batch(people), headers=headers)

    assert r.status_code == 422
    error = r.json()["error"]
    assert (error["code"], error["details"][0]["field"]) == ("idempotency_key_reused", "header.Idempotency-Key")
    assert await seed.count("test_result") == 1


async def _claim(seed: Seed, caller: str, key: str, path: str, body: dict[str, Any], age: str) -> None:
    """A claim left by a request that is still running (or died) ``age`` ago."""
    raw = json.dumps(body).encode()
    await seed.fetch(
        "INSERT INTO idempotency_record (caller, key, method, path, fingerprint, created_at) "
        "VALUES ($1, $2, 'POST', $3, $4, now() - $5::text::interval)",
        caller,
        key,
        path,
        hashlib.sha256(raw).digest(),
        age,
    )


@pytest.mark.parametrize(
    ("rule", "age", "status", "code"),
    [
        ("a key whose first request is still running is 409", "10 seconds", 409, "idempotency_key_in_progress"),
        ("a claim older than 5 minutes is stale (its process died) and is taken over", "6 minutes", 200, None),
    ],
)
async def test_a_key_in_progress(
    registry: httpx.AsyncClient,
    minter: InternalTokenMinter,
    seed: Seed,
    rule: str,
    age: str,
    status: int,
    code: str | None,
) -> None:
    lab, people = await _setup(seed)
    caller = callers.lab(lab)
    body = batch(people)
    path = f"/v1/labs/{lab}/results"
    await _claim(seed, caller.subject, "k-running", path, body, age)

    r = await As(registry, minter)(caller).post(
        path,
        content=json.dumps(body).encode(),
        headers={"Idempotency-Key": "k-running", "Content-Type": "application/json"},
    )

    assert r.status_code == status, rule
    if code:
        assert r.json()["error"]["code"] == code, rule
        assert await seed.count("test_result") == 0, rule
    else:
        assert await seed.count("test_result") == 3, rule
        done = await seed.fetchval("SELECT status_code FROM idempotency_record WHERE key = 'k-running'")
        assert done == 200, rule


async def test_a_failed_request_releases_its_key(
    registry: httpx.AsyncClient, minter: InternalTokenMinter, seed: Seed
) -> None:
    lab, people = await _setup(seed)
    await seed.fetch("UPDATE lab SET active = false WHERE id = $1", lab)
    client = As(registry, minter)(callers.lab(lab))
    headers = {"Idempotency-Key": "k-fail"}

    refused = await client.post(f"/v1/labs/{lab}/results", json=batch(people), headers=headers)
    assert (refused.status_code, refused.json()["error"]["code"]) == (403, "lab_inactive")
    assert await seed.count("idempotency_record") == 0

    await seed.fetch("UPDATE lab SET active = true WHERE id = $1", lab)
    retried = await client.post(f"/v1/labs/{lab}/results", json=batch(people), headers=headers)
    assert retried.status_code == 200
    assert retried.json()["accepted"] == 3


async def test_keys_belong_to_their_caller(
    registry: httpx.AsyncClient, minter: InternalTokenMinter, seed: Seed
) -> None:
    lab, people = await _setup(seed)
    headers = {"Idempotency-Key": "shared-key"}
    as_ = As(registry, minter)

    by_lab = await as_(callers.lab(lab)).post(f"/v1/labs/{lab}/results", json=batch(people, "L"), headers=headers)
    by_authority = await as_(callers.PROVINCE).post(f"/v1/labs/{lab}/results", json=batch(people, "A"), headers=headers)

    assert by_lab.json()["accepted"] == by_authority.json()["accepted"] == 3
    assert await seed.count("test_result") == 6


@pytest.mark.parametrize(
    ("rule", "key"),
    [
        ("a key is at most 255 characters", "k" * 256),
        ("a key is printable ASCII", "khóa-1"),
        ("an empty key is no key", '""'),
    ],
)
async def test_malformed_keys_are_refused(
    registry: httpx.AsyncClient, minter: InternalTokenMinter, seed: Seed, rule: str, key: str
) -> None:
    lab, people = await _setup(seed)
    r = await As(registry, minter)(callers.lab(lab)).post(
        f"/v1/labs/{lab}/results", json=batch(people), headers={"Idempotency-Key": key.encode("utf-8")}
    )
    assert r.status_code == 422, rule
    assert r.json()["error"]["code"] == "invalid_idempotency_key", rule
    assert await seed.count("test_result") == 0, rule


async def test_other_post_routes_replay_too(
    registry: httpx.AsyncClient, minter: InternalTokenMinter, seed: Seed
) -> None:
    ent = await seed.enterprise()
    pid = await seed.person(ent)
    client = As(registry, minter)(callers.worker(pid, ent))
    body = {"declared_at": "2021-09-21T08:00:00+07:00", "symptoms": ["fever"]}
    headers = {"Idempotency-Key": '"decl-1"'}  # a structured-header String: quotes are not part of the key

    first = await client.post(f"/v1/persons/{pid}/declarations", json=body, headers=headers)
    again = await client.post(f"/v1/persons/{pid}/declarations", json=body, headers={"Idempotency-Key": "decl-1"})

    assert (first.status_code, again.status_code) == (201, 201)
    assert again.json() == first.json()
    assert await seed.count("health_declaration") == 1
