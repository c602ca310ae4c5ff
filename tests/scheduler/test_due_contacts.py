"""Traced contacts (F1) in every verdict: seeds/004 §II.3 ("phân loại nguy cơ"): a contact is
high-risk from the moment of tracing (a test at once, then every 3 days, seeds/000 §2.2 (1)) for
``testing.contact.high_risk_days`` (not in the source), with the case they came from, by id
only: the F0's identity is never in a verdict."""

from __future__ import annotations

import uuid
from typing import Any

import httpx

from safework_common.internal_auth import InternalTokenMinter
from tests.callers import PROVINCE, As, district_authority, enterprise, worker
from tests.scheduler.factories import local
from tests.scheduler.factories import registry as rows

TRACED = local(2021, 9, 21, 10)
AT = {"as_of": "2021-09-21T12:00:00+07:00"}


async def outbreak(db: str, registry: httpx.AsyncClient, minter: InternalTokenMinter) -> dict[str, Any]:
    """A park enterprise: an F0, an F1 who shared the canteen with them, a bystander; all
    vaccinated and tested on 14 Sep. The F0's positive PCR is collected 20 Sep, traced 21 Sep."""
    async with rows(db) as reg:
        eid = await reg.enterprise(district="Việt Yên")
        other = await reg.enterprise(district="Yên Dũng")
        f0, f1, bystander = [await reg.person(eid) for _ in range(3)]
        for pid in (f0, f1, bystander):
            await reg.dose(pid, 1, local(2021, 8, 1, 9))
            await reg.result(pid, local(2021, 9, 14, 9))
        await reg.result(f0, local(2021, 9, 20, 8), result="POSITIVE")
        canteen = uuid.uuid4()
        await reg.conn.execute(
            "INSERT INTO venue (id, enterprise_id, name, kind, qr_code) VALUES ($1, $2, 'Nhà ăn', 'canteen', $3)",
            canteen,
            eid,
            f"QR-{canteen.hex}",
        )
        await reg.conn.executemany(
            "INSERT INTO checkin (person_id, venue_id, checked_in_at) VALUES ($1, $2, $3)",
            [(f0, canteen, local(2021, 9, 19, 12)), (f1, canteen, local(2021, 9, 19, 12, 20))],
        )
    r = await As(registry, minter)(PROVINCE).post("/v1/cases", json={"person_id": str(f0), "at": TRACED.isoformat()})
    assert r.status_code == 201, r.text
    return {"eid": eid, "other": other, "f0": f0, "f1": f1, "bystander": bystander, "case": r.json()["id"]}


async def test_a_traced_contact_is_high_risk_from_tracing_with_its_case(
    db: str, registry: httpx.AsyncClient, scheduler: httpx.AsyncClient, minter: InternalTokenMinter
) -> None:
    w = await outbreak(db, registry, minter)
    as_ = As(scheduler, minter)
    url = f"/v1/persons/{w['f1']}/due"
    # The worker, their enterprise and the authority all see the reason and the case id.
    for caller in (worker(w["f1"], w["eid"]), enterprise(w["eid"]), PROVINCE, district_authority("Việt Yên")):
        body = (await as_(caller).get(url, params=AT)).json()
        assert "CONTACT" in body["reasons"], (caller, body)
        assert body["contact_case_id"] == w["case"]
        assert body["due_at"] == "2021-09-21T10:00:00+07:00"  # at once, from the moment of tracing
        (req,) = [q for q in body["requirements"] if q["reason"] == "CONTACT"]
        assert (req["case_id"], req["interval_days"]) == (w["case"], 3)
        assert "testing.contact.high_risk_days" in body["assumptions"]
        assert str(w["f0"]) not in str(body)  # no F0 identity
    # Before the trace, after the high-risk period (14 days, not in the source): no CONTACT.
    for as_of in ("2021-09-21T09:59:00+07:00", "2021-10-05T10:00:00+07:00"):
        body = (await as_(PROVINCE).get(url, params={"as_of": as_of})).json()
        assert "CONTACT" not in body["reasons"] and body["contact_case_id"] is None, as_of
    # A bystander is untouched; another enterprise and district do not see the contact.
    body = (await as_(PROVINCE).get(f"/v1/persons/{w['bystander']}/due", params=AT)).json()
    assert "CONTACT" not in body["reasons"]
    for caller in (enterprise(w["other"]), district_authority("Yên Dũng")):
        r = await as_(caller).get(url, params=AT)
        assert (r.status_code, r.json()["error"]["code"]) == (404, "person_not_found")


async def test_the_due_lists_carry_the_contact_and_its_case(
    db: str, registry: httpx.AsyncClient, scheduler: httpx.AsyncClient, minter: InternalTokenMinter
) -> None:
    w = await outbreak(db, registry, minter)
    as_ = As(scheduler, minter)
    day = (await as_(enterprise(w["eid"])).get(f"/v1/enterprises/{w['eid']}/due", params={"date": "2021-09-21"})).json()
    listed = {p["person_id"]: p for p in day["people"]}
    assert "CONTACT" in listed[str(w["f1"])]["reasons"]
    assert listed[str(w["f1"])]["contact_case_id"] == w["case"]
    assert str(w["bystander"]) not in listed or listed[str(w["bystander"])]["contact_case_id"] is None
    page = (await as_(PROVINCE).get("/v1/due/people", params={**AT, "status": "due"})).json()
    found = [p for p in page["items"] if p["person_id"] == str(w["f1"])]
    assert found and "CONTACT" in found[0]["reasons"] and found[0]["contact_case_id"] == w["case"]
    counts = (await as_(PROVINCE).get("/v1/due", params=AT)).json()
    assert counts["totals"]["due"] >= 1


def test_me_status_carries_the_case_id_only() -> None:
    """The worker's app shows that they are a contact and of which case (its id), nothing more."""
    from safework_gateway.me.router import merge_status

    case = str(uuid.uuid4())
    due = {"due_at": "2021-09-21T10:00:00+07:00", "kind": "EITHER", "reasons": ["CONTACT"], "cleared_to_work": True,
           "requirements": [], "contact_case_id": case}  # fmt: skip
    status = merge_status(str(uuid.uuid4()), {}, due)
    assert str(status.contact_case_id) == case and status.next_due_test is not None
    assert status.next_due_test.reasons == ["CONTACT"]
