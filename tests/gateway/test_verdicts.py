"""The verdicts through the public door, with ``as_of`` in 2021: a person's due answer, the
worker's own status, the enterprise's due list and its compliance give the same verdict for the
same person and instant (docs/VERDICTS.md). Each test names the seed clause it proves."""

from __future__ import annotations

import uuid
from datetime import date
from typing import Any

from safework_scheduler.due.rules import round_offset_days
from tests.gateway.conftest import Stack, bearer
from tests.gateway.world import ok
from tests.scheduler.factories import local, registry

DOSE_1 = local(2021, 8, 1, 9)


def monday_enterprise(n: int) -> uuid.UUID:
    """An enterprise id whose rounds start on Mondays (offset 0 from the anchor, Monday 4 Jan
    2021): round 36 starts Monday 13 September 2021 and tests half 0."""
    i = n * 1000 + 500
    while round_offset_days(uuid.UUID(int=i), 7) != 0:
        i += 1
    return uuid.UUID(int=i)


async def verdicts(stack: Stack, eid: uuid.UUID, pid: uuid.UUID, as_of: str) -> dict[str, Any]:
    """The same person's verdict from every route that gives one."""
    province = stack.province()
    person = await ok(await stack.http.get(f"/api/v1/persons/{pid}/due", params={"as_of": as_of}, headers=province))
    worker = bearer(stack.token("worker", person_id=str(pid), enterprise_id=str(eid)))
    me = await ok(await stack.http.get("/api/v1/me/status", params={"as_of": as_of}, headers=worker))
    return {"person": person, "me": me}


async def test_a_round_is_a_window_and_every_route_agrees(stack: Stack, db: str) -> None:
    """seeds/000 §2.2 (3) '7 ngày/lần, mỗi lần cho 50%': on the third day of the round, half of
    the enterprise is due in the open window, nobody is overdue, and compliance does not report
    TESTS_OVERDUE. Every route gives each person the same verdict."""
    eid = monday_enterprise(1)
    async with registry(db) as reg:
        await reg.enterprise(enterprise_id=eid, zone_type="KCN")
        people = []
        for i in range(10):
            pid = await reg.person(eid, cohort=i % 2, employee_code=f"W{i}")
            await reg.dose(pid, 1, DOSE_1)
            await reg.result(pid, local(2021, 9, 6, 9) if i % 2 else local(2021, 8, 30, 9), pooled=True)
            people.append(pid)
    as_of = "2021-09-15T10:00:00+07:00"
    province = stack.province()
    day = await ok(
        await stack.http.get(f"/api/v1/enterprises/{eid}/due", params={"date": "2021-09-15"}, headers=province)
    )
    assert day["round"]["starts_on"] == "2021-09-13" and day["round"]["ends_on"] == "2021-09-19"
    assert day["counts"]["due"] == 5 and day["counts"]["overdue"] == 0 and day["counts"]["not_cleared"] == 0
    listed = {p["person_id"]: p for p in day["people"]}
    for p in listed.values():
        assert (p["window_start"], p["window_end"], p["window_done"]) == (
            "2021-09-13T00:00:00+07:00",
            "2021-09-20T00:00:00+07:00",
            False,
        )
    compliance = await ok(
        await stack.http.get(f"/api/v1/enterprises/{eid}/compliance", params={"as_of": as_of}, headers=province)
    )
    assert "TESTS_OVERDUE" not in compliance["reasons"] and compliance["figures"]["overdue_tests"] == 0

    for pid in people:
        v = await verdicts(stack, eid, pid, as_of)
        person, me = v["person"], v["me"]
        assert me["cleared_to_work"] is person["cleared_to_work"] is True
        assert me["reasons"] == person["not_cleared"] == []
        assert person["overdue"] is False
        if str(pid) in listed:
            assert person["reasons"] == ["ROUTINE_COHORT"] and person["due_at"] == "2021-09-13T00:00:00+07:00"
            assert me["next_due_test"]["window_end"] == "2021-09-20T00:00:00+07:00"

    # A week later the window has closed untested: overdue, no longer cleared, on every route.
    late = "2021-09-21T10:00:00+07:00"
    after = await ok(
        await stack.http.get(f"/api/v1/enterprises/{eid}/due", params={"date": "2021-09-21"}, headers=province)
    )
    overdue = {p["person_id"] for p in after["people"] if p["overdue"]}
    assert overdue == set(listed)
    compliance = await ok(
        await stack.http.get(f"/api/v1/enterprises/{eid}/compliance", params={"as_of": late}, headers=province)
    )
    assert compliance["figures"]["overdue_tests"] == 5 and "TESTS_OVERDUE" in compliance["reasons"]
    for pid in people[:2]:
        v = await verdicts(stack, eid, pid, late)
        assert v["person"]["overdue"] is (str(pid) in overdue)
        assert v["me"]["cleared_to_work"] is v["person"]["cleared_to_work"] is (str(pid) not in overdue)
        if str(pid) in overdue:
            assert v["me"]["reasons"] == v["person"]["not_cleared"] == ["NEGATIVE_TEST_TOO_OLD"]


