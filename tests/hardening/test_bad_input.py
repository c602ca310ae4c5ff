"""Bad input (issue "Hardening", item 7): a catalogue of malformed requests, each sent through the
public gateway with a real token of the role that would send it.

Two kinds of rows:

- ``CATALOGUE``: a problem with the whole request. The answer is 4xx in the error envelope
  ``{"error": {"code", "message", "details"}}`` with the row's code (and the offending field,
  where one can be named), no traceback, and **no row of any table changes** (every registry,
  scheduler and gateway table: row count and a checksum of the rows' text).
- ``ITEM_CATALOGUE``: a problem with *one item* of a batch (lab results, roster). Batches are
  judged item by item: the answer is 200 and that item's outcome is ``rejected`` with the row's
  code and field; nothing is written for it. What the batch may write besides is stated per row
  (the batch's one audit row, and the items that were fine), and every other table is unchanged.

After every row the stack still answers a normal request (neither the gateway nor an upstream
fell over). ``'; DROP TABLE person; --`` is refused where a field has a format; as free text it
is valid data, stored verbatim (the last test)."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import asyncpg
import pytest

from safework_common.settings import plain_pg_url
from safework_common.timezone import now_local
from tests.gateway.conftest import Stack, bearer
from tests.gateway.world import DISTRICT_A, enterprise, lab, national_id, ok, tax_code
from tests.hardening.conftest import Snapshot
from tests.registry.factories import rollup_drift

SQL = "'; DROP TABLE person; --"
WHEN = "2021-09-15T07:30:00+07:00"
LATER = "2021-09-15T09:00:00+07:00"
MB = 1024 * 1024


@dataclass
class World:
    """One enterprise with two people (``person`` has dose 1 of AZD1222 on 2021-09-01,
    ``person1`` has none), a lab, and the tokens of each role."""

    ids: dict[str, str]
    headers: dict[str, dict[str, str]]


async def build(stack: Stack) -> World:
    tenant = await enterprise(stack, DISTRICT_A, people=2)
    lab_id = await lab(stack)
    province = stack.province()
    product = {"code": "AZD1222", "name": "AstraZeneca", "min_interval_days": 56}
    await ok(await stack.http.post("/api/v1/vaccine-products", json=product, headers=province), 201)
    dose = {"dose_number": 1, "product_code": "AZD1222", "administered_at": "2021-09-01T09:00:00+07:00"}
    await ok(await stack.http.post(f"/api/v1/persons/{tenant.people[0]}/doses", json=dose, headers=province), 201)
    worker = stack.token("worker", person_id=tenant.people[0], enterprise_id=tenant.enterprise_id)
    return World(
        ids={
            "enterprise": tenant.enterprise_id,
            "person": tenant.people[0],
            "person1": tenant.people[1],
            "national_id": tenant.national_ids[0],
            "lab": lab_id,
            "unknown": str(uuid.uuid4()),
        },
        headers={
            "province": province,
            "enterprise": tenant.headers,
            "lab": bearer(stack.token("lab", lab_id=lab_id)),
            "worker": bearer(worker),
            "anonymous": {},
        },
    )


# --- bodies -------------------------------------------------------------------------------------

Body = Callable[[World], Any]


@dataclass(frozen=True)
class Raw:
    """A body sent as bytes (not encoded by the client), optionally without Content-Length."""

    make: Callable[[World], bytes]
    content_type: str | None = "application/json"
    chunked: bool = False


def person(**over: Any) -> Body:
    """A valid new person of the world's enterprise, with ``over`` replacing or adding fields."""

    def make(w: World) -> dict[str, Any]:
        body = {"national_id": national_id(), "full_name": "Nguyễn Thị Hoa", "date_of_birth": "1995-03-14",
                "sex": "female", "enterprise_id": w.ids["enterprise"], "employee_code": f"NV-{uuid.uuid4().hex[:8]}",
                **over}  # fmt: skip
        return body

    return make


def new_enterprise(**over: Any) -> Body:
    return lambda w: {"tax_code": tax_code(), "name": "Công ty TNHH ABC", "district": DISTRICT_A,
                      "zone_type": "KCN", "zone_name": "KCN Vân Trung", **over}  # fmt: skip


def result(**over: Any) -> dict[str, Any]:
    """One single-result item; ``person_id`` is filled in from the world when left as None."""
    return {"sample_id": f"S-{uuid.uuid4().hex[:10]}", "person_id": None, "kind": "PCR",
            "collected_at": WHEN, "resulted_at": LATER, "result": "NEGATIVE", **over}  # fmt: skip


