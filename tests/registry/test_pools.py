"""Pooled samples (seeds/001: pools of 10 and 20): what a pool stores and what it gives members."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest

from safework_common.internal_auth import InternalTokenMinter
from tests import callers
from tests.callers import As
from tests.registry.factories import Seed, cipher_for, ids

COLLECTED = "2021-09-14T08:00:00+07:00"
RESULTED = "2021-09-14T20:00:00+07:00"


@pytest.fixture
def seed(db: str, keys_dir: Path) -> Seed:
    return Seed(db, cipher_for(keys_dir))


def pool(sample_id: str, members: list[dict[str, Any]], result: str = "NEGATIVE", **kw: Any) -> dict[str, Any]:
    return {
        "type": "pool",
        "pool_sample_id": sample_id,
        "members": members,
        "collected_at": COLLECTED,
        "resulted_at": RESULTED,
        "result": result,
        **kw,
    }


def by_id(people: list[uuid.UUID]) -> list[dict[str, Any]]:
    return [{"person_id": str(p)} for p in people]


@pytest.mark.parametrize(
    ("rule", "size", "result", "member_results"),
    [
        ("a negative pool of 10 gives each member a pooled negative PCR", 10, "NEGATIVE", 10),
        ("a negative pool of 20 gives each member a pooled negative PCR", 20, "NEGATIVE", 20),
        ("a positive pool of 20 gives no member a result (each is due an individual PCR)", 20, "POSITIVE", 0),
        ("an invalid pool clears no one", 10, "INVALID", 0),
        ("a pool of one is still a pool", 1, "NEGATIVE", 1),
    ],
)
async def test_a_pool_stores_itself_its_members_and_only_negative_results(
    registry: httpx.AsyncClient,
    minter: InternalTokenMinter,
    seed: Seed,
    rule: str,
    size: int,
    result: str,
    member_results: int,
) -> None:
    ent = await seed.enterprise()
    people = ids(await seed.people(ent, size))
    lab = await seed.lab()

    r = await As(registry, minter)(callers.lab(lab)).post(
        f"/v1/labs/{lab}/results", json={"items": [pool("POOL-A", by_id(people), result)]}
    )

    assert r.json()["items"] == [{"index": 0, "sample_id": "POOL-A", "status": "accepted"}], rule
    stored = await seed.fetch("SELECT id, size, result FROM pool WHERE lab_id = $1", lab)
    assert [(p["size"], p["result"]) for p in stored] == [(size, result)], rule
    members = await seed.fetch("SELECT person_id, position FROM pool_member ORDER BY position")
    assert [(m["person_id"], m["position"]) for m in members] == [(p, k + 1) for k, p in enumerate(people)], rule
    rows = await seed.fetch(
        "SELECT person_id, sample_id, kind, result, pooled, pool_id FROM test_result ORDER BY sample_id"
    )
    assert len(rows) == member_results, rule
    expected = {(p, f"POOL-A#{k + 1}") for k, p in enumerate(people)} if member_results else set()
    assert {(row["person_id"], row["sample_id"]) for row in rows} == expected, rule
    assert all(
        (row["kind"], row["result"], row["pooled"], row["pool_id"]) == ("PCR", "NEGATIVE", True, stored[0]["id"])
        for row in rows
    ), rule


@pytest.mark.parametrize(
    ("rule", "members", "code", "field"),
    [
        ("21 people is more than a pool may hold", "twenty_one", "pool_too_large", "body.items[0].members"),
        ("a pool needs at least one member", "none", "pool_empty", "body.items[0].members"),
        (
            "an unknown member rejects the whole pool",
            "unknown",
            "person_not_found",
            "body.items[0].members[2].person_id",
        ),
        ("a person named twice in one pool", "repeated", "pool_member_repeated", "body.items[0].members[3]"),
        (
            "a malformed member national ID",
            "bad_national_id",
            "invalid_national_id",
            "body.items[0].members[1].national_id",
        ),
    ],
)
async def test_pool_rules_reject_the_pool_and_write_nothing(
    registry: httpx.AsyncClient,
    minter: InternalTokenMinter,
    seed: Seed,
    rule: str,
    members: str,
    code: str,
    field: str,
) -> None:
    ent = await seed.enterprise()
    people = ids(await seed.people(ent, 21))
    lab = await seed.lab()
    refs = {
        "twenty_one": by_id(people),
        "none": [],
        "unknown": [*by_id(people[:2]), {"person_id": str(uuid.UUID(int=5))}],
        "repeated": [*by_id(people[:3]), {"person_id": str(people[1])}],
        "bad_national_id": [*by_id(people[:1]), {"national_id": "12345"}],
    }[members]

    r = await As(registry, minter)(callers.lab(lab)).post(
        f"/v1/labs/{lab}/results", json={"items": [pool("P-X", refs)]}
    )

    out = r.json()["items"][0]
    assert (out["status"], out["code"], out["field"]) == ("rejected", code, field), rule
    for table in ("pool", "pool_member", "test_result"):
        assert await seed.count(table) == 0, rule


async def test_members_named_by_national_id_and_by_person_id_mix(
    registry: httpx.AsyncClient, minter: InternalTokenMinter, seed: Seed
) -> None:
    ent = await seed.enterprise()
    people = await seed.people(ent, 4)
    lab = await seed.lab()
    refs = [{"national_id": nid} if k % 2 else {"person_id": str(pid)} for k, (pid, nid) in enumerate(people)]

    r = await As(registry, minter)(callers.lab(lab)).post(
        f"/v1/labs/{lab}/results", json={"items": [pool("MIX", refs)]}
    )

    assert r.json()["accepted"] == 1
    rows = await seed.fetch("SELECT person_id FROM test_result ORDER BY sample_id")
    assert [row["person_id"] for row in rows] == ids(people)


async def test_replaying_a_pool_is_a_duplicate_and_other_members_are_a_conflict(
    registry: httpx.AsyncClient, minter: InternalTokenMinter, seed: Seed
) -> None:
    ent = await seed.enterprise()
    people = ids(await seed.people(ent, 11))
    lab = await seed.lab()
    client = As(registry, minter)(callers.lab(lab))
    ten = pool("POOL-10", by_id(people[:10]))
    await client.post(f"/v1/labs/{lab}/results", json={"items": [ten]})

    again = (await client.post(f"/v1/labs/{lab}/results", json={"items": [ten]})).json()
    swapped = pool("POOL-10", by_id([*people[:9], people[10]]))
    other = (await client.post(f"/v1/labs/{lab}/results", json={"items": [swapped]})).json()
    flipped = (await client.post(f"/v1/labs/{lab}/results", json={"items": [{**ten, "result": "POSITIVE"}]})).json()

    assert again["items"][0]["status"] == "duplicate"
    for answer in (other, flipped):
        out = answer["items"][0]
        assert (out["status"], out["code"], out["field"]) == (
            "rejected",
            "sample_conflict",
            "body.items[0].pool_sample_id",
        )
    assert await seed.count("pool") == 1
    assert await seed.count("pool_member") == 10
    assert await seed.count("test_result") == 10


async def test_pools_and_single_results_share_one_batch(
    registry: httpx.AsyncClient, minter: InternalTokenMinter, seed: Seed
) -> None:
    ent = await seed.enterprise()
    people = ids(await seed.people(ent, 30))
    lab = await seed.lab()
    items = [
        pool("B-POS", by_id(people[:20]), "POSITIVE"),
        pool("B-NEG", by_id(people[20:30])),
        {
            "sample_id": "B-IND-1",
            "person_id": str(people[0]),
            "kind": "PCR",
            "collected_at": "2021-09-15T08:00:00+07:00",
            "resulted_at": "2021-09-15T18:00:00+07:00",
            "result": "NEGATIVE",
        },
        pool("B-NEG", by_id(people[20:30])),
    ]

    body = (await As(registry, minter)(callers.lab(lab)).post(f"/v1/labs/{lab}/results", json={"items": items})).json()

    assert [o["status"] for o in body["items"]] == ["accepted", "accepted", "accepted", "rejected"]
    assert body["items"][3]["code"] == "duplicate_in_batch"
    assert await seed.count("pool") == 2
    assert await seed.count("test_result", "pooled") == 10
    assert await seed.count("test_result", "NOT pooled") == 1
