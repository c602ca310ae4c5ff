"""The due-test routes against real PostgreSQL: one person, an enterprise's day, the province;
tenant scope (another tenant's object is 404, a role without business here 403); time zones."""

from __future__ import annotations

import uuid
from typing import Any

import httpx

from safework_common.internal_auth import InternalTokenMinter
from safework_scheduler.due.rules import round_offset_days
from tests.callers import PROVINCE, As, district_authority, enterprise, lab, worker
from tests.scheduler.factories import Registry, local, registry

VIET_YEN = "Việt Yên"
YEN_DUNG = "Yên Dũng"
DOSE_1 = local(2021, 8, 1, 9)


def monday_enterprise(n: int) -> uuid.UUID:
    """An enterprise id whose rounds start on Mondays (offset 0 from the policy's anchor,
    Monday 4 January 2021): round 36 starts Monday 13 September 2021 and tests half 0."""
    i = n * 1000
    while round_offset_days(uuid.UUID(int=i), 7) != 0:
        i += 1
    return uuid.UUID(int=i)


async def vaccinated(reg: Registry, eid: uuid.UUID | None, **kw: Any) -> uuid.UUID:
    pid = await reg.person(eid, **kw)
    await reg.dose(pid, 1, DOSE_1)
    return pid


class Park:
    """A park enterprise in Việt Yên with Monday rounds and a few workers on 13 Sep 2021."""

    def __init__(self) -> None:
        self.id = monday_enterprise(1)

    async def build(self, reg: Registry) -> None:
        await reg.enterprise(district=VIET_YEN, zone_type="KCN", enterprise_id=self.id)
        # Half 0, last tested in round 35 (6 Sep): due Monday 13 Sep.
        self.due_a = await vaccinated(reg, self.id, cohort=0, employee_code="A")
        await reg.result(self.due_a, local(2021, 9, 6, 9), pooled=True)
        # Half 1, tested 7 Sep: next due 20 Sep.
        self.later_b = await vaccinated(reg, self.id, cohort=1, employee_code="B")
        await reg.result(self.later_b, local(2021, 9, 7, 9))
        # Half 0, tested on 13 Sep 09:00: done for the day.
        self.done_c = await vaccinated(reg, self.id, cohort=0, employee_code="C")
        await reg.result(self.done_c, local(2021, 9, 13, 9), kind="RAPID_ANTIGEN")
        # Half 1, fever declared 13 Sep 08:00: a rapid test and a PCR at once, not cleared.
        self.sick_d = await vaccinated(reg, self.id, cohort=1, employee_code="D")
        await reg.result(self.sick_d, local(2021, 9, 7, 9))
        await reg.declaration(self.sick_d, local(2021, 9, 13, 8), symptoms=["fever", "cough"])
        # Unvaccinated, tested 12 Sep 08:00: next due 15 Sep 08:00.
        self.unvax_f = await reg.person(self.id, cohort=0, employee_code="F")
        await reg.result(self.unvax_f, local(2021, 9, 12, 8))
        # Positive PCR on 12 Sep: not cleared, nothing to screen.
        self.positive_h = await vaccinated(reg, self.id, cohort=1, employee_code="H")
        await reg.result(self.positive_h, local(2021, 9, 12, 8), result="POSITIVE")
        # Left the enterprise: not on the list.
        await vaccinated(reg, self.id, cohort=0, status="left", employee_code="G")