def pool(members: int, **over: Any) -> dict[str, Any]:
    return {"type": "pool", "pool_sample_id": f"P-{uuid.uuid4().hex[:10]}", "members": members,
            "collected_at": WHEN, "resulted_at": LATER, "result": "NEGATIVE", **over}  # fmt: skip


def batch(*items: dict[str, Any]) -> Body:
    """A results batch; items' missing person references and pools' members are the world's."""

    def make(w: World) -> dict[str, Any]:
        out = []
        for item in items:
            item = dict(item)
            if item.get("type") == "pool" and isinstance(item["members"], int):
                item["members"] = [{"person_id": w.ids["person"]}] * item["members"]
            elif "person_id" in item and item["person_id"] is None:
                item["person_id"] = w.ids["person"]
            out.append({k: v for k, v in item.items() if v is not ...})
        return {"items": out}

    return make


def many_results(n: int) -> Body:
    return lambda w: {"items": [{**result(sample_id=f"B-{k:05d}"), "person_id": w.ids["person"]} for k in range(n)]}


def roster_item(**over: Any) -> dict[str, Any]:
    return {"employee_code": f"R-{uuid.uuid4().hex[:8]}", "national_id": national_id(), "full_name": "Lê Văn Tám",
            "date_of_birth": "1990-05-01", "sex": "male", **over}  # fmt: skip


def roster(*items: dict[str, Any]) -> Body:
    return lambda w: {"items": list(items)}


def dose(**over: Any) -> Body:
    return lambda w: {"dose_number": 1, "product_code": "AZD1222", "administered_at": WHEN, **over}


def nested(depth: int, opener: bytes, closer: bytes) -> Callable[[World], bytes]:
    return lambda w: opener * depth + b"1" + closer * depth


def twenty_mb(w: World) -> bytes:
    return b'{"items": [' + b" " * (20 * MB) + b"]}"


def json_bytes(body: Body) -> Callable[[World], bytes]:
    return lambda w: json.dumps(body(w)).encode()


def tomorrow() -> str:
    return (now_local().date() + timedelta(days=1)).isoformat()


def ten_years_ago() -> str:
    return (now_local().date() - timedelta(days=3653)).isoformat()


def future_instant() -> str:
    return (now_local() + timedelta(days=2)).isoformat()


# --- the catalogue of whole-request problems ----------------------------------------------------


@dataclass(frozen=True)
class Row:
    rule: str
    role: str
    method: str
    path: str
    body: Body | Raw | None
    status: int
    code: str
    field: str | None = None
    detail: str | None = None  # the first detail's code, when it differs from ``code``
    headers: tuple[tuple[str, str], ...] = ()


P = "/api/v1/persons"
E = "/api/v1/enterprises"
RESULTS = "/api/v1/labs/{lab}/results"
ROSTER = "/api/v1/enterprises/{enterprise}/roster"
DOSES = "/api/v1/persons/{person}/doses"
DOSES1 = "/api/v1/persons/{person1}/doses"
V = "validation_error"

