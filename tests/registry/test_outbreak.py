"""Cases (F0) and tracing (F1): seeds/004 §II.3 ("thần tốc truy vết, phân loại nguy cơ"),
seeds/002 §2 ("thần tốc truy vết, khoanh vùng"). The dwell per venue kind and the infectious
window are parameters not in the source (``outbreak/parameters.yaml``): 60 min for a canteen,
480 for a production unit, 2 days before collection."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncSession, create_async_engine

from safework_common.internal_auth import InternalTokenMinter
from safework_common.settings import asyncpg_url
from safework_common.timezone import LOCAL_TZ
from safework_registry.outbreak import repository
from safework_registry.outbreak.models import OutbreakCase
from safework_registry.outbreak.parameters import current
from safework_registry.outbreak.rules import infectious_window
from tests import callers
from tests.callers import PROVINCE, As
from tests.registry.factories import OTHER_DISTRICT, Seed, cipher_for

COLLECTED = datetime(2021, 9, 20, 8, 0, tzinfo=LOCAL_TZ)
ISOLATED = datetime(2021, 9, 21, 0, 0, tzinfo=LOCAL_TZ)
TRACED = datetime(2021, 9, 21, 10, 0, tzinfo=LOCAL_TZ)
T = datetime(2021, 9, 19, 12, 0, tzinfo=LOCAL_TZ)  # the F0's check-in, inside the window


@pytest.fixture
def seed(db: str, keys_dir: Path) -> Seed:
    return Seed(db, cipher_for(keys_dir))


@pytest.fixture
def api(registry: httpx.AsyncClient, minter: InternalTokenMinter) -> As:
    return As(registry, minter)


async def venue(seed: Seed, enterprise_id: uuid.UUID, kind: str) -> uuid.UUID:
    vid = uuid.uuid4()
    await seed.fetch(
        "INSERT INTO venue (id, enterprise_id, name, kind, qr_code) VALUES ($1, $2, $3, $4, $5)",
        vid,
        enterprise_id,
        f"{kind} {vid.hex[:4]}",
        kind,
        f"QR-{vid.hex}",
    )
    return vid


async def checkin(seed: Seed, person_id: uuid.UUID, venue_id: uuid.UUID, at: datetime) -> None:
    await seed.fetch(
        "INSERT INTO checkin (person_id, venue_id, checked_in_at) VALUES ($1, $2, $3)", person_id, venue_id, at
    )


async def positive(seed: Seed, person_id: uuid.UUID, *, kind: str = "PCR", at: datetime = COLLECTED) -> int:
    lab = await seed.lab()
    rid: int = await seed.fetchval(
        "INSERT INTO test_result (person_id, lab_id, sample_id, kind, collected_at, resulted_at, result) "
        "VALUES ($1, $2, $3, $4, $5, $5, 'POSITIVE') RETURNING id",
        person_id,
        lab,
        f"S-{uuid.uuid4().hex[:10]}",
        kind,
        at,
    )
    return rid


def case_body(person_id: uuid.UUID, **kw: Any) -> dict[str, Any]:
    return {"person_id": str(person_id), "isolated_at": ISOLATED.isoformat(), "at": TRACED.isoformat(), **kw}


# (rule, venue kind of the F0's check-in, where the other checks in, offset from T, a contact?)
OVERLAP_EDGES = [
    ("seeds/004 §II.3: same canteen inside the dwell", "canteen", "same", timedelta(minutes=59), True),
    ("seeds/004 §II.3: same canteen, earlier, inside the dwell", "canteen", "same", -timedelta(minutes=59), True),
    ("dwell boundary (not in the source): exactly 60 min after touches, no overlap", "canteen", "same",
     timedelta(minutes=60), False),
    ("dwell boundary: exactly 60 min before, no overlap", "canteen", "same", -timedelta(minutes=60), False),
    ("another venue at the same time is no link", "canteen", "other", timedelta(0), False),
    ("same venue another day is no link", "canteen", "same", timedelta(days=1), False),
    ("a production unit covers an 8-hour shift", "production_unit", "same", timedelta(hours=7, minutes=59), True),
    ("a gate pass lasts 5 minutes", "gate", "same", timedelta(minutes=6), False),
    ("a shuttle bus ride lasts an hour", "shuttle_bus", "same", timedelta(minutes=30), True),
]  # fmt: skip


@pytest.mark.parametrize(
    ("rule", "kind", "where", "offset", "contact"), OVERLAP_EDGES, ids=[r[0] for r in OVERLAP_EDGES]
)
async def test_overlap_edges(
    api: As, seed: Seed, rule: str, kind: str, where: str, offset: timedelta, contact: bool
) -> None:
    eid = await seed.enterprise()
    here, there = await venue(seed, eid, kind), await venue(seed, eid, kind)
    f0, other = await seed.person(eid), await seed.person(eid)
    await checkin(seed, f0, here, T)
    await checkin(seed, other, here if where == "same" else there, T + offset)
    await positive(seed, f0)
    r = await api(PROVINCE).post("/v1/cases", json=case_body(f0))
    assert r.status_code == 201, r.text
    assert r.json()["contacts"] == (1 if contact else 0), rule
    page = (await api(PROVINCE).get(f"/v1/cases/{r.json()['id']}/contacts")).json()
    assert [c["person_id"] for c in page["items"]] == ([str(other)] if contact else [])
    if contact:
        (c,) = page["items"]
        assert (c["link"], c["venue_id"], c["ring"]) == ("venue", str(here), 1)
        assert datetime.fromisoformat(c["traced_at"]) == TRACED
    assert {a["parameter"] for a in page["assumptions"]} >= {
        "infectious_days_before_collection",
        f"dwell_minutes.{kind}",
    }


@pytest.mark.parametrize(
    ("rule", "f0_at", "contact"),
    [
        ("seeds/004: an F0 check-in inside the window (2 days before collection, not in the source) counts",
         COLLECTED - timedelta(days=2), True),
        ("an F0 check-in before the infectious window is no exposure", COLLECTED - timedelta(days=2, minutes=1), False),
        ("an F0 check-in after isolation (the window's end) is no exposure", ISOLATED + timedelta(minutes=1), False),
        ("an F0 check-in at the isolation instant still counts", ISOLATED, True),
    ],
)  # fmt: skip
async def test_the_infectious_window(api: As, seed: Seed, rule: str, f0_at: datetime, contact: bool) -> None:
    eid = await seed.enterprise()
    here = await venue(seed, eid, "canteen")
    f0, other = await seed.person(eid), await seed.person(eid)
    await checkin(seed, f0, here, f0_at)
    await checkin(seed, other, here, f0_at + timedelta(minutes=10))
    await positive(seed, f0)
    r = await api(PROVINCE).post("/v1/cases", json=case_body(f0))
    assert r.status_code == 201, r.text
    assert r.json()["contacts"] == (1 if contact else 0), rule
    assert datetime.fromisoformat(r.json()["infectious_from"]) == COLLECTED - timedelta(days=2)


@pytest.mark.parametrize(
    ("rule", "f0_at", "contact"),
    [
        ("with no isolation known the window runs to the trace: a check-in at the trace counts", TRACED, True),
        ("an F0 check-in after the trace (no isolation known) is no exposure", TRACED + timedelta(minutes=1), False),
    ],
)
async def test_without_isolation_the_window_ends_at_the_trace(
    api: As, seed: Seed, rule: str, f0_at: datetime, contact: bool
) -> None:
    eid = await seed.enterprise()
    here = await venue(seed, eid, "canteen")
    f0, other = await seed.person(eid), await seed.person(eid)
    await checkin(seed, f0, here, f0_at)
    await checkin(seed, other, here, f0_at + timedelta(minutes=10))
    await positive(seed, f0)
    body = {k: v for k, v in case_body(f0).items() if k != "isolated_at"}
    r = await api(PROVINCE).post("/v1/cases", json=body)
    assert r.status_code == 201, r.text
    assert (r.json()["contacts"], r.json()["window_end"]) == (1 if contact else 0, TRACED.isoformat()), rule


def test_every_parameter_the_seeds_leave_open_is_documented() -> None:
    """Each outbreak parameter (not in the source) is named, with its value, in docs/RULES.md."""
    rules = (Path(__file__).parents[2] / "docs" / "RULES.md").read_text(encoding="utf-8")
    params = current()
    assert params.assumptions
    for a in params.assumptions:
        assert a.source.startswith("not in the source")
        assert f"| `{a.parameter}` | {a.value} |" in rules, a.parameter


async def test_housemates_and_declared_contacts_are_linked(api: As, seed: Seed) -> None:
    """seeds/003 concentrated sites, seeds/002 §3 room rentals: people housed with the F0; and
    contacts the authority names."""
    eid = await seed.enterprise()
    f0, mate, named, elsewhere = [await seed.person(eid) for _ in range(4)]
    site = uuid.uuid4()
    await seed.fetch(
        "INSERT INTO accommodation (id, name, address, district, kind) VALUES ($1, 'Nhà trọ A', 'x', 'Việt Yên', 'b')",
        site,
    )
    await seed.fetch("UPDATE person SET accommodation_id = $1 WHERE id = ANY($2::uuid[])", site, [f0, mate])
    await positive(seed, f0)
    case = (await api(PROVINCE).post("/v1/cases", json=case_body(f0))).json()
    assert case["contacts"] == 1
    r = await api(PROVINCE).post(f"/v1/cases/{case['id']}/contacts", json={"person_ids": [str(named), str(mate)]})
    assert r.status_code == 200, r.text
    assert (r.json()["contacts"], r.json()["new_contacts"]) == (2, 1)
    items = (await api(PROVINCE).get(f"/v1/cases/{case['id']}/contacts")).json()["items"]
    links = {c["person_id"]: c["link"] for c in items}
    assert links == {str(mate): "accommodation", str(named): "declared"}
    assert str(elsewhere) not in links
    r = await api(PROVINCE).post(f"/v1/cases/{case['id']}/contacts", json={"person_ids": [str(f0)]})
    assert (r.status_code, r.json()["error"]["code"]) == (422, "contact_is_case")


@pytest.mark.parametrize(
    ("rule", "kind", "body", "status", "code", "field"),
    [
        ("an individual positive PCR makes a case", "PCR", {}, 201, None, None),
        ("a positive rapid test needs the authority's confirmation", "RAPID_ANTIGEN", {}, 422, "no_positive_result",
         "body.person_id"),
        ("a positive rapid test named without confirmation is refused", "RAPID_ANTIGEN", {"result_id": "R"}, 422,
         "case_needs_confirmation", "body.confirmed"),
        ("a positive the authority confirms makes a case", "RAPID_ANTIGEN", {"confirmed": True}, 201, None, None),
        ("a trace before the specimen's collection is refused", "PCR", {"at": "2021-09-19T00:00:00+07:00"}, 422,
         "trace_before_collection", "body.at"),
        ("a trace time without a zone is refused", "PCR", {"at": "2021-09-21T10:00:00"}, 422, "validation_error",
         "body.at"),
    ],
)  # fmt: skip
async def test_what_makes_a_case(
    api: As, seed: Seed, rule: str, kind: str, body: dict[str, Any], status: int, code: str | None, field: str | None
) -> None:
    eid = await seed.enterprise()
    f0 = await seed.person(eid)
    rid = await positive(seed, f0, kind=kind)
    if body.get("result_id") == "R":
        body = {**body, "result_id": rid}
    r = await api(PROVINCE).post("/v1/cases", json=case_body(f0, **body))
    assert r.status_code == status, (rule, r.text)
    if code is not None:
        assert (r.json()["error"]["code"], r.json()["error"]["details"][0]["field"]) == (code, field)
        assert await seed.count("outbreak_case") == 0  # nothing half-written
    else:
        assert r.json()["basis"] == ("pcr" if kind == "PCR" else "confirmed")


async def test_the_same_positive_is_one_case_and_a_case_writes_its_facts_once(api: As, seed: Seed) -> None:
    eid = await seed.enterprise()
    here = await venue(seed, eid, "canteen")
    f0 = await seed.person(eid)
    await checkin(seed, f0, here, T)
    others = [pid for pid, _ in await seed.people(eid, 1000)]
    conn_rows = [(pid, here, T + timedelta(minutes=5)) for pid in others]
    await seed.fetch(
        "INSERT INTO checkin (person_id, venue_id, checked_in_at) SELECT * FROM unnest($1::uuid[], $2::uuid[], "
        "$3::timestamptz[])",
        [r[0] for r in conn_rows],
        [r[1] for r in conn_rows],
        [r[2] for r in conn_rows],
    )
    await positive(seed, f0)
    r = await api(PROVINCE).post("/v1/cases", json=case_body(f0))
    assert (r.status_code, r.json()["contacts"]) == (201, 1000)
    case_id = r.json()["id"]
    again = await api(PROVINCE).post("/v1/cases", json=case_body(f0))
    assert (again.status_code, again.json()["error"]["code"]) == (409, "case_exists")
    events = await seed.fetch("SELECT kind, count(*) AS n FROM outbox_event GROUP BY kind ORDER BY kind")
    counts = {e["kind"]: e["n"] for e in events}
    assert counts.get("case.confirmed") == 1 and counts.get("contact.traced") == 1000
    # Tracing again adds no one twice.
    r = await api(PROVINCE).post(f"/v1/cases/{case_id}/trace")
    assert (r.status_code, r.json()["new_contacts"], r.json()["contacts"]) == (200, 0, 1000)
    payloads = await seed.fetch("SELECT payload::text AS p FROM outbox_event LIMIT 50")
    assert all("Nguyễn" not in p["p"] for p in payloads)  # ids only, no names


async def test_trace_view_counts_keyset_pages_and_the_second_ring(api: As, seed: Seed) -> None:
    eid, other_eid = await seed.enterprise(), await seed.enterprise()
    canteen, bus = await venue(seed, eid, "canteen"), await venue(seed, other_eid, "shuttle_bus")
    f0 = await seed.person(eid)
    f1s = [await seed.person(eid) for _ in range(3)]
    rider = await seed.person(other_eid)
    f2 = await seed.person(other_eid)
    await checkin(seed, f0, canteen, T)
    for pid in f1s:
        await checkin(seed, pid, canteen, T + timedelta(minutes=10))
    await checkin(seed, f0, bus, T + timedelta(hours=3))
    await checkin(seed, rider, bus, T + timedelta(hours=3, minutes=5))
    # The rider (an F1) rides again the next day beside someone the F0 never met: ring 2.
    await checkin(seed, rider, bus, T + timedelta(days=1))
    await checkin(seed, f2, bus, T + timedelta(days=1, minutes=1))
    await positive(seed, f0)
    case = (await api(PROVINCE).post("/v1/cases", json=case_body(f0))).json()
    view = (await api(PROVINCE).get(f"/v1/cases/{case['id']}")).json()
    assert view["contacts"] == 4 and view["by_link"] == {"venue": 4}
    assert {(e["enterprise_id"], e["contacts"]) for e in view["by_enterprise"]} == {(str(eid), 3), (str(other_eid), 1)}
    assert {(v["venue_id"], v["contacts"]) for v in view["by_venue"]} == {(str(canteen), 3), (str(bus), 1)}
    before = (await api(PROVINCE).get(f"/v1/cases/{case['id']}", params={"as_of": "2021-09-21T09:00:00+07:00"})).json()
    assert before["contacts"] == 0  # nothing was traced yet
    seen: list[str] = []
    cursor = None
    while True:
        params: dict[str, Any] = {"limit": 2, **({"cursor": cursor} if cursor else {})}
        page = (await api(PROVINCE).get(f"/v1/cases/{case['id']}/contacts", params=params)).json()
        seen += [c["person_id"] for c in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert sorted(seen) == sorted(str(p) for p in [*f1s, rider]) and len(seen) == 4
    only = (
        await api(PROVINCE).get(f"/v1/cases/{case['id']}/contacts", params={"enterprise_id": str(other_eid)})
    ).json()
    assert [c["person_id"] for c in only["items"]] == [str(rider)]
    ring2 = (await api(PROVINCE).get(f"/v1/cases/{case['id']}/contacts", params={"ring": 2})).json()
    assert [(c["person_id"], c["via_person_id"], c["ring"]) for c in ring2["items"]] == [(str(f2), str(rider), 2)]


async def test_district_view_and_tenant_scope(api: As, seed: Seed) -> None:
    eid = await seed.enterprise()
    far = await seed.enterprise(district=OTHER_DISTRICT)
    here = await venue(seed, eid, "canteen")
    f0, f1 = await seed.person(eid), await seed.person(eid)
    await checkin(seed, f0, here, T)
    await checkin(seed, f1, here, T)
    await positive(seed, f0)
    own = callers.district_authority("Việt Yên")
    r = await api(own).post("/v1/cases", json=case_body(f0))
    assert r.status_code == 201, r.text
    case_id = r.json()["id"]
    view = (await api(own).get("/v1/districts/Việt Yên/outbreak", params={"as_of": TRACED.isoformat()})).json()
    assert (view["open_cases"], view["contacts"]) == (1, 1)
    assert [(e["enterprise_id"], e["open_cases"], e["contacts"]) for e in view["items"]] == [(str(eid), 1, 1)]
    other = callers.district_authority(OTHER_DISTRICT)
    for path in (f"/v1/cases/{case_id}", f"/v1/cases/{case_id}/contacts"):
        r = await api(other).get(path)
        assert (r.status_code, r.json()["error"]["code"]) == (404, "case_not_found")
    r = await api(other).get("/v1/districts/Việt Yên/outbreak")
    assert (r.status_code, r.json()["error"]["code"]) == (404, "district_not_found")
    assert (await api(other).get("/v1/cases")).json()["items"] == []
    r = await api(other).post("/v1/cases", json=case_body(await seed.person(eid)))
    assert (r.status_code, r.json()["error"]["code"]) == (404, "person_not_found")
    for role in (callers.enterprise(eid), callers.worker(f1, eid), callers.enterprise(far)):
        r = await api(role).get(f"/v1/cases/{case_id}")
        assert (r.status_code, r.json()["error"]["code"]) == (403, "role_not_allowed")
    closed = await api(own).post(f"/v1/cases/{case_id}/close", json={"at": "2021-10-05T00:00:00+07:00"})
    assert closed.json()["status"] == "closed"
    later = (
        await api(own).get("/v1/districts/Việt Yên/outbreak", params={"as_of": "2021-10-06T00:00:00+07:00"})
    ).json()
    assert (later["open_cases"], later["contacts"], later["items"]) == (0, 0, [])


# (rule, how the F1 is linked, the F1's later bus ride (from T), the other rider's offset, as_of, in ring 2?)
SECOND_RING = [
    ("ring 2: the ring-1 rule applied to an F1's check-ins after their exposure", "venue", timedelta(days=1),
     timedelta(minutes=1), TRACED, True),
    ("ring 2: an F1's check-ins before their own exposure link no one", "venue", -timedelta(days=1),
     timedelta(minutes=1), TRACED, False),
    ("ring 2: dwell boundary (a bus ride lasts 60 min): 60 min apart touch, no overlap", "venue", timedelta(days=1),
     timedelta(minutes=60), TRACED, False),
    ("ring 2: an F1's check-in after as_of is not seen yet", "venue", TRACED - T + timedelta(hours=1),
     timedelta(minutes=1), TRACED + timedelta(minutes=30), False),
    ("ring 2: ... and is once as_of passes it", "venue", TRACED - T + timedelta(hours=1), timedelta(minutes=1),
     TRACED + timedelta(hours=2), True),
    ("ring 2: a declared F1's exposure is unknown: from the start of the F0's window", "declared",
     -timedelta(days=1), timedelta(minutes=1), TRACED, True),
]  # fmt: skip


@pytest.mark.parametrize(
    ("rule", "f1_link", "ride", "offset", "as_of", "in_ring2"), SECOND_RING, ids=[r[0] for r in SECOND_RING]
)
async def test_the_second_ring_applies_the_overlap_rule_to_each_f1(
    api: As,
    seed: Seed,
    rule: str,
    f1_link: str,
    ride: timedelta,
    offset: timedelta,
    as_of: datetime,
    in_ring2: bool,
) -> None:
    """seeds/004 §II.3 (trace fast, classify risk): the people an F1 met are found by the same
    rule that found the F1, over the F1's check-ins from their own exposure."""
    eid = await seed.enterprise()
    canteen, bus = await venue(seed, eid, "canteen"), await venue(seed, eid, "shuttle_bus")
    f0, f1, other = await seed.person(eid), await seed.person(eid), await seed.person(eid)
    await checkin(seed, f0, canteen, T)
    if f1_link == "venue":
        await checkin(seed, f1, canteen, T + timedelta(minutes=10))  # exposed at T + 10 min
    await checkin(seed, f1, bus, T + ride)
    await checkin(seed, other, bus, T + ride + offset)
    await positive(seed, f0)
    case = (await api(PROVINCE).post("/v1/cases", json=case_body(f0))).json()
    if f1_link == "declared":
        r = await api(PROVINCE).post(
            f"/v1/cases/{case['id']}/contacts", json={"person_ids": [str(f1)], "at": TRACED.isoformat()}
        )
        assert r.status_code == 200, r.text
    ring1 = (await api(PROVINCE).get(f"/v1/cases/{case['id']}/contacts", params={"as_of": as_of.isoformat()})).json()
    assert [c["person_id"] for c in ring1["items"]] == [str(f1)]
    ring2 = (
        await api(PROVINCE).get(f"/v1/cases/{case['id']}/contacts", params={"ring": 2, "as_of": as_of.isoformat()})
    ).json()
    found = [(c["person_id"], c["via_person_id"], c["venue_id"]) for c in ring2["items"]]
    assert found == ([(str(other), str(f1), str(bus))] if in_ring2 else []), rule