async def test_a_persons_next_test_and_who_may_ask(
    db: str, scheduler: httpx.AsyncClient, minter: InternalTokenMinter
) -> None:
    park = Park()
    async with registry(db) as reg:
        await park.build(reg)
        other = await reg.enterprise(district=YEN_DUNG)
        stranger = await vaccinated(reg, other)
    as_ = As(scheduler, minter)
    url = f"/v1/persons/{park.due_a}/due"
    params = {"as_of": "2021-09-13T10:00:00+07:00"}

    r = await as_(worker(park.due_a, park.id)).get(url, params=params)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["policy_version"] == "2021-09-11"
    assert body["due_at"] == "2021-09-13T00:00:00+07:00"
    assert (body["kind"], body["reasons"], body["overdue"], body["cleared_to_work"]) == (
        "EITHER",
        ["ROUTINE_COHORT"],
        False,
        True,
    )
    # seeds/000 §2.2 (3) '7 ngày/lần': the round is a window (13-19 Sep), overdue once it has
    # closed plus the grace (not in the source: 24 h).
    assert body["requirements"][0]["overdue_after"] == "2021-09-21T00:00:00+07:00"
    assert (body["window_start"], body["window_end"], body["window_done"]) == (
        "2021-09-13T00:00:00+07:00",
        "2021-09-20T00:00:00+07:00",
        False,
    )
    assert body["requirements"][0]["window_end"] == "2021-09-20T00:00:00+07:00"
    assert "testing.overdue_grace_hours" in body["assumptions"]

    for caller in (PROVINCE, enterprise(park.id), district_authority(VIET_YEN)):
        assert (await as_(caller).get(url, params=params)).status_code == 200, caller
    for caller in (worker(stranger), enterprise(other), district_authority(YEN_DUNG)):
        r = await as_(caller).get(url, params=params)
        assert r.status_code == 404 and r.json()["error"]["code"] == "person_not_found", caller
    r = await as_(lab(uuid.uuid4())).get(url, params=params)
    assert r.status_code == 403 and r.json()["error"]["code"] == "role_not_allowed"
    r = await as_(PROVINCE).get(f"/v1/persons/{uuid.uuid4()}/due", params=params)
    assert r.status_code == 404 and r.json()["error"]["code"] == "person_not_found"


async def test_as_of_needs_a_time_zone_and_a_policy_in_force(
    db: str, scheduler: httpx.AsyncClient, minter: InternalTokenMinter
) -> None:
    async with registry(db) as reg:
        pid = await vaccinated(reg, None)
    as_ = As(scheduler, minter)
    r = await as_(PROVINCE).get(f"/v1/persons/{pid}/due", params={"as_of": "2021-09-13T10:00:00"})
    assert r.status_code == 422
    error = r.json()["error"]
    assert error["code"] == "validation_error" and error["details"][0]["field"] == "query.as_of"
    r = await as_(PROVINCE).get(f"/v1/persons/{pid}/due", params={"as_of": "2021-05-12T10:00:00+07:00"})
    assert r.status_code == 404
    assert r.json()["error"]["code"] == "no_policy_in_force"
    assert r.json()["error"]["details"][0]["field"] == "query.as_of"
    # Any zone is accepted: 03:00Z is 10:00 in Bắc Giang.
    r = await as_(PROVINCE).get(f"/v1/persons/{pid}/due", params={"as_of": "2021-09-13T03:00:00Z"})
    assert r.status_code == 200 and r.json()["as_of"] == "2021-09-13T10:00:00+07:00"


async def test_the_policy_in_force_changes_on_11_september(
    db: str, scheduler: httpx.AsyncClient, minter: InternalTokenMinter
) -> None:
    """The July plan already tests the unvaccinated every 3 days (seeds/000's 'duy trì', maintain);
    September's rule is owed from 11 Sep, so the overdue July test is due from then."""
    async with registry(db) as reg:
        pid = await reg.person(None)
        await reg.result(pid, local(2021, 9, 8, 8))
    as_ = As(scheduler, minter)(PROVINCE)
    july = (await as_.get(f"/v1/persons/{pid}/due", params={"as_of": "2021-09-10T10:00:00+07:00"})).json()
    assert (july["policy_version"], july["due_at"], july["overdue"]) == (
        "2021-07-20",
        "2021-09-11T08:00:00+07:00",
        False,
    )
    sept = (await as_.get(f"/v1/persons/{pid}/due", params={"as_of": "2021-09-12T10:00:00+07:00"})).json()
    assert (sept["policy_version"], sept["due_at"], sept["overdue"]) == (
        "2021-09-11",
        "2021-09-11T08:00:00+07:00",
        True,
    )
    assert sept["reasons"] == ["UNVACCINATED"]


