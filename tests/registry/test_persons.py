"""People: identity validation, the national ID kept as hash + ciphertext + last four and
shown masked except to the authority, phone normalisation, person rules, test cohorts, the
authority's look-up, and who may read or write whom."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any

import pytest

from safework_common.timezone import LOCAL_TZ, now_local
from safework_registry.persons.national_id import NationalIdCipher
from safework_registry.persons.rules import RuleViolation, next_cohorts, settle
from tests.callers import PROVINCE, As, district_authority, enterprise, lab, worker
from tests.registry.conftest import MakeEnterprise, Sql, next_national_id, person_body

TODAY = now_local().date()


def years_ago(years: int, days: int = 0) -> str:
    return (date(TODAY.year - years, TODAY.month, min(TODAY.day, 28)) + timedelta(days=days)).isoformat()


@pytest.mark.parametrize(
    ("rule", "national_id", "valid"),
    [
        ("citizen ID: 12 digits, Bắc Giang's province code 024", "024190001234", True),
        ("citizen ID: lowest province code 001 (Hà Nội)", "001190001234", True),
        ("citizen ID: highest province code 096 (Cà Mau)", "096190001234", True),
        ("citizen ID: province code 000 does not exist", "000190001234", False),
        ("citizen ID: province code 097 does not exist", "097190001234", False),
        ("old ID: 9 digits", "121234567", True),
        ("spaces and dashes are ignored", "024 190-001 234", True),
        ("11 digits is neither form", "02419000123", False),
        ("letters are refused", "02419000123A", False),
    ],
)
async def test_national_id_forms(
    api: As, make_enterprise: MakeEnterprise, rule: str, national_id: str, valid: bool
) -> None:
    ent = await make_enterprise()
    r = await api(PROVINCE).post(
        "/v1/persons", json=person_body("E1", national_id=national_id, enterprise_id=ent["id"])
    )
    if valid:
        assert r.status_code == 201, (rule, r.text)
        assert r.json()["national_id"] == national_id.replace(" ", "").replace("-", "")
    else:
        assert r.status_code == 422, rule
        assert r.json()["error"]["details"][0] == {
            "field": "body.national_id",
            "code": "invalid_national_id",
            "message": r.json()["error"]["details"][0]["message"],
        }


@pytest.mark.parametrize(
    ("rule", "phone", "stored"),
    [
        ("domestic 10-digit mobile kept", "0912345678", "0912345678"),
        ("+84 form becomes domestic", "+84912345678", "0912345678"),
        ("84 without plus, with spaces", "84 912 345 678", "0912345678"),
        ("dots and dashes ignored", "038.765-4321", "0387654321"),
        ("prefix 05 is mobile", "0561234567", "0561234567"),
        ("02x is a landline, not a mobile", "0241234567", None),
        ("9 digits too short", "091234567", None),
        ("+84 with 8 digits too short", "+8491234567", None),
        ("prefix 01 retired in 2018", "0123456789", None),
    ],
)
async def test_phone_numbers_are_vietnamese_mobiles_in_one_form(
    api: As, make_enterprise: MakeEnterprise, rule: str, phone: str, stored: str | None
) -> None:
    ent = await make_enterprise()
    r = await api(enterprise(ent["id"])).post("/v1/persons", json=person_body("E1", phone=phone))
    if stored is None:
        assert r.status_code == 422, rule
        assert r.json()["error"]["details"][0]["code"] == "invalid_phone", rule
        assert r.json()["error"]["details"][0]["field"] == "body.phone", rule
    else:
        assert r.status_code == 201, (rule, r.text)
        assert r.json()["phone"] == stored, rule


@pytest.mark.parametrize(
    ("rule", "change", "code", "field"),
    [
        (
            "born in the future",
            {"date_of_birth": (TODAY + timedelta(days=1)).isoformat()},
            "date_of_birth_in_future",
            "body.date_of_birth",
        ),
        ("born before 1900", {"date_of_birth": "1899-12-31"}, "date_of_birth_too_early", "body.date_of_birth"),
        (
            "under 15 (Labour Code 2019 art. 143)",
            {"date_of_birth": years_ago(15, days=1)},
            "under_working_age",
            "body.date_of_birth",
        ),
        ("exactly 15 works", {"date_of_birth": years_ago(15)}, None, None),
        (
            "an arrival needs its zone",
            {"arrived_from_province": "Nam Định", "arrived_at": "2021-09-12T07:30:00"},
            "timezone_aware",
            "body.arrived_at",
        ),
        (
            "an arrival names where from",
            {"arrived_at": "2021-09-12T07:30:00+07:00"},
            "arrival_incomplete",
            "body.arrived_from_province",
        ),
        ("an arrival names when", {"arrived_from_province": "Nam Định"}, "arrival_incomplete", "body.arrived_at"),
        (
            "a planned arrival, registered ahead of time so its pre-arrival PCR can be checked (seeds/000 §2.2 (2))",
            {
                "arrived_from_province": "Nam Định",
                "arrived_at": (now_local() + timedelta(days=30)).replace(microsecond=0).isoformat(),
            },
            None,
            None,
        ),
        (
            "no arrival planned more than a year ahead",
            {"arrived_from_province": "Nam Định", "arrived_at": "2999-01-01T00:00:00+07:00"},
            "arrived_in_future",
            "body.arrived_at",
        ),
        (
            "new hire from another province (seeds/000 §2.2 (2))",
            {"arrived_from_province": "Nam Định", "arrived_at": "2021-09-12T07:30:00+07:00"},
            None,
            None,
        ),
        (
            "high risk needs a reason (seeds/000 §2.2 (1))",
            {"high_risk": True},
            "high_risk_reason_required",
            "body.high_risk_reason",
        ),
        (
            "a reason without the flag is refused",
            {"high_risk_reason": "F1"},
            "high_risk_flag_required",
            "body.high_risk_reason",
        ),
        (
            "left_at goes with status left",
            {"left_at": "2021-09-30T17:00:00+07:00"},
            "left_at_without_left_status",
            "body.left_at",
        ),
        ("no hire before birth", {"hire_date": "1990-01-01"}, "hire_date_before_birth", "body.hire_date"),
        ("job roles are worker/manager/expert/driver", {"job_role": "assistant"}, "literal_error", "body.job_role"),
        (
            "an employee code has no control characters",
            {"employee_code": "A\u0007"},
            "string_pattern_mismatch",
            "body.employee_code",
        ),
    ],
)
async def test_person_rules(
    api: As,
    make_enterprise: MakeEnterprise,
    sql: Sql,
    rule: str,
    change: dict[str, Any],
    code: str | None,
    field: str | None,
) -> None:
    ent = await make_enterprise()
    r = await api(enterprise(ent["id"])).post("/v1/persons", json={**person_body("E1"), **change})
    if code is None:
        assert r.status_code == 201, (rule, r.text)
        return
    assert r.status_code == 422, (rule, r.text)
    detail = r.json()["error"]["details"][0]
    assert (detail["code"], detail["field"]) == (code, field), rule
    assert await sql("SELECT id FROM person") == [], "bad input changes nothing"


async def test_the_national_id_is_stored_hashed_encrypted_and_last4_and_shown_masked(
    api: As, make_enterprise: MakeEnterprise, sql: Sql, keys_dir: Any
) -> None:
    ent = await make_enterprise()
    number = "024190005678"
    r = await api(enterprise(ent["id"])).post("/v1/persons", json=person_body("E1", national_id=number))
    assert r.status_code == 201
    person = r.json()
    assert person["national_id"] == "********5678", "masked for the enterprise"
    (row,) = await sql("SELECT * FROM person")
    cipher = NationalIdCipher((keys_dir / "national_id_hmac.key").read_bytes().strip())
    assert row["national_id_hash"] == cipher.hash(number)
    assert row["national_id_last4"] == "5678"
    assert number.encode() not in row["national_id_enc"]
    assert cipher.decrypt(row["national_id_enc"]) == number
    audit = await sql("SELECT details::text AS d FROM audit_log")
    assert audit and all(number not in (a["d"] or "") for a in audit), "never in audit details"
    readers = [
        (PROVINCE, number),
        (district_authority("Việt Yên"), number),
        (enterprise(ent["id"]), "********5678"),
        (worker(person["id"], ent["id"]), "********5678"),
    ]
    for caller, shown in readers:
        r = await api(caller).get(f"/v1/persons/{person['id']}")
        assert r.status_code == 200, caller.role
        assert r.json()["national_id"] == shown, caller.role


async def test_who_sees_a_person(api: As, make_enterprise: MakeEnterprise) -> None:
    """Another tenant's person is 404 on every route; a worker sees only themself."""
    mine = await make_enterprise(district="Việt Yên")
    other = await make_enterprise(district="Yên Dũng")
    person = (await api(enterprise(mine["id"])).post("/v1/persons", json=person_body("E1"))).json()
    neighbour = (await api(enterprise(mine["id"])).post("/v1/persons", json=person_body("E2"))).json()
    cases = [
        (enterprise(other["id"]), 404),
        (district_authority("Yên Dũng"), 404),
        (worker(neighbour["id"], mine["id"]), 404),
        (lab("9a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d"), 404),
        (worker(person["id"], mine["id"]), 200),
    ]
    for caller, status in cases:
        r = await api(caller).get(f"/v1/persons/{person['id']}")
        assert r.status_code == status, caller
        if status == 404:
            assert r.json()["error"]["code"] == "person_not_found"
        patch = await api(caller).patch(f"/v1/persons/{person['id']}", json={"phone": "0912345678"})
        assert patch.status_code in (403, 404), caller
    r = await api(enterprise(other["id"])).post("/v1/persons", json=person_body("E9", enterprise_id=mine["id"]))
    assert r.status_code == 404 and r.json()["error"]["details"][0]["field"] == "body.enterprise_id"


