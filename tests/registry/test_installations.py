"""App installations and the counts of the single-app rule (seeds/000 §2.4)."""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest

from safework_common.internal_auth import Caller, InternalTokenMinter
from tests import callers
from tests.callers import As
from tests.registry.factories import OTHER_DISTRICT, Seed, cipher_for

APP = "vn.gov.bacgiang.safework"


@pytest.fixture
def seed(db: str, keys_dir: Path) -> Seed:
    return Seed(db, cipher_for(keys_dir))


def device(n: int) -> str:
    return f"dev-{n:04d}-a1b2c3d4e5f6"


def sync_body(device_id: str, version: str = "1.4.0", platform: str = "android") -> dict[str, Any]:
    return {"device_id": device_id, "app_id": APP, "app_version": version, "platform": platform}


async def test_first_sync_registers_and_later_syncs_refresh(
    registry: httpx.AsyncClient, minter: InternalTokenMinter, seed: Seed
) -> None:
    ent = await seed.enterprise()
    pid = await seed.person(ent)
    app = As(registry, minter)(callers.worker(pid, ent))

    first = await app.post("/v1/installations/sync", json=sync_body(device(1)))
    await seed.fetch("UPDATE app_installation SET last_sync_at = '2021-09-20T08:00:00+07:00'")
    later = await app.post("/v1/installations/sync", json=sync_body(device(1), version="1.5.0"))

    assert (first.status_code, later.status_code) == (201, 200)
    a, b = first.json(), later.json()
    assert (a["person_id"], a["enterprise_id"], a["app_id"]) == (str(pid), None, APP)
    assert (a["app_version"], b["app_version"]) == ("1.4.0", "1.5.0")
    assert b["first_seen_at"] == a["first_seen_at"]
    assert b["last_sync_at"] > "2021-09-21"
    assert await seed.count("app_installation") == 1
    assert await seed.count("audit_log", "action = 'register'") == 1


@pytest.mark.parametrize(
    ("rule", "registered_by", "synced_by", "revoked", "status", "code"),
    [
        ("a device registered to another worker", "worker", "other_worker", False, 409, "device_owned_by_other"),
        (
            "a worker's device synced by the enterprise account",
            "worker",
            "enterprise",
            False,
            409,
            "device_owned_by_other",
        ),
        ("a revoked device stays revoked", "worker", "worker", True, 403, "device_revoked"),
        ("the enterprise account's own device", "enterprise", "enterprise", False, 200, None),
        ("a lab has no app installation", "worker", "lab", False, 403, "role_not_allowed"),
    ],
)
async def test_who_may_sync_a_device(
    registry: httpx.AsyncClient,
    minter: InternalTokenMinter,
    seed: Seed,
    rule: str,
    registered_by: str,
    synced_by: str,
    revoked: bool,
    status: int,
    code: str | None,
) -> None:
    ent = await seed.enterprise()
    pid, other = await seed.person(ent), await seed.person(ent)
    who: dict[str, Caller] = {
        "worker": callers.worker(pid, ent),
        "other_worker": callers.worker(other, ent),
        "enterprise": callers.enterprise(ent),
        "lab": callers.lab(uuid.uuid4()),
    }
    as_ = As(registry, minter)
    assert (await as_(who[registered_by]).post("/v1/installations/sync", json=sync_body(device(2)))).status_code == 201
    if revoked:
        await seed.fetch("UPDATE app_installation SET revoked_at = now()")

    r = await as_(who[synced_by]).post("/v1/installations/sync", json=sync_body(device(2), version="2.0.0"))

    assert r.status_code == status, rule
    if code:
        assert r.json()["error"]["code"] == code, rule
        assert await seed.fetchval("SELECT app_version FROM app_installation") == "1.4.0", rule


async def test_concurrent_first_syncs_make_one_device(
    registry: httpx.AsyncClient, minter: InternalTokenMinter, seed: Seed
) -> None:
    ent = await seed.enterprise()
    pid = await seed.person(ent)
    app = As(registry, minter)(callers.worker(pid, ent))
    answers = await asyncio.gather(*(app.post("/v1/installations/sync", json=sync_body(device(3))) for _ in range(4)))
    assert sorted(a.status_code for a in answers) == [200, 200, 200, 201]
    assert await seed.count("app_installation") == 1