async def test_an_enterprise_due_list_for_a_day(
    db: str, scheduler: httpx.AsyncClient, minter: InternalTokenMinter
) -> None:
    park = Park()
    async with registry(db) as reg:
        await park.build(reg)
    as_ = As(scheduler, minter)
    r = await as_(enterprise(park.id)).get(f"/v1/enterprises/{park.id}/due", params={"date": "2021-09-13"})
    assert r.status_code == 200, r.text
    body = r.json()
    assert (body["date"], body["policy_version"]) == ("2021-09-13", "2021-09-11")
    assert body["as_of"].startswith("2021-09-13T23:59:59.999999")  # a past day: as at its end
    assert body["round"] == {
        "mode": "COHORT",
        "reason": "ROUTINE_COHORT",
        "share": 0.5,
        "index": 36,
        "starts_on": "2021-09-13",
        "ends_on": "2021-09-19",
        "cohort_due": 0,
        "sample_size": 6,
        "district_ratio": None,
    }
    assert body["counts"] == {"people": 6, "due": 2, "overdue": 0, "not_cleared": 2}
    listed = [
        (p["employee_code"], p["reasons"], p["kind"], p["due_today"], p["cleared_to_work"]) for p in body["people"]
    ]
    assert listed == [
        ("A", ["ROUTINE_COHORT"], "EITHER", True, True),
        ("D", ["SYMPTOMATIC"], "RAPID_ANTIGEN_AND_PCR", True, False),
        ("H", [], None, False, False),
    ]
    assert body["people"][2]["not_cleared"] == ["POSITIVE"]

    later = (await as_(PROVINCE).get(f"/v1/enterprises/{park.id}/due", params={"date": "2021-09-15"})).json()
    # A's round window (13-19 Sep) is still open on 15 Sep: due, not overdue (seeds/000 §2.2 (3)).
    assert later["counts"] == {"people": 6, "due": 3, "overdue": 1, "not_cleared": 2}
    assert [p["employee_code"] for p in later["people"]] == ["D", "A", "F", "H"]  # overdue first
    assert [p["overdue"] for p in later["people"]] == [True, False, False, False]


async def test_an_enterprise_due_list_is_in_scope_only(
    db: str, scheduler: httpx.AsyncClient, minter: InternalTokenMinter
) -> None:
    async with registry(db) as reg:
        ours = await reg.enterprise(district=VIET_YEN)
        theirs = await reg.enterprise(district=YEN_DUNG)
        pid = await vaccinated(reg, ours)
    as_ = As(scheduler, minter)
    url = f"/v1/enterprises/{ours}/due"
    for caller in (enterprise(theirs), district_authority(YEN_DUNG)):
        r = await as_(caller).get(url)
        assert r.status_code == 404 and r.json()["error"]["code"] == "enterprise_not_found", caller
        assert r.json()["error"]["details"][0]["field"] == "path.enterprise_id"
    for caller in (worker(pid, ours), lab(uuid.uuid4())):
        r = await as_(caller).get(url)
        assert r.status_code == 403 and r.json()["error"]["code"] == "role_not_allowed", caller
    assert (await as_(district_authority(VIET_YEN)).get(url)).status_code == 200
    r = await as_(PROVINCE).get(f"/v1/enterprises/{uuid.uuid4()}/due")
    assert r.status_code == 404
    r = await as_(PROVINCE).get(url, params={"date": "13/09/2021"})
    assert r.status_code == 422 and r.json()["error"]["details"][0]["field"] == "query.date"


async def test_province_counts_match_the_enterprise_lists(
    db: str, scheduler: httpx.AsyncClient, minter: InternalTokenMinter
) -> None:
    park = Park()
    async with registry(db) as reg:
        await park.build(reg)
        other = await reg.enterprise(district=YEN_DUNG, enterprise_id=monday_enterprise(2))
        late = await reg.person(other, cohort=0, employee_code="Z")  # unvaccinated, never tested
    as_ = As(scheduler, minter)
    end_of_15 = "2021-09-15T23:59:59.999999+07:00"
    r = await as_(PROVINCE).get("/v1/due", params={"as_of": end_of_15})
    assert r.status_code == 200, r.text
    body = r.json()
    # Z has never been tested: overdue (unvaccinated, every 3 days) and not cleared (seeds/003).
    assert body["totals"] == {"people": 7, "due": 4, "overdue": 2, "not_cleared": 3}
    by_id = {e["enterprise_id"]: e for e in body["enterprises"]}
    day = (await as_(PROVINCE).get(f"/v1/enterprises/{park.id}/due", params={"date": "2021-09-15"})).json()
    park_counts = {k: by_id[str(park.id)][k] for k in ("people", "due", "overdue", "not_cleared")}
    assert park_counts == day["counts"]
    assert by_id[str(other)]["overdue"] == 1 and by_id[str(other)]["district"] == YEN_DUNG

    district = (await as_(district_authority(YEN_DUNG)).get("/v1/due", params={"as_of": end_of_15})).json()
    assert [e["enterprise_id"] for e in district["enterprises"]] == [str(other)]
    assert district["district"] == YEN_DUNG
    r = await as_(district_authority(YEN_DUNG)).get("/v1/due", params={"district": VIET_YEN})
    # Another district is not found, as on every route (it was 403 district_out_of_scope here).
    assert r.status_code == 404 and r.json()["error"]["code"] == "district_not_found"
    for caller in (enterprise(park.id), lab(uuid.uuid4()), worker(late)):
        r = await as_(caller).get("/v1/due")
        assert r.status_code == 403 and r.json()["error"]["code"] == "role_not_allowed", caller
    zoned = (await as_(PROVINCE).get("/v1/due", params={"as_of": end_of_15, "zone_type": "CCN"})).json()
    assert zoned["enterprises"] == [] and zoned["totals"]["people"] == 0