async def test_a_national_id_and_an_employee_code_are_unique(api: As, make_enterprise: MakeEnterprise) -> None:
    a = await make_enterprise()
    b = await make_enterprise()
    body = person_body("E1")
    assert (await api(enterprise(a["id"])).post("/v1/persons", json=body)).status_code == 201
    again = await api(enterprise(b["id"])).post("/v1/persons", json={**body, "employee_code": "B1"})
    assert again.status_code == 409 and again.json()["error"]["code"] == "national_id_taken"
    code = await api(enterprise(a["id"])).post("/v1/persons", json=person_body("E1"))
    assert code.status_code == 409 and code.json()["error"]["code"] == "employee_code_taken"
    elsewhere = await api(enterprise(b["id"])).post("/v1/persons", json=person_body("E1"))
    assert elsewhere.status_code == 201, "employee codes are unique within an enterprise only"
    missing = await api(PROVINCE).post(
        "/v1/persons", json={**person_body("x"), "employee_code": None, "enterprise_id": a["id"]}
    )
    assert missing.status_code == 422 and missing.json()["error"]["code"] == "employee_code_required"


@pytest.mark.parametrize(
    ("rule", "sizes", "joining_active", "expected"),
    [
        ("empty enterprise alternates 0, 1, 0", (0, 0), [True, True, True], [0, 1, 0]),
        ("ties go to half 0", (4, 4), [True], [0]),
        ("the smaller half fills first", (5, 2), [True, True, True, True], [1, 1, 1, 0]),
        ("half 1 smaller by one", (3, 2), [True, True], [1, 0]),
        ("people who already left do not count", (0, 0), [False, True], [0, 0]),
    ],
)
def test_new_people_join_the_smaller_half(
    rule: str, sizes: tuple[int, int], joining_active: list[bool], expected: list[int]
) -> None:
    """seeds/000 §2.2 (3): each 7-day round tests 50% of the enterprise, alternating halves."""
    assert next_cohorts(sizes, joining_active) == expected, rule


