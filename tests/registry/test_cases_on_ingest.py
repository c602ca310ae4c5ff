"""seeds/004 §II.3 through the lab's batch: "An individual positive PCR ... makes the person a case,
with the time that counts (specimen collection)" (issue 14). The lab's batch makes the case and
traces it in its own transaction; a pooled positive (its members need individual tests) and a
positive rapid test (until the authority confirms it) make none."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from safework_common.internal_auth import InternalTokenMinter
from tests import callers
from tests.callers import PROVINCE, As
from tests.registry.factories import DISTRICT, OTHER_DISTRICT, Seed, cipher_for
from tests.registry.test_outbreak import checkin, venue

COLLECTED = datetime(2021, 9, 20, 8, 0, tzinfo=UTC)
RESULTED = COLLECTED + timedelta(hours=8)
T = COLLECTED - timedelta(days=1)  # the F0's check-in, inside the infectious window (2 days)


@pytest.fixture
def seed(db: str, keys_dir: Path) -> Seed:
    return Seed(db, cipher_for(keys_dir))


@pytest.fixture
def api(registry: httpx.AsyncClient, minter: InternalTokenMinter) -> As:
    return As(registry, minter)


def single(
    sample_id: str, person_id: uuid.UUID, *, kind: str = "PCR", result: str = "POSITIVE", at: datetime = COLLECTED
) -> dict[str, Any]:
    return {
        "sample_id": sample_id,
        "person_id": str(person_id),
        "kind": kind,
        "collected_at": at.isoformat(),
        "resulted_at": (at + timedelta(hours=8)).isoformat(),
        "result": result,
    }


def pool(sample_id: str, members: list[uuid.UUID], result: str = "POSITIVE") -> dict[str, Any]:
    return {
        "type": "pool",
        "pool_sample_id": sample_id,
        "members": [{"person_id": str(m)} for m in members],
        "collected_at": COLLECTED.isoformat(),
        "resulted_at": RESULTED.isoformat(),
        "result": result,
    }


async def events(seed: Seed) -> dict[str, int]:
    rows = await seed.fetch("SELECT kind, count(*) AS n FROM outbox_event GROUP BY kind")
    return {r["kind"]: r["n"] for r in rows}


async def test_an_individual_positive_pcr_in_a_batch_makes_a_traced_case(api: As, seed: Seed) -> None:
    eid = await seed.enterprise()
    canteen = await venue(seed, eid, "canteen")
    f0, near, far, mate, rapid, negative = [await seed.person(eid) for _ in range(6)]
    pooled = [await seed.person(eid) for _ in range(10)]
    await checkin(seed, f0, canteen, T)
    await checkin(seed, near, canteen, T + timedelta(minutes=30))
    await checkin(seed, far, canteen, T + timedelta(hours=2))  # outside the canteen's 60-minute dwell
    site = uuid.uuid4()
    await seed.fetch(
        "INSERT INTO accommodation (id, name, address, district, kind) VALUES ($1, 'Nhà trọ A', 'x', 'Việt Yên', 'b')",
        site,
    )
    await seed.fetch("UPDATE person SET accommodation_id = $1 WHERE id = ANY($2::uuid[])", site, [f0, mate])
    lab = await seed.lab()
    items = [
        single("P-1", f0),
        single("P-2", rapid, kind="RAPID_ANTIGEN"),
        single("P-3", negative, result="NEGATIVE"),
        pool("POOL-1", pooled),
    ]
    before = datetime.now(UTC)
    r = await api(callers.lab(lab)).post(f"/v1/labs/{lab}/results", json={"items": items})
    assert r.status_code == 200, r.text
    assert r.json()["accepted"] == 4

    (case,) = await seed.fetch("SELECT * FROM outbreak_case")
    assert (case["person_id"], case["basis"], case["status"]) == (f0, "pcr", "open")
    assert case["collected_at"] == COLLECTED  # the time that counts: specimen collection
    assert case["infectious_from"] == COLLECTED - timedelta(days=2)
    assert before <= case["traced_at"] <= datetime.now(UTC)
    assert (case["enterprise_id"], case["district"]) == (eid, DISTRICT)
    result_id = await seed.fetchval("SELECT id FROM test_result WHERE sample_id = 'P-1'")
    assert case["result_id"] == result_id

    contacts = {
        row["person_id"]: (row["link"], row["venue_id"], row["traced_at"])
        for row in await seed.fetch("SELECT * FROM contact WHERE case_id = $1", case["id"])
    }
    assert contacts == {
        near: ("venue", canteen, case["traced_at"]),
        mate: ("accommodation", None, case["traced_at"]),
    }
    assert await events(seed) == {"case.confirmed": 1, "contact.traced": 2}
    payload = await seed.fetchval("SELECT payload::text FROM outbox_event WHERE kind = 'case.confirmed'")
    assert str(case["id"]) in payload and "POSITIVE" not in payload and "Nguyễn" not in payload
    audit = await seed.fetchval("SELECT details::text FROM audit_log WHERE entity = 'test_result_batch'")
    assert '"cases": 1' in audit and '"contacts": 2' in audit

    # The authority reads it like any other case.
    view = await api(PROVINCE).get(f"/v1/cases/{case['id']}")
    assert view.status_code == 200, view.text
    assert (view.json()["contacts"], view.json()["by_link"]) == (2, {"venue": 1, "accommodation": 1})

    # The facts, as the gateway reads them to revoke passes at once (the system caller only).
    feed = await api(callers.SYSTEM).get("/v1/events", params={"kind": ["contact.traced"], "since": before.isoformat()})
    assert feed.status_code == 200, feed.text
    page = feed.json()
    assert {item["payload"]["person_id"] for item in page["items"]} == {str(near), str(mate)}
    assert all(item["kind"] == "contact.traced" for item in page["items"])
    after = {"after": page["items"][-1]["id"], "kind": "contact.traced"}
    later = await api(callers.SYSTEM).get("/v1/events", params=after)
    assert later.json()["items"] == [] and later.json()["after"] == page["items"][-1]["id"]
    denied = await api(PROVINCE).get("/v1/events")
    assert denied.status_code == 403, denied.text


@pytest.mark.parametrize(
    ("rule", "item"),
    [
        ("a positive pool makes no case: its members need individual tests", "pool"),
        ("a positive rapid test makes no case until the authority confirms it", "rapid"),
        ("a negative PCR makes no case", "negative"),
    ],
)
async def test_what_makes_no_case(api: As, seed: Seed, rule: str, item: str) -> None:
    eid = await seed.enterprise()
    people = [await seed.person(eid) for _ in range(10)]
    lab = await seed.lab()
    body = {
        "pool": pool("POOL-1", people),
        "rapid": single("R-1", people[0], kind="RAPID_ANTIGEN"),
        "negative": single("N-1", people[0], result="NEGATIVE"),
    }[item]
    r = await api(callers.lab(lab)).post(f"/v1/labs/{lab}/results", json={"items": [body]})
    assert (r.status_code, r.json()["accepted"]) == (200, 1), rule
    assert await seed.count("outbreak_case") == 0, rule
    assert await seed.count("outbox_event") == 0, rule
    if item == "rapid":  # the authority's confirmation still makes it one
        c = await api(PROVINCE).post("/v1/cases", json={"person_id": str(people[0]), "confirmed": True})
        assert (c.status_code, c.json()["basis"]) == (201, "confirmed")


async def test_a_positive_is_one_case_however_often_it_arrives(api: As, seed: Seed) -> None:
    eid = await seed.enterprise()
    canteen = await venue(seed, eid, "canteen")
    f0, near = await seed.person(eid), await seed.person(eid)
    await checkin(seed, f0, canteen, T)
    await checkin(seed, near, canteen, T + timedelta(minutes=5))
    lab, other_lab = await seed.lab(), await seed.lab()
    client = api(callers.lab(lab))
    url = f"/v1/labs/{lab}/results"
    batch = {"items": [single("P-1", f0)]}
    first = await client.post(url, json=batch, headers={"Idempotency-Key": "b-1"})
    replay = await client.post(url, json=batch, headers={"Idempotency-Key": "b-1"})
    again = await client.post(url, json=batch)  # no key: the sample ID is the result's key
    assert replay.json() == first.json()
    assert again.json()["items"][0]["status"] == "duplicate"
    # The same specimen reported by another lab, and a later positive while the case is open.
    await api(callers.lab(other_lab)).post(f"/v1/labs/{other_lab}/results", json={"items": [single("X-1", f0)]})
    later = COLLECTED + timedelta(days=3)
    r = await client.post(url, json={"items": [single("P-2", f0, at=later), single("P-3", f0, at=later)]})
    assert r.json()["accepted"] == 2
    assert await seed.count("outbreak_case") == 1
    assert await seed.count("contact") == 1
    assert await events(seed) == {"case.confirmed": 1, "contact.traced": 1}

    # Closed: a positive from before (or of) that episode is no new case; a later one is.
    (case_id,) = [r["id"] for r in await seed.fetch("SELECT id FROM outbreak_case")]
    assert (await api(PROVINCE).post(f"/v1/cases/{case_id}/close", json={})).status_code == 200
    await client.post(url, json={"items": [single("P-4", f0, at=COLLECTED - timedelta(days=1))]})
    assert await seed.count("outbreak_case") == 1
    await client.post(url, json={"items": [single("P-5", f0, at=COLLECTED + timedelta(days=20))]})
    rows = await seed.fetch("SELECT collected_at, status FROM outbreak_case ORDER BY collected_at")
    assert [(r["collected_at"], r["status"]) for r in rows] == [
        (COLLECTED, "closed"),
        (COLLECTED + timedelta(days=20), "open"),
    ]


async def test_many_positives_in_one_batch_make_their_cases_together(api: As, seed: Seed) -> None:
    """Two F0s of one batch who met are each other's contacts; one shared contact is linked to both."""
    eid = await seed.enterprise()
    canteen = await venue(seed, eid, "canteen")
    a, b, c = [await seed.person(eid) for _ in range(3)]
    for k, pid in enumerate((a, b, c)):
        await checkin(seed, pid, canteen, T + timedelta(minutes=k))
    lab = await seed.lab()
    r = await api(callers.lab(lab)).post(
        f"/v1/labs/{lab}/results", json={"items": [single("P-1", a), single("P-2", b)]}
    )
    assert r.json()["accepted"] == 2
    assert await seed.count("outbreak_case") == 2
    links = await seed.fetch(
        "SELECT oc.person_id AS f0, ct.person_id AS f1 FROM contact ct JOIN outbreak_case oc ON oc.id = ct.case_id"
    )
    assert sorted((r["f0"], r["f1"]) for r in links) == sorted([(a, b), (a, c), (b, a), (b, c)])
    assert await events(seed) == {"case.confirmed": 2, "contact.traced": 4}