async def test_province_lists_of_overdue_people_page_by_enterprise_and_person(
    db: str, scheduler: httpx.AsyncClient, minter: InternalTokenMinter
) -> None:
    park = Park()
    async with registry(db) as reg:
        await park.build(reg)
        other = await reg.enterprise(district=YEN_DUNG, enterprise_id=monday_enterprise(2))
        late = await reg.person(other, cohort=0)
    as_ = As(scheduler, minter)(PROVINCE)
    params: dict[str, Any] = {"as_of": "2021-09-15T23:59:59+07:00", "status": "overdue", "limit": 1}
    seen = []
    while True:
        page = await as_.get("/v1/due/people", params=params)
        assert page.status_code == 200, page.text
        body = page.json()
        seen += [(i["enterprise_id"], i["person_id"]) for i in body["items"]]
        assert all(i["overdue"] for i in body["items"])
        if body["next_cursor"] is None:
            break
        params["cursor"] = body["next_cursor"]
    assert sorted(seen) == seen  # by enterprise, then person
    assert {p for _, p in seen} == {str(park.sick_d), str(late)}
    not_cleared = await as_.get(
        "/v1/due/people", params={"as_of": params["as_of"], "status": "not_cleared", "limit": 10}
    )
    assert {i["person_id"] for i in not_cleared.json()["items"]} == {
        str(park.sick_d),
        str(park.positive_h),
        str(late),
    }
    r = await as_.get("/v1/due/people", params={"cursor": "not-a-cursor"})
    assert r.status_code == 422 and r.json()["error"]["code"] == "invalid_cursor"
    r = await as_.get("/v1/due/people", params={"status": "late"})
    assert r.status_code == 422 and r.json()["error"]["details"][0]["field"] == "query.status"


async def test_sampled_rounds_rotate_through_the_roster(
    db: str, scheduler: httpx.AsyncClient, minter: InternalTokenMinter
) -> None:
    """§2.2: a garment maker outside the parks tests at least 20% each 7 days, a different
    20% each round until everyone has had a turn."""
    eid = monday_enterprise(3)
    async with registry(db) as reg:
        await reg.enterprise(district="Lục Nam", zone_type="OUTSIDE", industry="garment", enterprise_id=eid)
        people = {await vaccinated(reg, eid) for _ in range(10)}
    as_ = As(scheduler, minter)(enterprise(eid))
    picked: list[set[str]] = []
    for monday in ("2021-09-13", "2021-09-20", "2021-09-27", "2021-10-04", "2021-10-11"):
        r = await as_.get(f"/v1/enterprises/{eid}/due", params={"date": monday})
        body = r.json()
        assert body["round"]["mode"] == "SAMPLE" and body["round"]["sample_size"] == 2
        # This round's sample: due from the round's first day (a missed sample stays due from its own).
        due = {p["person_id"] for p in body["people"] if p["due_at"] == f"{monday}T00:00:00+07:00"}
        assert all(p["reasons"] == ["SAMPLED_INDUSTRY"] for p in body["people"])
        assert len(due) == 2
        picked.append(due)
    assert set().union(*picked) == {str(p) for p in people}
    again = await as_.get(f"/v1/enterprises/{eid}/due", params={"date": "2021-09-13"})
    first = f"{'2021-09-13'}T00:00:00+07:00"
    assert {p["person_id"] for p in again.json()["people"] if p["due_at"] == first} == picked[0]