CATALOGUE: list[Row] = [
    # Identity numbers (DOMAIN: CCCD 12 digits with a province code 001-096, CMND 9 digits).
    Row("national ID of 11 digits is neither CCCD nor CMND", "province", "POST", P,
        person(national_id="02419000123"), 422, V, "body.national_id", "invalid_national_id"),
    Row("national ID of 13 digits is neither CCCD nor CMND", "province", "POST", P,
        person(national_id="0241900012345"), 422, V, "body.national_id", "invalid_national_id"),
    Row("national ID with a letter", "province", "POST", P,
        person(national_id="02419000123A"), 422, V, "body.national_id", "invalid_national_id"),
    Row("CCCD province code 999 does not exist (001-096)", "province", "POST", P,
        person(national_id="999190001234"), 422, V, "body.national_id", "invalid_national_id"),
    Row("CCCD province code 000 does not exist", "province", "POST", P,
        person(national_id="000190001234"), 422, V, "body.national_id", "invalid_national_id"),
    Row("SQL in a national ID is just an invalid national ID", "province", "POST", P,
        person(national_id=SQL), 422, V, "body.national_id", "invalid_national_id"),
    Row("look-up by an 11-digit national ID", "province", "POST", P + "/lookup",
        lambda w: {"national_id": "02419000123"}, 422, V, "body.national_id", "invalid_national_id"),
    Row("tax code of 9 digits", "province", "POST", E,
        new_enterprise(tax_code="240012345"), 422, V, "body.tax_code", "invalid_tax_code"),
    Row("tax code branch suffix of 2 digits", "province", "POST", E,
        new_enterprise(tax_code="2400123456-12"), 422, V, "body.tax_code", "invalid_tax_code"),
    Row("tax code branch suffix of letters", "province", "POST", E,
        new_enterprise(tax_code="2400123456-ABC"), 422, V, "body.tax_code", "invalid_tax_code"),
    Row("SQL in a tax code", "province", "POST", E,
        new_enterprise(tax_code=SQL[:14]), 422, V, "body.tax_code", "invalid_tax_code"),
    Row("mobile number with a landline prefix 02", "province", "POST", P,
        person(phone="0212345678"), 422, V, "body.phone", "invalid_phone"),
    Row("mobile number of 9 digits", "province", "POST", P,
        person(phone="091234567"), 422, V, "body.phone", "invalid_phone"),
    # Dates of birth (a plausible worker: born 1900 or later, not in the future, 15 or older).
    Row("date of birth tomorrow", "province", "POST", P,
        lambda w: person(date_of_birth=tomorrow())(w), 422, V, "body.date_of_birth", "date_of_birth_in_future"),
    Row("date of birth before 1900", "province", "POST", P,
        person(date_of_birth="1899-12-31"), 422, V, "body.date_of_birth", "date_of_birth_too_early"),
    Row("date of birth of a ten-year-old (Labour Code art. 143)", "province", "POST", P,
        lambda w: person(date_of_birth=ten_years_ago())(w), 422, V, "body.date_of_birth", "under_working_age"),
    Row("date of birth 30 February", "province", "POST", P,
        person(date_of_birth="2001-02-30"), 422, V, "body.date_of_birth"),
    Row("hire date before birth", "province", "POST", P,
        person(hire_date="1990-01-01", date_of_birth="1995-03-14"), 422, "hire_date_before_birth", "body.hire_date"),
    # Doses (seeds/003: dose 2 after the vaccine's minimum interval).
    Row("dose 2 with no dose 1", "province", "POST", DOSES1,
        dose(dose_number=2), 409, "previous_dose_missing", "body.dose_number"),
    Row("dose 2 nine days after dose 1 of AZD1222 (56 days)", "province", "POST", DOSES,
        dose(dose_number=2, administered_at="2021-09-10T09:00:00+07:00"), 422, "dose_interval_too_short",
        "body.administered_at"),
    Row("dose given in the future", "province", "POST", DOSES1,
        lambda w: dose(administered_at=future_instant())(w), 422, "administered_in_future", "body.administered_at"),
    Row("dose given before 1900", "province", "POST", DOSES1,
        dose(administered_at="1899-06-01T09:00:00+07:00"), 422, "time_before_1900", "body.administered_at"),
    Row("dose number 0", "province", "POST", DOSES1, dose(dose_number=0), 422, V, "body.dose_number"),
    Row("dose of an unknown vaccine product", "province", "POST", DOSES1,
        dose(product_code="NOPE"), 422, "vaccine_product_not_found", "body.product_code"),
    Row("vaccine product code in lower case", "province", "POST", DOSES1,
        dose(product_code="azd1222"), 422, V, "body.product_code"),
    # Unknown references: 404 in the envelope.
    Row("person of an unknown enterprise", "province", "POST", P,
        lambda w: person(enterprise_id=w.ids["unknown"])(w), 404, "enterprise_not_found", "body.enterprise_id"),
    Row("unknown enterprise", "province", "GET", E + "/{unknown}", None, 404, "enterprise_not_found"),
    Row("unknown person", "province", "GET", P + "/{unknown}", None, 404, "person_not_found"),
    Row("dose for an unknown person", "province", "POST", P + "/{unknown}/doses", dose(), 404, "person_not_found"),
    Row("results for an unknown lab", "province", "POST", "/api/v1/labs/{unknown}/results",
        batch(result()), 404, "lab_not_found", "path.lab_id"),
    # Batch bounds (10,000 items).
    Row("empty results batch", "lab", "POST", RESULTS, batch(), 422, "batch_empty", "body.items"),
    Row("empty roster", "enterprise", "PUT", ROSTER, roster(), 422, "batch_empty", "body.items"),
    Row("results batch of 10,001 items", "lab", "POST", RESULTS,
        many_results(10_001), 413, "batch_too_large", "body.items"),
    Row("roster of 10,001 items", "enterprise", "PUT", ROSTER,
        lambda w: {"items": [{"employee_code": f"C{k}"} for k in range(10_001)]}, 413, "batch_too_large",
        "body.items"),
    Row("results items as an object, not a list", "lab", "POST", RESULTS,
        lambda w: {"items": {"0": result()}}, 422, V, "body.items", "list_type"),
    Row("results body without items", "lab", "POST", RESULTS, lambda w: {}, 422, V, "body.items", "missing"),
    # Size, nesting and encoding of the body itself.
    Row("20 MB body (limit 16 MiB)", "lab", "POST", RESULTS, Raw(twenty_mb), 413, "payload_too_large"),
    Row("20 MB body streamed without Content-Length", "lab", "POST", RESULTS,
        Raw(twenty_mb, chunked=True), 413, "payload_too_large"),
    Row("JSON arrays nested 10,000 deep", "province", "POST", P,
        Raw(nested(10_000, b"[", b"]")), 400, "bad_request"),
    Row("JSON objects nested 10,000 deep", "lab", "POST", RESULTS,
        Raw(nested(10_000, b'{"items":', b"}")), 400, "bad_request"),
    Row("JSON nested 10,000 deep to a route the gateway parses itself", "enterprise", "POST",
        E + "/{enterprise}/activation-codes", Raw(nested(10_000, b'{"person_ids":', b"}")), 400, "bad_request"),
    Row("NUL character in a client's name (a gateway table)", "province", "POST", "/api/v1/clients",
        lambda w: {"name": "Lab\u0000", "role": "lab", "lab_id": w.ids["lab"]}, 422, "invalid_character"),
    Row("NUL character in the app ID of an activation", "anonymous", "POST", "/api/v1/app/activate",
        lambda w: {"code": "7KQ2M-9XD4T", "device_id": "android-5f1c2a7e9b04d3e1", "app_id": "vn.evil\u0000",
                   "app_version": "1", "platform": "android"}, 422, "invalid_character"),
    Row("invalid UTF-8 bytes", "province", "POST", P,
        Raw(lambda w: b'{"full_name": "\xff\xfe\xc3(", "sex": "male"}'), 400, "bad_request"),
    Row("a lone UTF-16 surrogate escape", "province", "POST", P,
        Raw(json_bytes(person(full_name="A\ud800B"))), 422, V, "body.full_name", "string_unicode"),
    Row("NUL character in a person's name (PostgreSQL text cannot hold it)", "province", "POST", P,
        person(full_name="Hoa\u0000"), 422, "invalid_character"),
    Row("NUL character in an enterprise's name", "province", "POST", E,
        new_enterprise(name="ABC\u0000DEF"), 422, "invalid_character"),
    Row("NUL character in a roster item's name refuses the roster", "enterprise", "PUT", ROSTER,
        roster(roster_item(full_name="Tám\u0000")), 422, "invalid_character"),
    Row("NUL character in a search query", "enterprise", "GET", ROSTER + "?q=a%00b", None, 422, "invalid_character"),
    Row("NUL character in a dose's site", "province", "POST", DOSES1, dose(site="Trạm\u0000"), 422,
        "invalid_character"),
    Row("truncated JSON", "province", "POST", P, Raw(lambda w: b'{"national_id": "0241'), 400, "malformed_json"),
    Row("a 5,000-digit number", "province", "POST", E,
        Raw(lambda w: b'{"headcount": ' + b"9" * 5000 + b"}"), 400, "bad_request"),
    Row("a JSON array where an object is expected", "province", "POST", P,
        Raw(lambda w: b"[1, 2, 3]"), 422, V, "body", "model_attributes_type"),
    Row("JSON sent as text/plain", "province", "POST", P,
        Raw(json_bytes(person()), content_type="text/plain"), 422, V, "body"),
    # Numbers and types.
    Row("negative headcount", "province", "POST", E, new_enterprise(headcount=-1), 422, V, "body.headcount",
        "greater_than_equal"),
    Row("headcount of 10^30", "province", "POST", E, new_enterprise(headcount=10**30), 422, V, "body.headcount"),
    Row("headcount as a string", "province", "POST", E, new_enterprise(headcount="many"), 422, V,
        "body.headcount", "int_parsing"),
    Row("headcount NaN", "province", "POST", E,
        Raw(lambda w: json.dumps(new_enterprise(headcount=float("nan"))(w)).encode()), 422, V, "body.headcount"),
    Row("dose number as a word", "province", "POST", DOSES1, dose(dose_number="two"), 422, V,
        "body.dose_number", "int_parsing"),
    # Time zones and absurd instants.
    Row("left_at 0001-01-01T00:00+07:00 is before the first instant a datetime holds (UTC year 0)", "province",
        "POST", P, person(status="left", left_at="0001-01-01T00:00:00+07:00"), 422, "value_out_of_range"),
    Row("dose time without a time zone", "province", "POST", DOSES1,
        dose(administered_at="2021-09-01T09:00:00"), 422, V, "body.administered_at", "timezone_aware"),
    Row("as_of without a time zone", "province", "GET", P + "/{person}/due?as_of=2021-09-15T07:30:00", None,
        422, V, "query.as_of", "timezone_aware"),
    Row("as_of at the last second of year 9999 (UTC)", "province", "GET",
        E + "/{enterprise}/compliance?as_of=9999-12-31T23:59:59%2B00:00", None, 422, "value_out_of_range"),
    Row("due list for 31 December 9999", "province", "GET", E + "/{enterprise}/due?date=9999-12-31", None,
        422, "value_out_of_range"),
    Row("declaration time in the future", "worker", "POST", "/api/v1/me/declarations",
        lambda w: {"declared_at": future_instant()}, 422, "declared_in_future", "body.declared_at"),
    # Unknown enum values.
    Row("zone type KCX is not KCN, CCN or OUTSIDE", "province", "POST", E, new_enterprise(zone_type="KCX"), 422,
        V, "body.zone_type", "literal_error"),
    Row("venue kind toilet", "enterprise", "POST", E + "/{enterprise}/venues",
        lambda w: {"name": "WC", "kind": "toilet"}, 422, V, "body.kind", "literal_error"),
    Row("symptom sneezing", "worker", "POST", "/api/v1/me/declarations",
        lambda w: {"declared_at": WHEN, "symptoms": ["sneezing"]}, 422, V, "body.symptoms[0]", "literal_error"),
    Row("roster status filter gone", "enterprise", "GET", ROSTER + "?status=gone", None, 422, V, "query.status"),
    # Oversize strings and unknown fields.
    Row("full name of 256 characters", "province", "POST", P, person(full_name="A" * 256), 422, V,
        "body.full_name", "string_too_long"),
    Row("enterprise name of 100,000 characters", "province", "POST", E, new_enterprise(name="N" * 100_000), 422, V,
        "body.name", "string_too_long"),
    Row("an unknown field is refused, not ignored", "province", "POST", P, person(is_admin=True), 422, V,
        "body.is_admin", "extra_forbidden"),
    Row("Idempotency-Key of 300 characters", "lab", "POST", RESULTS, batch(result()), 422,
        "invalid_idempotency_key", "header.Idempotency-Key", headers=(("Idempotency-Key", "k" * 300),)),
    # Path and query parameters.
    Row("person ID that is not a UUID", "province", "GET", P + "/not-a-uuid", None, 422, "invalid_uuid",
        "path.person_id"),
    Row("lab ID that is not a UUID", "lab", "POST", "/api/v1/labs/123/results", batch(result()), 422,
        "invalid_uuid", "path.lab_id"),
    Row("travel ID that is not a number", "worker", "PATCH", "/api/v1/me/travels/abc",
        lambda w: {"returned_at": WHEN}, 422, "invalid_path_parameter", "path.travel_id"),
    Row("page size 0", "enterprise", "GET", ROSTER + "?limit=0", None, 422, V, "query.limit", "greater_than_equal"),
    Row("page size 100,000", "enterprise", "GET", ROSTER + "?limit=100000", None, 422, V, "query.limit",
        "less_than_equal"),
    Row("page size abc", "lab", "GET", RESULTS + "?limit=abc", None, 422, V, "query.limit", "int_parsing"),
    Row("a cursor that was never issued", "enterprise", "GET", ROSTER + "?cursor=not-a-cursor", None, 422,
        "invalid_cursor", "query.cursor"),
    Row("activation codes for a person ID that is not a UUID", "enterprise", "POST",
        E + "/{enterprise}/activation-codes", lambda w: {"person_ids": [SQL]}, 422, V, "body.person_ids[0]"),
]  # fmt: skip