async def test_never_tested_and_suspended_are_not_cleared(stack: Stack, db: str) -> None:
    """seeds/003 'chỉ sử dụng lao động đã được xét nghiệm âm tính': a worker never tested is
    not cleared; seeds/004 §II.6: a suspended enterprise's workers are not cleared either."""
    eid = monday_enterprise(2)
    stopped = monday_enterprise(3)
    async with registry(db) as reg:
        await reg.enterprise(enterprise_id=eid)
        await reg.enterprise(enterprise_id=stopped, operating_status="suspended")
        never = await reg.person(eid, cohort=1)
        await reg.dose(never, 1, DOSE_1)
        idle = await reg.person(stopped, cohort=1)
        await reg.dose(idle, 1, DOSE_1)
        await reg.result(idle, local(2021, 9, 10, 9))
    as_of = "2021-09-15T10:00:00+07:00"
    v = await verdicts(stack, eid, never, as_of)
    assert v["person"]["cleared_to_work"] is v["me"]["cleared_to_work"] is False
    assert v["person"]["not_cleared"] == v["me"]["reasons"] == ["NO_NEGATIVE_TEST"]
    day = await ok(
        await stack.http.get(f"/api/v1/enterprises/{eid}/due", params={"date": "2021-09-15"}, headers=stack.province())
    )
    assert [(p["person_id"], p["not_cleared"]) for p in day["people"]] == [(str(never), ["NO_NEGATIVE_TEST"])]
    v = await verdicts(stack, stopped, idle, as_of)
    assert v["person"]["not_cleared"] == v["me"]["reasons"] == ["ENTERPRISE_SUSPENDED"]


async def test_a_positive_stands_however_old(stack: Stack, db: str) -> None:
    """DOMAIN.md: a positive result stands until a later individual negative PCR, however long
    ago (it used to expire after the 21-day history window). A later pooled negative does not
    lift it; a later individual negative PCR does."""
    eid = monday_enterprise(4)
    async with registry(db) as reg:
        await reg.enterprise(enterprise_id=eid)
        pid = await reg.person(eid, cohort=0)
        await reg.dose(pid, 1, DOSE_1)
        await reg.result(pid, local(2021, 8, 1, 8), result="POSITIVE")
        await reg.result(pid, local(2021, 9, 20, 8), pooled=True)
    as_of = "2021-09-30T10:00:00+07:00"
    v = await verdicts(stack, eid, pid, as_of)
    assert v["person"]["cleared_to_work"] is v["me"]["cleared_to_work"] is False
    assert v["person"]["not_cleared"] == v["me"]["reasons"] == ["POSITIVE"]
    province = stack.province()
    counts = await ok(await stack.http.get("/api/v1/due", params={"as_of": as_of}, headers=province))
    mine = next(e for e in counts["enterprises"] if e["enterprise_id"] == str(eid))
    assert mine["not_cleared"] == 1
    async with registry(db) as reg:
        await reg.result(pid, local(2021, 9, 28, 8))
    v = await verdicts(stack, eid, pid, as_of)
    assert v["person"]["cleared_to_work"] is v["me"]["cleared_to_work"] is True


async def test_the_rule_history_from_may_2021(stack: Stack, db: str) -> None:
    """seeds/002: from 13 May 2021 every park worker owes one test before 16 May (mass testing,
    paid by the enterprise); before that no policy is in force. seeds/003 (24 June): no cadence,
    but only negative-tested workers work. Each answer names its version and, where it rests on
    a value the seeds do not give, says so."""
    eid = monday_enterprise(5)
    async with registry(db) as reg:
        await reg.enterprise(enterprise_id=eid, zone_type="KCN")
        pid = await reg.person(eid, hire_date=date(2021, 3, 1))
        await reg.dose(pid, 1, local(2021, 7, 1, 9))
    province = stack.province()
    url = f"/api/v1/persons/{pid}/due"
    r = await stack.http.get(url, params={"as_of": "2021-05-12T10:00:00+07:00"}, headers=province)
    assert r.status_code == 404 and r.json()["error"]["code"] == "no_policy_in_force"
    may = await ok(await stack.http.get(url, params={"as_of": "2021-05-14T10:00:00+07:00"}, headers=province))
    assert (may["policy_version"], may["reasons"], may["overdue"]) == ("2021-05-13", ["MASS_TESTING"], False)
    assert may["requirements"][0]["window_end"] == "2021-05-16T00:00:00+07:00"
    late = await ok(await stack.http.get(url, params={"as_of": "2021-05-17T10:00:00+07:00"}, headers=province))
    assert late["overdue"] is True and late["not_cleared"] == ["NO_NEGATIVE_TEST"]
    june = await ok(await stack.http.get(url, params={"as_of": "2021-06-25T10:00:00+07:00"}, headers=province))
    assert (june["policy_version"], june["reasons"], june["due_at"]) == ("2021-06-24", [], None)
    assert june["not_cleared"] == ["NO_NEGATIVE_TEST"]
    july = await ok(await stack.http.get(url, params={"as_of": "2021-07-21T10:00:00+07:00"}, headers=province))
    assert july["policy_version"] == "2021-07-20" and july["reasons"] == ["ROUTINE_ROUND"]
    # The July plan's screening period is not in the seeds: the answer says so.
    assert "testing.routine.round_days" in july["assumptions"]
    policies = await ok(await stack.http.get("/api/v1/policies", headers=province))
    assert [p["version"] for p in policies["items"]] == [
        "2021-05-13",
        "2021-06-24",
        "2021-07-20",
        "2021-09-11",
        "2021-11-01",
    ]
