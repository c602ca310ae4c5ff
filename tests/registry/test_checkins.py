"""QR check-ins (seeds/004: QR-code check-in at the enterprise's premises)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from safework_common.internal_auth import InternalTokenMinter
from safework_common.timezone import LOCAL_TZ
from tests import callers
from tests.callers import As
from tests.registry.factories import Seed, cipher_for


@pytest.fixture
def seed(db: str, keys_dir: Path) -> Seed:
    return Seed(db, cipher_for(keys_dir))


AT = "2021-09-22T07:05:00+07:00"


@pytest.mark.parametrize(
    ("rule", "qr", "at", "status", "code", "field"),
    [
        ("a venue of the worker's own enterprise", "QR-OWN-GATE", AT, 201, None, None),
        ("a venue of another enterprise is not found", "QR-OTHER-GATE", AT, 404, "venue_not_found", "body.qr_code"),
        ("an unknown QR code is not found", "QR-NOWHERE", AT, 404, "venue_not_found", "body.qr_code"),
        ("an inactive venue takes no check-ins", "QR-OWN-OLD", AT, 404, "venue_not_found", "body.qr_code"),
        (
            "a check-in in the future is refused",
            "QR-OWN-GATE",
            "future",
            422,
            "checked_in_in_future",
            "body.checked_in_at",
        ),
        (
            "a time without a time zone is refused",
            "QR-OWN-GATE",
            "2021-09-22T07:05:00",
            422,
            "validation_error",
            "body.checked_in_at",
        ),
    ],
)
async def test_check_in_rules(
    registry: httpx.AsyncClient,
    minter: InternalTokenMinter,
    seed: Seed,
    rule: str,
    qr: str,
    at: str,
    status: int,
    code: str | None,
    field: str | None,
) -> None:
    ent, other = await seed.enterprise(), await seed.enterprise()
    pid = await seed.person(ent)
    gate = await seed.venue(ent, "QR-OWN-GATE")
    await seed.venue(ent, "QR-OWN-OLD", active=False)
    await seed.venue(other, "QR-OTHER-GATE")
    when = (datetime.now(UTC) + timedelta(hours=1)).isoformat() if at == "future" else at

    r = await As(registry, minter)(callers.worker(pid, ent)).post(
        f"/v1/persons/{pid}/checkins", json={"qr_code": qr, "checked_in_at": when}
    )

    assert r.status_code == status, (rule, r.text)
    if code:
        error = r.json()["error"]
        assert (error["code"], error["details"][0]["field"]) == (code, field), rule
        assert await seed.count("checkin") == 0, rule
    else:
        out = r.json()
        assert (out["venue_id"], out["venue_kind"]) == (str(gate), "gate"), rule
        assert await seed.count("checkin", "person_id = $1 AND venue_id = $2", pid, gate) == 1, rule


@pytest.mark.parametrize(
    ("rule", "who", "status", "code"),
    [
        ("another worker cannot check someone in", "other_worker", 404, "person_not_found"),
        ("the enterprise does not check its workers in", "enterprise", 403, "role_not_allowed"),
    ],
)
async def test_only_the_worker_checks_in(
    registry: httpx.AsyncClient, minter: InternalTokenMinter, seed: Seed, rule: str, who: str, status: int, code: str
) -> None:
    ent = await seed.enterprise()
    pid, other = await seed.person(ent), await seed.person(ent)
    await seed.venue(ent, "QR-GATE")
    caller = callers.worker(other, ent) if who == "other_worker" else callers.enterprise(ent)
    r = await As(registry, minter)(caller).post(
        f"/v1/persons/{pid}/checkins", json={"qr_code": "QR-GATE", "checked_in_at": AT}
    )
    assert (r.status_code, r.json()["error"]["code"]) == (status, code), rule


async def test_check_ins_are_read_in_scope_newest_first(
    registry: httpx.AsyncClient, minter: InternalTokenMinter, seed: Seed
) -> None:
    ent, other = await seed.enterprise(), await seed.enterprise()
    pid = await seed.person(ent)
    await seed.venue(ent, "QR-GATE")
    as_ = As(registry, minter)
    for hour in ("07", "12", "17"):
        r = await as_(callers.worker(pid, ent)).post(
            f"/v1/persons/{pid}/checkins",
            json={"qr_code": "QR-GATE", "checked_in_at": f"2021-09-22T{hour}:00:00+07:00"},
        )
        assert r.status_code == 201

    mine = (await as_(callers.worker(pid, ent)).get(f"/v1/persons/{pid}/checkins")).json()
    assert [datetime.fromisoformat(c["checked_in_at"]) for c in mine["items"]] == [
        datetime(2021, 9, 22, hour, tzinfo=LOCAL_TZ) for hour in (17, 12, 7)
    ]
    assert (await as_(callers.enterprise(ent)).get(f"/v1/persons/{pid}/checkins")).status_code == 200
    for stranger in (callers.enterprise(other), callers.worker(uuid.uuid4())):
        assert (await as_(stranger).get(f"/v1/persons/{pid}/checkins")).status_code == 404