# --- the catalogue of item-level problems in batches -------------------------------------------


@dataclass(frozen=True)
class ItemRow:
    """``outcomes``: (index, status, code, field) expected in the answer's items; ``writes``: the
    tables the batch may change and by how many rows (every other table stays as it was);
    ``stored``: a query and the one value it must give afterwards."""

    rule: str
    role: str
    method: str
    path: str
    body: Body
    outcomes: tuple[tuple[int, str, str | None, str | None], ...]
    writes: dict[str, int]
    stored: tuple[str, object] | None = None


AUDIT_ONLY = {"audit_log": 1}

ITEM_CATALOGUE: list[ItemRow] = [
    # Issue 16: an item that fails validation is that item's outcome, not the whole batch's 422.
    ItemRow("a pool naming 1,001 people (over any pool's bound)", "lab", "POST", RESULTS, batch(pool(1001)),
            ((0, "rejected", "too_long", "body.items[0].members"),), AUDIT_ONLY),
    ItemRow("collected_at without a time zone", "lab", "POST", RESULTS,
            batch(result(collected_at="2021-09-15T07:30:00")),
            ((0, "rejected", "timezone_aware", "body.items[0].collected_at"),), AUDIT_ONLY),
    ItemRow("offset +25:00", "lab", "POST", RESULTS, batch(result(collected_at="2021-09-15T07:30:00+25:00")),
            ((0, "rejected", "datetime_from_date_parsing", "body.items[0].collected_at"),), AUDIT_ONLY),
    ItemRow("offset +99:99", "lab", "POST", RESULTS, batch(result(resulted_at="2021-09-15T07:30:00+99:99")),
            ((0, "rejected", "datetime_from_date_parsing", "body.items[0].resulted_at"),), AUDIT_ONLY),
    ItemRow("year 0000", "lab", "POST", RESULTS, batch(result(collected_at="0000-09-15T07:30:00+07:00")),
            ((0, "rejected", "datetime_parsing", "body.items[0].collected_at"),), AUDIT_ONLY),
    ItemRow("year 10000", "lab", "POST", RESULTS, batch(result(resulted_at="10000-09-15T07:30:00+07:00")),
            ((0, "rejected", "datetime_from_date_parsing", "body.items[0].resulted_at"),), AUDIT_ONLY),
    ItemRow("test kind ELISA", "lab", "POST", RESULTS, batch(result(kind="ELISA")),
            ((0, "rejected", "literal_error", "body.items[0].kind"),), AUDIT_ONLY),
    ItemRow("test result MAYBE", "lab", "POST", RESULTS, batch(result(result="MAYBE")),
            ((0, "rejected", "literal_error", "body.items[0].result"),), AUDIT_ONLY),
    ItemRow("sample ID of 65 characters", "lab", "POST", RESULTS, batch(result(sample_id="S" * 65)),
            ((0, "rejected", "string_too_long", "body.items[0].sample_id"),), AUDIT_ONLY),
    ItemRow("SQL in a sample ID (a format: letters, digits, ._:/-)", "lab", "POST", RESULTS,
            batch(result(sample_id=SQL)),
            ((0, "rejected", "string_pattern_mismatch", "body.items[0].sample_id"),), AUDIT_ONLY),
    ItemRow("a pool of 21 (pools of 10 or 20, seeds/001)", "lab", "POST", RESULTS, batch(pool(21)),
            ((0, "rejected", "pool_too_large", "body.items[0].members"),), AUDIT_ONLY),
    ItemRow("an empty pool", "lab", "POST", RESULTS, batch(pool(0)),
            ((0, "rejected", "pool_empty", "body.items[0].members"),), AUDIT_ONLY),
    ItemRow("the same person twice in a pool", "lab", "POST", RESULTS, batch(pool(2)),
            ((0, "rejected", "pool_member_repeated", "body.items[0].members[1]"),), AUDIT_ONLY),
    ItemRow("the same sample ID twice in one batch: the first stands, the second is rejected", "lab", "POST",
            RESULTS, batch(result(sample_id="DUP-1"), result(sample_id="DUP-1", result="POSITIVE")),
            ((0, "accepted", None, None), (1, "rejected", "duplicate_in_batch", "body.items[1].sample_id")),
            {"audit_log": 1, "test_result": 1, "test_result_sample": 1},
            ("SELECT result FROM test_result WHERE sample_id = 'DUP-1'", "NEGATIVE")),
    ItemRow("a sample collected in the future", "lab", "POST", RESULTS,
            lambda w: batch(result(collected_at=future_instant(), resulted_at=future_instant()))(w),
            ((0, "rejected", "collected_in_future", "body.items[0].collected_at"),), AUDIT_ONLY),
    ItemRow("a sample collected before 1900", "lab", "POST", RESULTS,
            batch(result(collected_at="1899-12-31T08:00:00+07:00")),
            ((0, "rejected", "collected_before_1900", "body.items[0].collected_at"),), AUDIT_ONLY),
    ItemRow("a sample collected at 0001-01-01T00:00+07:00 (UTC year 0)", "lab", "POST", RESULTS,
            batch(result(collected_at="0001-01-01T00:00:00+07:00", resulted_at="0001-01-01T01:00:00+07:00")),
            ((0, "rejected", "collected_before_1900", "body.items[0].collected_at"),), AUDIT_ONLY),
    ItemRow("a result before its sample was collected", "lab", "POST", RESULTS,
            batch(result(collected_at=LATER, resulted_at=WHEN)),
            ((0, "rejected", "resulted_before_collected", "body.items[0].resulted_at"),), AUDIT_ONLY),
    ItemRow("an unknown person", "lab", "POST", RESULTS, lambda w: batch(result(person_id=w.ids["unknown"]))(w),
            ((0, "rejected", "person_not_found", "body.items[0].person_id"),), AUDIT_ONLY),
    ItemRow("a national ID of 11 digits", "lab", "POST", RESULTS,
            batch(result(person_id=..., national_id="02419000123")),
            ((0, "rejected", "invalid_national_id", "body.items[0].national_id"),), AUDIT_ONLY),
    ItemRow("a person named both by ID and by national ID", "lab", "POST", RESULTS,
            lambda w: batch(result(national_id=w.ids["national_id"]))(w),
            ((0, "rejected", "person_ref_ambiguous", "body.items[0]"),), AUDIT_ONLY),
    ItemRow("a result naming nobody", "lab", "POST", RESULTS, batch(result(person_id=...)),
            ((0, "rejected", "person_ref_required", "body.items[0].person_id"),), AUDIT_ONLY),
    ItemRow("the same employee code twice in one roster: every copy is rejected", "enterprise", "PUT", ROSTER,
            roster(roster_item(employee_code="DUP-7"), roster_item(employee_code="DUP-7")),
            ((0, "rejected", "duplicate_in_batch", "body.items[0].employee_code"),
             (1, "rejected", "duplicate_in_batch", "body.items[1].employee_code")), {}),
    ItemRow("a roster item with a 13-digit national ID", "enterprise", "PUT", ROSTER,
            roster(roster_item(national_id="0241900012345")),
            ((0, "rejected", "invalid_national_id", "body.items[0].national_id"),), {}),
    ItemRow("a roster item born before 1900", "enterprise", "PUT", ROSTER,
            roster(roster_item(date_of_birth="1899-01-01")),
            ((0, "rejected", "date_of_birth_too_early", "body.items[0].date_of_birth"),), {}),
    ItemRow("a roster item with a landline number", "enterprise", "PUT", ROSTER,
            roster(roster_item(phone="0241234567")),
            ((0, "rejected", "invalid_phone", "body.items[0].phone"),), {}),
    ItemRow("a roster item arriving without saying from where", "enterprise", "PUT", ROSTER,
            roster(roster_item(arrived_at=WHEN)),
            ((0, "rejected", "arrival_incomplete", "body.items[0].arrived_from_province"),), {}),
]  # fmt: skip