async def test_cohorts_are_assigned_once_and_stay(api: As, make_enterprise: MakeEnterprise, sql: Sql) -> None:
    ent = await make_enterprise()
    people = [
        (await api(enterprise(ent["id"])).post("/v1/persons", json=person_body(f"E{n}"))).json() for n in range(5)
    ]
    assert [p["test_cohort"] for p in people] == [0, 1, 0, 1, 0]
    # Two of half 0 leave; the next two newcomers fill half 0 back up; a leaver keeps their half.
    for p in people[:3:2]:
        r = await api(enterprise(ent["id"])).patch(f"/v1/persons/{p['id']}", json={"status": "left"})
        assert r.json()["test_cohort"] == 0
    late = [(await api(enterprise(ent["id"])).post("/v1/persons", json=person_body(f"L{n}"))).json() for n in range(2)]
    assert [p["test_cohort"] for p in late] == [0, 0]
    rows = await sql("SELECT test_cohort, count(*) AS n FROM person WHERE status = 'active' GROUP BY 1 ORDER BY 1")
    assert [(r["test_cohort"], r["n"]) for r in rows] == [(0, 3), (1, 2)]


async def test_updates_change_only_what_is_sent(api: As, make_enterprise: MakeEnterprise, sql: Sql) -> None:
    ent = await make_enterprise()
    other = await make_enterprise()
    me = enterprise(ent["id"])
    p = (
        await api(me).post("/v1/persons", json=person_body("E1", phone="0912345678", home_province="Bắc Giang"))
    ).json()
    url = f"/v1/persons/{p['id']}"
    r = await api(me).patch(
        url,
        json={"high_risk": True, "high_risk_reason": "F1 of a case", "high_risk_until": "2021-09-25T00:00:00+07:00"},
    )
    assert r.status_code == 200, r.text
    assert r.json()["phone"] == "0912345678" and r.json()["high_risk"] is True
    r = await api(me).patch(url, json={"high_risk": False})
    assert r.json()["high_risk_reason"] is None and r.json()["high_risk_until"] is None, "clearing the flag clears why"
    r = await api(me).patch(url, json={"status": "left", "left_at": "2021-09-30T17:00:00+07:00"})
    assert r.json()["status"] == "left"
    assert datetime.fromisoformat(r.json()["left_at"]) == datetime(2021, 9, 30, 17, tzinfo=LOCAL_TZ)
    r = await api(me).patch(url, json={"status": "active"})
    assert r.json()["left_at"] is None, "coming back clears the leaving time"
    r = await api(me).patch(url, json={"phone": None})
    assert r.status_code == 200 and r.json()["phone"] is None, "null clears an optional field"
    r = await api(me).patch(url, json={"full_name": None})
    assert r.status_code == 422 and r.json()["error"]["code"] == "null_not_allowed"
    r = await api(me).patch(url, json={"enterprise_id": other["id"]})
    assert r.status_code == 403 and r.json()["error"]["code"] == "enterprise_change_not_allowed"
    taken = (await api(me).post("/v1/persons", json=person_body("E2"))).json()
    full = (await api(PROVINCE).get(f"/v1/persons/{taken['id']}")).json()["national_id"]
    r = await api(PROVINCE).patch(url, json={"national_id": full})
    assert r.status_code == 409 and r.json()["error"]["code"] == "national_id_taken"
    corrected = next_national_id()
    r = await api(PROVINCE).patch(url, json={"national_id": corrected})
    assert r.status_code == 200 and r.json()["national_id"] == corrected, "a correction re-hashes the number"
    found = await api(PROVINCE).post("/v1/persons/lookup", json={"national_id": corrected})
    assert found.json()["id"] == p["id"]
    fields = await sql("SELECT details FROM audit_log WHERE action = 'person.update' AND entity_id = $1", p["id"])
    assert len(fields) == 6


