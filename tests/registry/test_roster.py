"""Roster upsert (PUT /v1/enterprises/{id}/roster) and the roster list: matching by employee
code, per-item outcomes, moves of people who left another enterprise, balanced cohorts,
one-enterprise-per-site, batch limits, scope, keyset pages and filters."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from tests.callers import PROVINCE, As, district_authority, enterprise, worker
from tests.registry.conftest import MakeEnterprise, Sql, next_national_id, person_body, uid


async def put(api: As, caller: Any, enterprise_id: str, items: list[Any]) -> dict[str, Any]:
    r = await api(caller).put(f"/v1/enterprises/{enterprise_id}/roster", json={"items": items})
    assert r.status_code == 200, r.text
    body: dict[str, Any] = r.json()
    return body


def outcomes(result: dict[str, Any]) -> list[str]:
    return [i["outcome"] for i in result["items"]]


async def test_create_then_replay_then_change(api: As, make_enterprise: MakeEnterprise, sql: Sql) -> None:
    ent = await make_enterprise()
    me = enterprise(ent["id"])
    items = [person_body(f"VY-{n:03d}", phone="+84912345678") for n in range(4)]
    first = await put(api, me, ent["id"], items)
    assert outcomes(first) == ["created"] * 4
    assert first["counts"] == {"created": 4, "updated": 0, "unchanged": 0, "rejected": 0}
    assert [i["index"] for i in first["items"]] == [0, 1, 2, 3]
    assert set(first["items"][0]) == {
        "index", "employee_code", "outcome", "person_id", "moved", "code", "message", "field", "errors"
    }, "a JSON roster's answer is as before issue 16: no spreadsheet row or column"  # fmt: skip
    assert [i["employee_code"] for i in first["items"]] == [f"VY-{n:03d}" for n in range(4)]
    rows = await sql("SELECT employee_code, phone, test_cohort FROM person ORDER BY employee_code")
    assert [(r["employee_code"], r["phone"], r["test_cohort"]) for r in rows] == [
        ("VY-000", "0912345678", 0),
        ("VY-001", "0912345678", 1),
        ("VY-002", "0912345678", 0),
        ("VY-003", "0912345678", 1),
    ]
    replay = await put(api, me, ent["id"], items)
    assert outcomes(replay) == ["unchanged"] * 4, "the same roster again writes nothing"
    assert [i["person_id"] for i in replay["items"]] == [i["person_id"] for i in first["items"]]
    changed = [dict(i) for i in items]
    changed[1]["job_role"] = "freight_driver"
    changed[2]["phone"] = "0912 345 678"  # the same number, written differently
    result = await put(api, me, ent["id"], changed)
    assert outcomes(result) == ["unchanged", "updated", "unchanged", "unchanged"]
    audit = await sql("SELECT action, count(*) AS n FROM audit_log WHERE entity = 'person' GROUP BY 1 ORDER BY 1")
    assert [(a["action"], a["n"]) for a in audit] == [("person.create", 4), ("person.update", 1)]


async def test_an_update_changes_only_the_fields_sent(api: As, make_enterprise: MakeEnterprise, sql: Sql) -> None:
    ent = await make_enterprise()
    item = person_body("VY-1", phone="0912345678", home_province="Bắc Giang", high_risk=True, high_risk_reason="F1")
    await put(api, PROVINCE, ent["id"], [item])
    slim = {k: item[k] for k in ("national_id", "full_name", "date_of_birth", "sex", "employee_code")}
    result = await put(api, PROVINCE, ent["id"], [{**slim, "full_name": "Nguyễn Văn Một"}])
    assert outcomes(result) == ["updated"]
    (row,) = await sql("SELECT full_name, phone, home_province, high_risk, high_risk_reason FROM person")
    assert tuple(row) == ("Nguyễn Văn Một", "0912345678", "Bắc Giang", True, "F1")


@pytest.mark.parametrize(
    ("rule", "bad", "code", "field"),
    [
        ("an invalid national ID", {"national_id": "000190001234"}, "invalid_national_id", "national_id"),
        ("a missing name", {"full_name": None}, "string_type", "full_name"),
        (
            "a naive arrival time",
            {"arrived_from_province": "Nam Định", "arrived_at": "2021-09-12T07:30:00"},
            "timezone_aware",
            "arrived_at",
        ),
        (
            "an arrival without where from",
            {"arrived_at": "2021-09-12T07:30:00+07:00"},
            "arrival_incomplete",
            "arrived_from_province",
        ),
        ("an unknown field", {"salary": 5}, "extra_forbidden", "salary"),
        ("a child", {"date_of_birth": "2015-01-01"}, "under_working_age", "date_of_birth"),
        (
            "an unknown site",
            {"accommodation_id": "7d1f0c9e-2b3a-4c5d-8e6f-0a1b2c3d4e5f"},
            "accommodation_not_found",
            "accommodation_id",
        ),
    ],
)
async def test_a_bad_item_is_rejected_and_the_others_are_written(
    api: As, make_enterprise: MakeEnterprise, sql: Sql, rule: str, bad: dict[str, Any], code: str, field: str
) -> None:
    ent = await make_enterprise()
    items = [person_body("A"), {**person_body("B"), **bad}, person_body("C")]
    result = await put(api, enterprise(ent["id"]), ent["id"], items)
    assert outcomes(result) == ["created", "rejected", "created"], rule
    rejected = result["items"][1]
    assert (rejected["code"], rejected["field"]) == (code, f"body.items[1].{field}"), rule
    assert rejected["employee_code"] == "B" and rejected["person_id"] is None
    assert rejected["errors"][0]["code"] == code
    assert [r["employee_code"] for r in await sql("SELECT employee_code FROM person ORDER BY 1")] == ["A", "C"]


async def test_an_item_that_is_not_an_object_is_rejected_alone(api: As, make_enterprise: MakeEnterprise) -> None:
    ent = await make_enterprise()
    result = await put(api, PROVINCE, ent["id"], ["not a person", person_body("A")])
    assert outcomes(result) == ["rejected", "created"]
    assert result["items"][0]["field"] == "body.items[0]"


async def test_duplicates_inside_one_batch_are_all_rejected(api: As, make_enterprise: MakeEnterprise, sql: Sql) -> None:
    ent = await make_enterprise()
    twin_id = next_national_id()
    items = [
        person_body("SAME"),
        person_body("SAME"),
        person_body("X1", national_id=twin_id),
        person_body("X2", national_id=twin_id),
        person_body("OK"),
    ]
    result = await put(api, PROVINCE, ent["id"], items)
    assert outcomes(result) == ["rejected", "rejected", "rejected", "rejected", "created"]
    assert {i["code"] for i in result["items"][:4]} == {"duplicate_in_batch"}
    assert [i["field"] for i in result["items"][:4]] == [
        "body.items[0].employee_code",
        "body.items[1].employee_code",
        "body.items[2].national_id",
        "body.items[3].national_id",
    ]
    assert len(await sql("SELECT id FROM person")) == 1


@pytest.mark.parametrize(
    ("rule", "holder_status", "holder_has_enterprise", "outcome", "moved"),
    [
        ("a person who left another enterprise is moved here", "left", True, "created", True),
        ("a person of no enterprise joins this one", "active", False, "created", True),
        ("an active person of another enterprise is refused", "active", True, "rejected", False),
    ],
)
async def test_a_national_id_held_elsewhere(
    api: As,
    make_enterprise: MakeEnterprise,
    sql: Sql,
    rule: str,
    holder_status: str,
    holder_has_enterprise: bool,
    outcome: str,
    moved: bool,
) -> None:
    old = await make_enterprise()
    new = await make_enterprise()
    site = (
        await api(enterprise(old["id"])).post(
            "/v1/accommodations", json={"name": "Nhà trọ A", "address": "Thôn 1", "district": "Việt Yên"}
        )
    ).json()
    number = next_national_id()
    holder = person_body("OLD-7", national_id=number, phone="0912345678", high_risk=True, high_risk_reason="F1")
    if holder_has_enterprise:
        holder.update(status=holder_status, accommodation_id=site["id"], job_role="manager")
        await put(api, PROVINCE, old["id"], [holder])
        await put(api, PROVINCE, new["id"], [person_body("N1")])  # half 0 of the new enterprise is taken
    else:
        holder.pop("employee_code")
        assert (await api(PROVINCE).post("/v1/persons", json=holder)).status_code == 201
    result = await put(api, enterprise(new["id"]), new["id"], [person_body("NEW-1", national_id=number)])
    item = result["items"][0]
    assert (item["outcome"], item["moved"]) == (outcome, moved), rule
    (row,) = await sql("SELECT * FROM person WHERE national_id_last4 = $1", number[-4:])
    if outcome == "rejected":
        assert item["code"] == "national_id_taken" and item["field"] == "body.items[0].national_id"
        assert str(row["enterprise_id"]) == old["id"], "nothing moved"
        return
    assert str(row["enterprise_id"]) == new["id"] and row["employee_code"] == "NEW-1"
    assert row["status"] == "active" and row["left_at"] is None
    assert row["accommodation_id"] is None, "the old enterprise's site is not the new one's"
    assert row["job_role"] == "worker", "employment fields start afresh"
    assert (row["phone"], row["high_risk"]) == ("0912345678", True), "personal data is kept"
    if holder_has_enterprise:
        assert row["test_cohort"] == 1, "joins the smaller half of the new enterprise"
    moves = await sql("SELECT count(*) AS n FROM audit_log WHERE action = 'person.move'")
    assert moves[0]["n"] == 1


async def test_ambiguous_matches_are_refused(api: As, make_enterprise: MakeEnterprise) -> None:
    ent = await make_enterprise()
    a, b = person_body("A"), person_body("B")
    await put(api, PROVINCE, ent["id"], [a, b])
    result = await put(
        api,
        PROVINCE,
        ent["id"],
        [
            {**a, "national_id": b["national_id"]},  # A's code with B's national ID
            {**person_body("C"), "national_id": a["national_id"]},  # A under a new code
        ],
    )
    assert outcomes(result) == ["rejected", "rejected"]
    assert {i["code"] for i in result["items"]} == {"national_id_taken"}


async def test_a_corrected_national_id_updates_the_person(api: As, make_enterprise: MakeEnterprise) -> None:
    ent = await make_enterprise()
    a = person_body("A")
    first = await put(api, PROVINCE, ent["id"], [a])
    corrected = next_national_id()
    result = await put(api, PROVINCE, ent["id"], [{**a, "national_id": corrected}])
    assert outcomes(result) == ["updated"]
    found = await api(PROVINCE).post("/v1/persons/lookup", json={"national_id": corrected})
    assert found.json()["id"] == first["items"][0]["person_id"]


async def test_leaving_and_coming_back(api: As, make_enterprise: MakeEnterprise, sql: Sql) -> None:
    ent = await make_enterprise()
    a = person_body("A")
    await put(api, PROVINCE, ent["id"], [a, person_body("B")])
    result = await put(api, PROVINCE, ent["id"], [{**a, "status": "left", "left_at": "2021-09-30T17:00:00+07:00"}])
    assert outcomes(result) == ["updated"]
    (row,) = await sql("SELECT status, left_at, test_cohort FROM person WHERE employee_code = 'A'")
    assert row["status"] == "left" and row["left_at"] is not None and row["test_cohort"] == 0
    newcomer = await put(api, PROVINCE, ent["id"], [person_body("C")])
    assert outcomes(newcomer) == ["created"]
    (c,) = await sql("SELECT test_cohort FROM person WHERE employee_code = 'C'")
    assert c["test_cohort"] == 0, "the leaver's half is the smaller one now"
    back = await put(api, PROVINCE, ent["id"], [{**a, "status": "active"}])
    assert outcomes(back) == ["updated"]
    (row,) = await sql("SELECT status, left_at, test_cohort FROM person WHERE employee_code = 'A'")
    assert (row["status"], row["left_at"], row["test_cohort"]) == ("active", None, 0), "the half never changes"


async def test_one_site_one_enterprise_in_a_roster(api: As, make_enterprise: MakeEnterprise, sql: Sql) -> None:
    """seeds/003: a concentrated lodging site houses the workers of one enterprise only."""
    a = await make_enterprise()
    b = await make_enterprise()
    theirs = (
        await api(PROVINCE).post(
            "/v1/accommodations",
            json={
                "name": "KTX A",
                "address": "KCN",
                "district": "Việt Yên",
                "concentrated": True,
                "enterprise_id": a["id"],
            },
        )
    ).json()
    free = (
        await api(PROVINCE).post(
            "/v1/accommodations",
            json={"name": "Nhà nghỉ", "address": "Thôn 2", "district": "Việt Yên", "concentrated": True},
        )
    ).json()
    assert free["enterprise_id"] is None
    result = await put(
        api,
        enterprise(b["id"]),
        b["id"],
        [
            person_body("B1", accommodation_id=theirs["id"]),
            person_body("B2", accommodation_id=free["id"]),
            person_body("B3", accommodation_id=free["id"]),
        ],
    )
    assert outcomes(result) == ["rejected", "created", "created"]
    assert result["items"][0]["code"] == "accommodation_other_enterprise"
    assert result["items"][0]["field"] == "body.items[0].accommodation_id"
    (site,) = await sql("SELECT enterprise_id FROM accommodation WHERE id = $1", free["id"])
    assert str(site["enterprise_id"]) == b["id"], "the first workers claim an unclaimed site"
    late = await put(api, enterprise(a["id"]), a["id"], [person_body("A1", accommodation_id=free["id"])])
    assert late["items"][0]["code"] == "accommodation_other_enterprise"


async def test_batch_limits(api: As, make_enterprise: MakeEnterprise, sql: Sql) -> None:
    ent = await make_enterprise()
    url = f"/v1/enterprises/{ent['id']}/roster"
    empty = await api(PROVINCE).put(url, json={"items": []})
    assert empty.status_code == 422 and empty.json()["error"]["code"] == "batch_empty"
    assert empty.json()["error"]["details"][0]["field"] == "body.items"
    too_many = await api(PROVINCE).put(url, json={"items": [{}] * 10_001})
    assert too_many.status_code == 413 and too_many.json()["error"]["code"] == "batch_too_large"
    missing = await api(PROVINCE).put(url, json={})
    assert missing.status_code == 422
    assert await sql("SELECT id FROM person") == []


async def test_who_may_upsert_a_roster(api: As, make_enterprise: MakeEnterprise) -> None:
    mine = await make_enterprise(district="Việt Yên")
    other = await make_enterprise(district="Yên Dũng")
    cases = [
        (enterprise(other["id"]), 404),
        (district_authority("Yên Dũng"), 404),
        (worker("5b6c7d8e-9f0a-4b1c-8d2e-3f4a5b6c7d8e"), 403),
        (district_authority("Việt Yên"), 200),
        (enterprise(mine["id"]), 200),
    ]
    for n, (caller, status) in enumerate(cases):
        r = await api(caller).put(f"/v1/enterprises/{mine['id']}/roster", json={"items": [person_body(f"S{n}")]})
        assert r.status_code == status, (caller, r.text)
        g = await api(caller).get(f"/v1/enterprises/{mine['id']}/roster")
        assert g.status_code == status, caller


async def test_concurrent_upserts_of_one_enterprise_do_not_collide(
    api: As, make_enterprise: MakeEnterprise, sql: Sql
) -> None:
    """Both batches take the enterprise lock in turn: every person once, halves balanced."""
    ent = await make_enterprise()
    shared = [person_body(f"S{n}") for n in range(20)]
    batches = [shared + [person_body(f"X{n}") for n in range(10)], shared + [person_body(f"Y{n}") for n in range(10)]]
    results = await asyncio.gather(*(put(api, PROVINCE, ent["id"], b) for b in batches))
    created = sorted(r["counts"]["created"] for r in results)
    assert created == [10, 30]
    assert sorted(r["counts"]["unchanged"] for r in results) == [0, 20]
    rows = await sql("SELECT test_cohort, count(*) AS n FROM person GROUP BY 1 ORDER BY 1")
    assert [(r["test_cohort"], r["n"]) for r in rows] == [(0, 20), (1, 20)]


async def test_roster_list_pages_filters_and_masks(api: As, make_enterprise: MakeEnterprise) -> None:
    ent = await make_enterprise()
    items = [person_body(f"VY-{n:03d}", full_name=f"Trần Thị {chr(65 + n)}") for n in range(7)]
    items[2]["job_role"] = "freight_driver"
    items[3]["status"] = "left"
    items[4]["full_name"] = "Lê Văn Hùng"
    await put(api, PROVINCE, ent["id"], items)
    me = enterprise(ent["id"])
    seen: list[str] = []
    cursor = None
    while True:
        params: dict[str, Any] = {"limit": 3, **({"cursor": cursor} if cursor else {})}
        page = (await api(me).get(f"/v1/enterprises/{ent['id']}/roster", params=params)).json()
        seen += [p["employee_code"] for p in page["items"]]
        assert all(p["national_id"].startswith("********") for p in page["items"]), "masked for the enterprise"
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == [f"VY-{n:03d}" for n in range(7)]

    async def codes(caller: Any = me, **params: Any) -> list[str]:
        r = await api(caller).get(f"/v1/enterprises/{ent['id']}/roster", params=params)
        assert r.status_code == 200, r.text
        return [p["employee_code"] for p in r.json()["items"]]

    assert await codes(status="left") == ["VY-003"]
    assert await codes(job_role="freight_driver") == ["VY-002"]
    assert await codes(q="hùng") == ["VY-004"], "name, any case"
    assert await codes(q="VY-00") == [f"VY-{n:03d}" for n in range(7)], "employee code prefix"
    assert await codes(q=items[5]["national_id"]) == ["VY-005"], "exact national ID"
    assert await codes(q="100%") == [], "LIKE wildcards are literal"
    full = (await api(PROVINCE).get(f"/v1/enterprises/{ent['id']}/roster", params={"limit": 1})).json()
    assert full["items"][0]["national_id"] == items[0]["national_id"], "in full for the authority"
    bad = await api(me).get(f"/v1/enterprises/{ent['id']}/roster", params={"cursor": "WyJ4Il0"})
    assert bad.status_code == 422 and bad.json()["error"]["code"] == "invalid_cursor"


async def test_a_national_id_registered_meanwhile_rejects_only_that_item(
    api: As, make_enterprise: MakeEnterprise, sql: Sql, db: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Between reading the stored people and writing the batch, another enterprise registers
    one of its national IDs: the COPY conflicts, is undone, and the fallback INSERT ... ON
    CONFLICT DO NOTHING writes the others; the taken one is answered, not a 500."""
    from safework_registry.persons import roster

    ent = await make_enterprise()
    other = await make_enterprise()
    items = [person_body(f"R{n}") for n in range(3)]
    original = roster._check_sites

    async def register_meanwhile(*args: Any, **kwargs: Any) -> Any:
        response = await api(enterprise(other["id"])).post("/v1/persons", json={**items[1], "employee_code": "O1"})
        assert response.status_code == 201
        return await original(*args, **kwargs)

    monkeypatch.setattr(roster, "_check_sites", register_meanwhile)
    result = await put(api, enterprise(ent["id"]), ent["id"], items)
    assert outcomes(result) == ["created", "rejected", "created"]
    assert result["items"][1]["code"] == "national_id_taken"
    rows = await sql("SELECT employee_code FROM person WHERE enterprise_id = $1 ORDER BY 1", uid(ent["id"]))
    assert [r["employee_code"] for r in rows] == ["R0", "R2"]
    audit = await sql(
        "SELECT count(*) AS n FROM audit_log WHERE action = 'person.create' AND details->>'via' = 'roster'"
    )
    assert audit[0]["n"] == 2, "only what was written is audited"