# --- running a row --------------------------------------------------------------------------------


@pytest.fixture(scope="module")
async def world(module_stack: Stack) -> World:
    """One world for the whole module: every row leaves it as it was (that is what is checked)."""
    return await build(module_stack)


async def _chunks(data: bytes, size: int = MB) -> AsyncIterator[bytes]:
    for start in range(0, len(data), size):
        yield data[start : start + size]


async def send(stack: Stack, w: World, role: str, method: str, path: str, body: Body | Raw | None,
               headers: dict[str, str]) -> Any:  # fmt: skip
    url = path.format(**w.ids)
    hdrs = {**w.headers[role], **headers}
    if body is None:
        return await stack.http.request(method, url, headers=hdrs)
    if isinstance(body, Raw):
        data = body.make(w)
        if body.content_type is not None:
            hdrs["content-type"] = body.content_type
        content: Any = _chunks(data) if body.chunked else data
        return await stack.http.request(method, url, content=content, headers=hdrs)
    return await stack.http.request(method, url, json=body(w), headers=hdrs)


def assert_envelope(r: Any) -> dict[str, Any]:
    """4xx, JSON, exactly the envelope's keys, no traceback."""
    assert 400 <= r.status_code < 500, r.text[:500]
    assert r.headers["content-type"].startswith("application/json")
    assert "Traceback" not in r.text and 'File "' not in r.text
    body = r.json()
    assert set(body) == {"error"}
    error = body["error"]
    assert set(error) == {"code", "message", "details"}
    assert isinstance(error["code"], str) and isinstance(error["message"], str) and error["message"]
    assert isinstance(error["details"], list)
    return dict(error)


