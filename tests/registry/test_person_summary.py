"""A person's summary: what it gathers, and each risk flag from its rule."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable
from datetime import datetime
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI

from safework_common.internal_auth import InternalTokenMinter
from safework_common.timezone import LOCAL_TZ
from tests import callers
from tests.callers import As
from tests.registry.factories import DISTRICT, OTHER_DISTRICT, Seed, cipher_for
from tests.support.routes import templates_matching

AS_OF = "2021-09-25T12:00:00+07:00"


def local(day: int, hour: int = 8) -> datetime:
    return datetime(2021, 9, day, hour, tzinfo=LOCAL_TZ)


@pytest.fixture
def seed(db: str, keys_dir: Path) -> Seed:
    return Seed(db, cipher_for(keys_dir))


async def _pool(seed: Seed, lab: uuid.UUID, pid: uuid.UUID, result: str, day: int) -> None:
    pool_id = await seed.fetchval(
        "INSERT INTO pool (lab_id, pool_sample_id, size, collected_at, resulted_at, result) "
        "VALUES ($1, $2, 1, $3, $3, $4) RETURNING id",
        lab,
        f"POOL-{day}",
        local(day),
        result,
    )
    await seed.fetch("INSERT INTO pool_member (pool_id, person_id, position) VALUES ($1, $2, 1)", pool_id, pid)


async def _declare(seed: Seed, pid: uuid.UUID, day: int, symptoms: list[str], contact: bool = False) -> None:
    await seed.fetch(
        "INSERT INTO health_declaration (person_id, declared_at, symptoms, contact_with_confirmed_case) "
        "VALUES ($1, $2, $3, $4)",
        pid,
        local(day),
        symptoms,
        contact,
    )


async def _travel(seed: Seed, pid: uuid.UUID, left: int, returned: datetime | None, boarding: bool) -> None:
    await seed.fetch(
        "INSERT INTO travel (person_id, left_at, destination_province, returned_at, returned_to_boarding_house) "
        "VALUES ($1, $2, 'Hà Nội', $3, $4)",
        pid,
        local(left),
        returned,
        boarding,
    )


Setup = Callable[[Seed, uuid.UUID, uuid.UUID], Awaitable[None]]


async def _nothing(seed: Seed, pid: uuid.UUID, lab: uuid.UUID) -> None:
    return None


async def _vaccinated(seed: Seed, pid: uuid.UUID, lab: uuid.UUID) -> None:
    await seed.dose(pid, 1, "AZD1222", local(1))


async def _positive_latest(seed: Seed, pid: uuid.UUID, lab: uuid.UUID) -> None:
    await _vaccinated(seed, pid, lab)
    await seed.result(pid, lab, "T-1", local(20))
    await seed.result(pid, lab, "T-2", local(24), result="POSITIVE", kind="RAPID_ANTIGEN")


async def _positive_then_negative(seed: Seed, pid: uuid.UUID, lab: uuid.UUID) -> None:
    await _vaccinated(seed, pid, lab)
    await seed.result(pid, lab, "T-1", local(20), result="POSITIVE")
    await seed.result(pid, lab, "T-2", local(24))


async def _pool_pending(seed: Seed, pid: uuid.UUID, lab: uuid.UUID) -> None:
    await _vaccinated(seed, pid, lab)
    await _pool(seed, lab, pid, "POSITIVE", 23)


async def _pool_then_individual(seed: Seed, pid: uuid.UUID, lab: uuid.UUID) -> None:
    await _pool_pending(seed, pid, lab)
    await seed.result(pid, lab, "IND-1", local(24))


async def _symptoms(seed: Seed, pid: uuid.UUID, lab: uuid.UUID) -> None:
    await _vaccinated(seed, pid, lab)
    await seed.result(pid, lab, "T-1", local(20))
    await _declare(seed, pid, 22, ["fever", "cough"])


async def _symptoms_then_tested(seed: Seed, pid: uuid.UUID, lab: uuid.UUID) -> None:
    await _symptoms(seed, pid, lab)
    await seed.result(pid, lab, "T-2", local(23))


async def _old_symptoms(seed: Seed, pid: uuid.UUID, lab: uuid.UUID) -> None:
    await _vaccinated(seed, pid, lab)
    await _declare(seed, pid, 5, ["fever"])


async def _contact(seed: Seed, pid: uuid.UUID, lab: uuid.UUID) -> None:
    await _vaccinated(seed, pid, lab)
    await _declare(seed, pid, 24, [], contact=True)


async def _travelling(seed: Seed, pid: uuid.UUID, lab: uuid.UUID) -> None:
    await _vaccinated(seed, pid, lab)
    await _travel(seed, pid, 23, None, False)


async def _returned_after_as_of(seed: Seed, pid: uuid.UUID, lab: uuid.UUID) -> None:
    await _vaccinated(seed, pid, lab)
    await _travel(seed, pid, 23, local(26), True)


async def _recent_return(seed: Seed, pid: uuid.UUID, lab: uuid.UUID) -> None:
    await _vaccinated(seed, pid, lab)
    await _travel(seed, pid, 20, local(22, 9), True)


async def _return_window_over(seed: Seed, pid: uuid.UUID, lab: uuid.UUID) -> None:
    await _vaccinated(seed, pid, lab)
    await _travel(seed, pid, 18, local(21, 11), True)


async def _high_risk(seed: Seed, pid: uuid.UUID, lab: uuid.UUID) -> None:
    await _vaccinated(seed, pid, lab)
    await seed.fetch("UPDATE person SET high_risk = true, high_risk_until = $2 WHERE id = $1", pid, local(30))


async def _high_risk_over(seed: Seed, pid: uuid.UUID, lab: uuid.UUID) -> None:
    await _vaccinated(seed, pid, lab)
    await seed.fetch("UPDATE person SET high_risk = true, high_risk_until = $2 WHERE id = $1", pid, local(24))


FLAG_CASES: list[tuple[str, Setup, list[str]]] = [
    ("no dose at all: unvaccinated (seeds/000 §2.1)", _nothing, ["unvaccinated"]),
    ("one dose: not unvaccinated", _vaccinated, []),
    ("the latest result is positive", _positive_latest, ["positive_result"]),
    ("a negative after a positive clears the flag", _positive_then_negative, []),
    ("a positive pool with no individual PCR since (seeds/001)", _pool_pending, ["pool_positive_pending"]),
    ("an individual PCR after the positive pool clears it", _pool_then_individual, []),
    ("symptoms declared and no test since (seeds/000 §2.2 (4))", _symptoms, ["symptoms_declared"]),
    ("a negative test after the symptoms clears the flag", _symptoms_then_tested, []),
    ("symptoms older than 14 days are not recent", _old_symptoms, []),
    ("contact with a confirmed case declared in the last 14 days", _contact, ["contact_with_confirmed_case"]),
    ("a trip not yet returned", _travelling, ["travelling"]),
    ("a return after as_of is still a trip open at as_of", _returned_after_as_of, ["travelling"]),
    ("back at a boarding house within 24 h + 72 h (seeds/000 §2.3)", _recent_return, ["recent_return"]),
    ("back more than 96 h ago: the return window is over", _return_window_over, []),
    ("marked high risk until after as_of", _high_risk, ["high_risk"]),
    ("a high-risk mark that has ended", _high_risk_over, []),
]


@pytest.mark.parametrize(("rule", "setup", "flags"), FLAG_CASES, ids=[c[0] for c in FLAG_CASES])
async def test_risk_flags(
    registry: httpx.AsyncClient,
    minter: InternalTokenMinter,
    seed: Seed,
    rule: str,
    setup: Setup,
    flags: list[str],
) -> None:
    await seed.product("AZD1222", min_interval_days=28)
    ent = await seed.enterprise()
    pid = await seed.person(ent)
    lab = await seed.lab()
    await setup(seed, pid, lab)

    r = await As(registry, minter)(callers.worker(pid, ent)).get(f"/v1/persons/{pid}/summary", params={"as_of": AS_OF})

    assert r.status_code == 200, (rule, r.text)
    assert r.json()["flags"] == flags, rule


async def test_summary_gathers_doses_latest_results_declarations_and_travels(
    registry: httpx.AsyncClient, minter: InternalTokenMinter, seed: Seed
) -> None:
    await seed.product("AZD1222", min_interval_days=28)
    ent = await seed.enterprise()
    pid = await seed.person(ent)
    lab = await seed.lab()
    await seed.dose(pid, 1, "AZD1222", local(1))
    await seed.dose(pid, 2, "AZD1222", local(29))  # after as_of: not yet given
    for day in range(1, 13):
        await seed.result(pid, lab, f"R-{day:02d}", local(day + 12))
    await _declare(seed, pid, 8, ["fatigue"])  # more than 14 days before as_of
    await _declare(seed, pid, 20, [])
    await _travel(seed, pid, 1, local(3), True)  # returned long ago
    await _travel(seed, pid, 19, local(20), False)

    body = (
        await As(registry, minter)(callers.enterprise(ent)).get(f"/v1/persons/{pid}/summary", params={"as_of": AS_OF})
    ).json()

    assert [d["dose_number"] for d in body["doses"]] == [1]
    assert body["vaccination"]["doses"] == 1
    assert body["vaccination"]["primary_series_complete"] is False
    assert [r["sample_id"] for r in body["latest_results"]] == [f"R-{d:02d}" for d in range(12, 2, -1)]
    assert [d["declared_at"][:10] for d in body["recent_declarations"]] == ["2021-09-20"]
    assert [t["left_at"][:10] for t in body["travels"]] == ["2021-09-19"]
    assert body["pending_pools"] == []
    assert body["person_id"] == str(pid)


async def test_summary_is_read_in_scope(registry: httpx.AsyncClient, minter: InternalTokenMinter, seed: Seed) -> None:
    ent, other = await seed.enterprise(), await seed.enterprise()
    pid = await seed.person(ent)
    as_ = As(registry, minter)
    for caller in (callers.worker(pid, ent), callers.enterprise(ent), callers.PROVINCE):
        assert (await as_(caller).get(f"/v1/persons/{pid}/summary")).status_code == 200
    for stranger in (callers.enterprise(other), callers.worker(uuid.uuid4()), callers.lab(uuid.uuid4())):
        r = await as_(stranger).get(f"/v1/persons/{pid}/summary")
        assert (r.status_code, r.json()["error"]["code"]) == (404, "person_not_found")
    naive = await as_(callers.PROVINCE).get(f"/v1/persons/{pid}/summary", params={"as_of": "2021-09-25T12:00:00"})
    assert (naive.status_code, naive.json()["error"]["details"][0]["field"]) == (422, "query.as_of")


async def test_a_district_authority_reads_the_summaries_of_its_district_only(
    registry: httpx.AsyncClient, minter: InternalTokenMinter, seed: Seed
) -> None:
    here, there = await seed.enterprise(district=DISTRICT), await seed.enterprise(district=OTHER_DISTRICT)
    mine, theirs = await seed.person(here), await seed.person(there)
    as_district = As(registry, minter)(callers.district_authority(DISTRICT))
    assert (await as_district.get(f"/v1/persons/{mine}/summary")).status_code == 200
    r = await as_district.get(f"/v1/persons/{theirs}/summary")
    assert (r.status_code, r.json()["error"]["code"], r.json()["error"]["details"][0]["field"]) == (
        404,
        "person_not_found",
        "path.person_id",
    )


async def test_the_summary_keeps_the_upstream_terms(
    registry: httpx.AsyncClient, minter: InternalTokenMinter, seed: Seed
) -> None:
    """Served ahead of the routers, the route still needs the internal token and refuses a query
    parameter it does not declare, with the error envelope."""
    ent = await seed.enterprise()
    pid = await seed.person(ent)
    missing = await registry.get(f"/v1/persons/{pid}/summary")
    assert (missing.status_code, missing.json()["error"]["code"]) == (401, "missing_internal_token")
    as_ = As(registry, minter)(callers.PROVINCE)
    unknown = await as_.get(f"/v1/persons/{pid}/summary", params={"asof": AS_OF})
    assert (unknown.status_code, unknown.json()["error"]["code"], unknown.json()["error"]["details"][0]["field"]) == (
        422,
        "unknown_query_parameter",
        "query.asof",
    )
    bad_id = await as_.get("/v1/persons/not-a-uuid/summary")
    assert (bad_id.status_code, bad_id.json()["error"]["details"][0]["field"]) == (422, "path.person_id")
    assert (await as_.post(f"/v1/persons/{pid}/summary")).status_code == 405


def test_no_other_route_takes_a_path_served_ahead_of_the_routers(registry_app: FastAPI) -> None:
    """The summary is matched before every other route: harmless only while no other route
    (any method) matches its path."""
    tail = "summary"
    path = f"/v1/persons/{uuid.uuid4()}/{tail}"
    taking = templates_matching(registry_app, path)
    assert taking == [f"/v1/persons/{{person_id}}/{tail}"]


async def test_instants_keep_their_answer_form(
    registry: httpx.AsyncClient, minter: InternalTokenMinter, seed: Seed
) -> None:
    """The database's JSON is read into the contract's models and written by them: an instant
    with a fraction of a second, or asked for in UTC, is answered as before, at +07:00."""
    await seed.product("AZD1222", min_interval_days=28)
    ent = await seed.enterprise()
    pid = await seed.person(ent)
    await seed.dose(pid, 1, "AZD1222", local(1).replace(microsecond=120000))
    r = await As(registry, minter)(callers.worker(pid, ent)).get(
        f"/v1/persons/{pid}/summary", params={"as_of": "2021-09-25T05:00:00Z"}
    )
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["as_of"] == "2021-09-25T12:00:00+07:00"
    assert body["doses"][0]["administered_at"] == "2021-09-01T08:00:00.120000+07:00"
    assert body["vaccination"]["last_dose_at"] == "2021-09-01T08:00:00.120000+07:00"


async def test_the_summary_survives_dropped_database_connections(
    registry: httpx.AsyncClient, minter: InternalTokenMinter, seed: Seed, db: str
) -> None:
    """The read has no ping on checkout: connections the server closed (a restart, an idle
    timeout) are replaced, and a statement on one is run again on another."""
    ent = await seed.enterprise()
    pid = await seed.person(ent)
    as_ = As(registry, minter)(callers.worker(pid, ent))
    # Several at once, so the pool holds several connections.
    first = await asyncio.gather(*(as_.get(f"/v1/persons/{pid}/summary") for _ in range(6)))
    assert {r.status_code for r in first} == {200}
    killed = await seed.fetch(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
        "WHERE datname = current_database() AND pid <> pg_backend_pid() AND backend_type = 'client backend'"
    )
    assert killed
    for _ in range(3):
        again = await asyncio.gather(*(as_.get(f"/v1/persons/{pid}/summary") for _ in range(6)))
        assert {r.status_code for r in again} == {200}, [r.text for r in again]