async def test_marking_a_thousand_contacts_is_one_statement(db: str, seed: Seed) -> None:
    """seeds/004 §II.3 asks for fast tracing: the F0's overlaps, 1,000 contacts and their 1,000
    outbox facts are written by one set-based statement, not a loop (counted at the driver)."""
    eid = await seed.enterprise()
    here = await venue(seed, eid, "production_unit")
    f0 = await seed.person(eid)
    await checkin(seed, f0, here, T)
    others = [pid for pid, _ in await seed.people(eid, 1000)]
    await seed.fetch(
        "INSERT INTO checkin (person_id, venue_id, checked_in_at) SELECT p, $2, $3 FROM unnest($1::uuid[]) AS p",
        others,
        here,
        T + timedelta(hours=1),
    )
    engine = create_async_engine(asyncpg_url(db))
    statements: list[str] = []
    event.listen(engine.sync_engine, "before_cursor_execute", lambda *a: statements.append(a[2]))
    params = current()
    window = infectious_window(COLLECTED, params.infectious_before, ISOLATED, TRACED)
    try:
        async with AsyncSession(engine) as session:
            case = OutbreakCase(id=uuid.uuid4(), person_id=f0, basis="pcr", collected_at=COLLECTED,
                                infectious_from=window.start, traced_at=TRACED)  # fmt: skip
            session.add(case)
            await session.flush()
            before = len(statements)
            assert await repository.trace(session, case, window, params.dwell, None) == 1000
            assert len(statements) - before == 1
            await session.commit()
    finally:
        await engine.dispose()
    assert await seed.count("contact") == 1000
    assert await seed.fetchval("SELECT count(*) FROM outbox_event WHERE kind = 'contact.traced'") == 1000