async def still_answers(stack: Stack, w: World) -> None:
    r = await stack.http.get(f"/api/v1/enterprises/{w.ids['enterprise']}", headers=w.headers["province"])
    assert r.status_code == 200, r.text


# Kept by the database from the tables written (``person_rollup``: checked by ``rollup_drift``).
DERIVED = frozenset({"person_rollup"})


def changed(before: Snapshot, after: Snapshot) -> dict[str, tuple[int, int]]:
    return {t: (before[t][0], after[t][0]) for t in after if before.get(t) != after[t]}


@pytest.mark.parametrize("row", CATALOGUE, ids=[r.rule for r in CATALOGUE])
async def test_bad_request_is_refused_in_the_envelope_and_changes_nothing(
    module_stack: Stack, world: World, snapshot: Callable[[], Awaitable[Snapshot]], row: Row
) -> None:
    stack = module_stack
    before = await snapshot()
    r = await send(stack, world, row.role, row.method, row.path, row.body, dict(row.headers))
    error = assert_envelope(r)
    assert (r.status_code, error["code"]) == (row.status, row.code), r.text[:500]
    if row.field is not None:
        assert error["details"], r.text[:500]
        assert error["details"][0]["field"] == row.field, r.text[:500]
    if row.detail is not None:
        assert error["details"][0]["code"] == row.detail, r.text[:500]
    assert changed(before, await snapshot()) == {}
    await still_answers(stack, world)