@pytest.mark.parametrize(
    ("rule", "who", "status"),
    [
        ("the province authority revokes any device", "province", 200),
        ("the district authority revokes its district's devices", "district", 200),
        ("another district's authority does not see the device", "other_district", 404),
        ("the enterprise revokes its workers' devices", "enterprise", 200),
        ("another enterprise does not see the device", "other_enterprise", 404),
        ("a worker does not revoke", "worker", 403),
    ],
)
async def test_who_may_revoke(
    registry: httpx.AsyncClient, minter: InternalTokenMinter, seed: Seed, rule: str, who: str, status: int
) -> None:
    ent, other = await seed.enterprise(), await seed.enterprise(district=OTHER_DISTRICT)
    pid = await seed.person(ent)
    as_ = As(registry, minter)
    await as_(callers.worker(pid, ent)).post("/v1/installations/sync", json=sync_body(device(4)))
    caller = {
        "province": callers.PROVINCE,
        "district": callers.district_authority("Việt Yên"),
        "other_district": callers.district_authority(OTHER_DISTRICT),
        "enterprise": callers.enterprise(ent),
        "other_enterprise": callers.enterprise(other),
        "worker": callers.worker(pid, ent),
    }[who]

    r = await as_(caller).post(f"/v1/installations/{device(4)}/revoke")

    assert r.status_code == status, rule
    revoked = await seed.fetchval("SELECT revoked_at IS NOT NULL FROM app_installation")
    assert revoked is (status == 200), rule
    if status == 200:
        again = await as_(caller).post(f"/v1/installations/{device(4)}/revoke")
        assert again.json()["revoked_at"] == r.json()["revoked_at"], rule


async def test_the_enterprise_summary_counts_what_the_single_app_rule_needs(
    registry: httpx.AsyncClient, minter: InternalTokenMinter, seed: Seed
) -> None:
    ent, other = await seed.enterprise(), await seed.enterprise()
    workers = [pid for pid, _ in await seed.people(ent, 5)]
    left = await seed.person(ent, status="left")
    outsider = await seed.person(other)
    as_ = As(registry, minter)
    for k, pid in enumerate(workers[:3]):
        await as_(callers.worker(pid, ent)).post("/v1/installations/sync", json=sync_body(device(10 + k)))
    await as_(callers.worker(workers[0], ent)).post("/v1/installations/sync", json=sync_body(device(20)))  # a 2nd phone
    await as_(callers.worker(left, ent)).post("/v1/installations/sync", json=sync_body(device(21)))
    await as_(callers.worker(outsider, other)).post("/v1/installations/sync", json=sync_body(device(22)))
    await as_(callers.enterprise(ent)).post("/v1/installations/sync", json=sync_body(device(30), platform="web"))
    await as_(callers.enterprise(ent)).post("/v1/installations/sync", json=sync_body(device(31), platform="web"))
    await as_(callers.enterprise(ent)).post(f"/v1/installations/{device(12)}/revoke")
    await as_(callers.enterprise(ent)).post(f"/v1/installations/{device(31)}/revoke")
    times = {
        device(10): "2021-09-20T08:00:00+07:00",
        device(11): "2021-09-21T08:00:00+07:00",
        device(20): "2021-09-19T08:00:00+07:00",
        device(21): "2021-09-25T08:00:00+07:00",  # a worker who left: not counted
        device(22): "2021-09-26T08:00:00+07:00",  # another enterprise's worker
        device(30): "2021-09-18T08:00:00+07:00",
        device(12): "2021-09-27T08:00:00+07:00",  # revoked: not counted
        device(31): "2021-09-28T08:00:00+07:00",  # revoked: not counted
    }
    for dev, at in times.items():
        await seed.fetch(
            "UPDATE app_installation SET last_sync_at = $2::text::timestamptz WHERE device_id = $1", dev, at
        )

    r = await as_(callers.enterprise(ent)).get(f"/v1/enterprises/{ent}/installations")

    assert r.status_code == 200
    assert r.json() == {
        "enterprise_id": str(ent),
        "accounts": {"active_devices": 1, "last_sync_at": "2021-09-18T08:00:00+07:00"},
        "workers": {"active": 5, "with_active_device": 2, "last_sync_at": "2021-09-21T08:00:00+07:00"},
        "revoked_devices": 2,
        "last_sync_at": "2021-09-21T08:00:00+07:00",
    }
    assert (
        await as_(callers.district_authority("Việt Yên")).get(f"/v1/enterprises/{ent}/installations")
    ).status_code == 200
    for stranger in (
        callers.enterprise(other),
        callers.district_authority(OTHER_DISTRICT),
        callers.worker(workers[0], ent),
    ):
        denied = await as_(stranger).get(f"/v1/enterprises/{ent}/installations")
        assert (denied.status_code, denied.json()["error"]["code"]) == (404, "enterprise_not_found")