async def test_the_authority_moves_a_person_to_another_enterprise_into_its_smaller_half(
    api: As, make_enterprise: MakeEnterprise
) -> None:
    a = await make_enterprise()
    b = await make_enterprise()
    await api(enterprise(b["id"])).post("/v1/persons", json=person_body("B1"))
    p = (await api(enterprise(a["id"])).post("/v1/persons", json=person_body("A1"))).json()
    assert p["test_cohort"] == 0
    r = await api(PROVINCE).patch(f"/v1/persons/{p['id']}", json={"enterprise_id": b["id"], "employee_code": "B2"})
    assert r.status_code == 200, r.text
    assert r.json()["enterprise_id"] == b["id"] and r.json()["test_cohort"] == 1
    r = await api(PROVINCE).patch(f"/v1/persons/{p['id']}", json={"employee_code": "B1"})
    assert r.status_code == 409 and r.json()["error"]["code"] == "employee_code_taken"


async def test_authority_looks_a_person_up_by_national_id(api: As, make_enterprise: MakeEnterprise, sql: Sql) -> None:
    ent = await make_enterprise(district="Việt Yên")
    number = next_national_id()
    p = (await api(enterprise(ent["id"])).post("/v1/persons", json=person_body("E1", national_id=number))).json()
    spaced = f"{number[:3]} {number[3:6]} {number[6:]}"
    r = await api(PROVINCE).post("/v1/persons/lookup", json={"national_id": spaced})
    assert r.status_code == 200 and r.json()["id"] == p["id"] and r.json()["national_id"] == number
    cases = [
        (district_authority("Việt Yên"), {"national_id": number}, 200, None),
        (district_authority("Yên Dũng"), {"national_id": number}, 404, "person_not_found"),
        (PROVINCE, {"national_id": next_national_id()}, 404, "person_not_found"),
        (PROVINCE, {"national_id": "12345"}, 422, "invalid_national_id"),
        (enterprise(ent["id"]), {"national_id": number}, 403, "role_not_allowed"),
        (worker(p["id"], ent["id"]), {"national_id": number}, 403, "role_not_allowed"),
    ]
    for caller, body, status, code in cases:
        r = await api(caller).post("/v1/persons/lookup", json=body)
        assert r.status_code == status, (caller, r.text)
        if code:
            error = r.json()["error"]
            assert code in [error["code"], *(d["code"] for d in error["details"])], caller
    audit = await sql("SELECT entity_id, details::text AS d FROM audit_log WHERE action = 'person.lookup'")
    assert [a["entity_id"] for a in audit] == [p["id"], p["id"]], "each successful look-up is audited"
    assert all(number not in (a["d"] or "") for a in audit), "never the number itself"


def test_settle_completes_leaving_and_refuses_contradictions() -> None:
    """The merged-record rules, without I/O."""
    now = datetime(2021, 9, 30, 12, tzinfo=LOCAL_TZ)
    base: dict[str, Any] = {
        "enterprise_id": None,
        "employee_code": None,
        "status": "left",
        "left_at": None,
        "high_risk": False,
        "high_risk_reason": "stale",
        "high_risk_until": None,
        "arrived_from_province": None,
        "arrived_at": None,
        "hire_date": None,
        "date_of_birth": date(1995, 3, 8),
    }
    values = dict(base)
    settle(values, sent=set(), now=now)
    assert values["left_at"] == now and values["high_risk_reason"] is None
    with pytest.raises(RuleViolation) as exc:
        settle(dict(base), sent={"high_risk_reason"}, now=now)
    assert exc.value.code == "high_risk_flag_required"