@pytest.mark.parametrize("row", ITEM_CATALOGUE, ids=[r.rule for r in ITEM_CATALOGUE])
async def test_bad_item_is_rejected_alone_and_writes_nothing_for_it(
    module_stack: Stack, world: World, snapshot: Callable[[], Awaitable[Snapshot]], database_url: str, row: ItemRow
) -> None:
    stack = module_stack
    before = await snapshot()
    r = await send(stack, world, row.role, row.method, row.path, row.body, {})
    assert r.status_code == 200, r.text[:500]
    items = r.json()["items"]
    assert len(items) == len(row.outcomes)
    for index, status, code, where in row.outcomes:
        item = items[index]
        # Lab results answer ``status``, the roster ``outcome``.
        outcome = item["status"] if "status" in item else item["outcome"]
        assert (item["index"], outcome, item.get("code"), item.get("field")) == (index, status, code, where), item
    after = await snapshot()
    writes = {t: a - b for t, (b, a) in changed(before, after).items() if t not in DERIVED}
    assert writes == row.writes
    assert await rollup_drift(plain_pg_url(database_url)) == [], "the derived roll-up follows what was written"
    if row.stored is not None:
        query, value = row.stored
        conn = await asyncpg.connect(plain_pg_url(database_url))
        try:
            assert await conn.fetch(query) == [(value,)]
        finally:
            await conn.close()
    await still_answers(stack, world)