async def test_the_case_keeps_the_scope_of_its_person(api: As, seed: Seed) -> None:
    """A district authority posting for a lab names only its district's people (unchanged); the
    case takes the F0's employer's district, and the other district does not see it."""
    here, there = await seed.enterprise(), await seed.enterprise(district=OTHER_DISTRICT)
    mine, theirs = await seed.person(here), await seed.person(there)
    lab = await seed.lab()
    local = callers.district_authority(DISTRICT)
    r = await api(local).post(f"/v1/labs/{lab}/results", json={"items": [single("P-1", mine), single("P-2", theirs)]})
    assert [o["status"] for o in r.json()["items"]] == ["accepted", "rejected"]
    (case,) = await seed.fetch("SELECT id, district FROM outbreak_case")
    assert case["district"] == DISTRICT
    assert (await api(local).get(f"/v1/cases/{case['id']}")).status_code == 200
    other = await api(callers.district_authority(OTHER_DISTRICT)).get(f"/v1/cases/{case['id']}")
    assert other.status_code == 404


async def test_nothing_half_written_when_the_case_cannot_be_made(
    api: As, seed: Seed, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The results, the case, its contacts and their facts commit together or not at all."""
    from safework_registry.outbreak import repository

    async def broken(*args: Any, **kw: Any) -> tuple[int, int]:
        raise RuntimeError("the case statement failed")

    monkeypatch.setattr(repository, "cases_from_results", broken)
    eid = await seed.enterprise()
    f0 = await seed.person(eid)
    lab = await seed.lab()
    r = await api(callers.lab(lab)).post(f"/v1/labs/{lab}/results", json={"items": [single("P-1", f0)]})
    assert r.status_code == 500
    for table in ("test_result", "outbreak_case", "outbox_event", "audit_log"):
        assert await seed.count(table) == 0, table