async def test_sql_looking_text_is_valid_data_stored_verbatim(
    module_stack: Stack, world: World, database_url: str
) -> None:
    """Free text is data: a name that looks like SQL is stored and read back as it was sent, and
    every table is still there."""
    stack = module_stack
    conn = await asyncpg.connect(plain_pg_url(database_url))
    try:
        people = await conn.fetchval("SELECT count(*) FROM person")
        body = person(full_name=SQL, employee_code=SQL)(world)
        created = await ok(await stack.http.post(P, json=body, headers=world.headers["province"]), 201)
        assert (created["full_name"], created["employee_code"]) == (SQL, SQL)
        read = await ok(await stack.http.get(f"{P}/{created['id']}", headers=world.headers["enterprise"]))
        assert (read["full_name"], read["employee_code"]) == (SQL, SQL)
        url = ROSTER.format(**world.ids) + "?q=%27%3B%20DROP"
        found = await ok(await stack.http.get(url, headers=world.headers["enterprise"]))
        assert [p["id"] for p in found["items"]] == [created["id"]]
        stored = await conn.fetchval("SELECT full_name FROM person WHERE id = $1", uuid.UUID(created["id"]))
        assert stored == SQL
        assert await conn.fetchval("SELECT count(*) FROM person") == people + 1
    finally:
        await conn.close()
