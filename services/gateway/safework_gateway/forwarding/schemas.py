"""JSON schemas of the forwarded bodies, for /docs and fuzzers. The gateway passes bodies through
as bytes (the upstream validates them, item by item for batches); these describe the contract
of docs/ARCHITECTURE.md so the public API is self-describing."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from safework_common.geo import DISTRICT_SCHEMA, PROVINCE_SCHEMA

Schema = dict[str, Any]

UUID: Schema = {"type": "string", "format": "uuid"}
INSTANT: Schema = {"type": "string", "format": "date-time", "description": "With a time zone; naive times are refused."}
DATE: Schema = {"type": "string", "format": "date"}
TEXT: Schema = {"type": "string", "minLength": 1, "maxLength": 255}
ANY_OBJECT: Schema = {"type": "object", "additionalProperties": True}
ANY_ARRAY: Schema = {"type": "array", "items": ANY_OBJECT}
# The registry's rule (draft-ietf-httpapi-idempotency-key-header): 1-255 printable ASCII characters.
IDEMPOTENCY_KEY: Schema = {
    "type": "string",
    "minLength": 1,
    "maxLength": 255,
    "pattern": r"^[\x20-\x7e]*[\x21-\x7e][\x20-\x7e]*$",
}


def nullable(schema: Schema) -> Schema:
    """``null`` as well: the upstream takes it as "not given" (on a create) or "clear it" (on a
    change), as its ``X | None`` fields do."""
    return {"anyOf": [schema, {"type": "null"}]}


def with_null(fields: dict[str, Schema], names: Iterable[str]) -> dict[str, Schema]:
    """``fields`` with ``names`` nullable (the others may be left out of a change, not cleared:
    the upstream refuses their null with ``null_not_allowed``)."""
    chosen = set(names)
    assert chosen <= set(fields), chosen - set(fields)
    return {name: nullable(schema) if name in chosen else schema for name, schema in fields.items()}


def obj(properties: dict[str, Schema], required: list[str] | None = None, **extra: Any) -> Schema:
    out: Schema = {"type": "object", "properties": properties, "additionalProperties": False}
    if required:
        out["required"] = required
    out.update(extra)
    return out


SAMPLE_ID: Schema = {"type": "string", "minLength": 1, "maxLength": 64, "pattern": r"^[A-Za-z0-9][A-Za-z0-9._:/\-]*$"}
TEST_KIND: Schema = {"type": "string", "enum": ["PCR", "RAPID_ANTIGEN"]}
RESULT: Schema = {"type": "string", "enum": ["NEGATIVE", "POSITIVE", "INVALID"]}

SINGLE_RESULT = obj(
    {
        "type": {"type": "string", "enum": ["single"]},
        "sample_id": SAMPLE_ID,
        "person_id": nullable(UUID),
        "national_id": nullable({"type": "string", "maxLength": 32}),
        "kind": TEST_KIND,
        "collected_at": INSTANT,
        "resulted_at": INSTANT,
        "result": RESULT,
    },
    ["sample_id", "kind", "collected_at", "resulted_at", "result"],
)
POOL = obj(
    {
        "type": {"type": "string", "enum": ["pool"]},
        "pool_sample_id": SAMPLE_ID,
        "members": {
            "type": "array",
            "maxItems": 20,
            "items": obj({"person_id": nullable(UUID), "national_id": nullable({"type": "string", "maxLength": 32})}),
            "description": "Pools of 10 or 20 (seeds/001).",
        },
        "collected_at": INSTANT,
        "resulted_at": INSTANT,
        "result": RESULT,
    },
    ["pool_sample_id", "members", "collected_at", "resulted_at", "result"],
)
RESULTS_BATCH = obj(
    {"items": {"type": "array", "minItems": 1, "maxItems": 10_000, "items": {"oneOf": [SINGLE_RESULT, POOL]}}},
    ["items"],
    examples=[
        {
            "items": [
                {
                    "type": "single",
                    "sample_id": "VT-2021-09-15-0001",
                    "national_id": "024095001234",
                    "kind": "RAPID_ANTIGEN",
                    "collected_at": "2021-09-15T07:30:00+07:00",
                    "resulted_at": "2021-09-15T08:00:00+07:00",
                    "result": "NEGATIVE",
                },
                {
                    "type": "pool",
                    "pool_sample_id": "VT-POOL-0042",
                    "members": [{"person_id": "5b0c8f0e-7a51-4c4e-9d3e-2f4a1b6c8d90"}],
                    "collected_at": "2021-09-15T07:30:00+07:00",
                    "resulted_at": "2021-09-15T15:00:00+07:00",
                    "result": "NEGATIVE",
                },
            ]
        }
    ],
)

PERSON_FIELDS: dict[str, Schema] = {
    "national_id": {"type": "string", "minLength": 9, "maxLength": 24, "description": "CCCD (12) or CMND (9)."},
    "full_name": TEXT,
    "date_of_birth": DATE,
    "sex": {"type": "string", "enum": ["male", "female", "other"]},
    "phone": {"type": "string", "maxLength": 24},
    "home_province": PROVINCE_SCHEMA,
    "job_role": {
        "type": "string",
        "enum": ["worker", "manager", "expert", "freight_driver", "freight_driver_assistant", "shuttle_driver"],
        "description": "seeds/003: freight drivers and their assistants share the first vaccine tier; "
        "a passenger-shuttle driver does not.",
    },
    "employee_code": {"type": "string", "minLength": 1, "maxLength": 64},
    "hire_date": DATE,
    "arrived_from_province": PROVINCE_SCHEMA,
    "arrived_at": INSTANT,
    "accommodation_id": UUID,
    "high_risk": {"type": "boolean"},
    "high_risk_reason": {"type": "string", "maxLength": 2000},
    "high_risk_until": INSTANT,
    "status": {"type": "string", "enum": ["active", "left"]},
    "left_at": INSTANT,
}
# Optional person fields the registry also takes as null.
PERSON_NULLABLE = (
    "phone",
    "home_province",
    "hire_date",
    "arrived_from_province",
    "arrived_at",
    "accommodation_id",
    "high_risk_reason",
    "high_risk_until",
    "left_at",
)
PERSON_EXAMPLE = {
    "national_id": "024095001234",
    "full_name": "Nguyễn Thị Hoa",
    "date_of_birth": "1995-03-14",
    "sex": "female",
    "phone": "0912345678",
    "job_role": "worker",
    "employee_code": "NV-00017",
}
PERSON_CREATE = obj(
    with_null({**PERSON_FIELDS, "enterprise_id": UUID}, (*PERSON_NULLABLE, "enterprise_id", "employee_code")),
    ["national_id", "full_name", "date_of_birth", "sex"],
    examples=[PERSON_EXAMPLE],
)
PERSON_UPDATE = obj(
    with_null({**PERSON_FIELDS, "enterprise_id": UUID}, (*PERSON_NULLABLE, "enterprise_id", "employee_code")),
    examples=[{"phone": "+84987654321"}],
)
ROSTER = obj(
    {
        "items": {
            "type": "array",
            "minItems": 1,
            "maxItems": 10_000,
            "items": obj(
                with_null(PERSON_FIELDS, PERSON_NULLABLE),
                ["employee_code", "national_id", "full_name", "date_of_birth", "sex"],
            ),
        }
    },
    ["items"],
    examples=[{"items": [PERSON_EXAMPLE]}],
)
LOOKUP = obj({"national_id": PERSON_FIELDS["national_id"]}, ["national_id"], examples=[{"national_id": "024095001234"}])

ZONE_TYPE: Schema = {"type": "string", "enum": ["KCN", "CCN", "OUTSIDE"]}
ENTERPRISE_FIELDS: dict[str, Schema] = {
    "tax_code": {"type": "string", "pattern": r"^[0-9]{10}(-[0-9]{3})?$"},
    "name": TEXT,
    "district": DISTRICT_SCHEMA,
    "zone_type": ZONE_TYPE,
    "zone_name": TEXT,
    "industry": {"type": "string", "enum": ["garment", "shuttlecock", "other"]},
    "headcount": {"type": "integer", "minimum": 0},
    "latitude": {"type": "number", "minimum": -90, "maximum": 90},
    "longitude": {"type": "number", "minimum": -180, "maximum": 180},
}
ENTERPRISE_CREATE = obj(
    with_null(ENTERPRISE_FIELDS, ("zone_name", "latitude", "longitude")),
    ["tax_code", "name", "district", "zone_type"],
    examples=[
        {
            "tax_code": "2400123456",
            "name": "Công ty TNHH ABC",
            "district": "Việt Yên",
            "zone_type": "KCN",
            "zone_name": "KCN Vân Trung",
            "industry": "other",
            "headcount": 1200,
        }
    ],
)
ENTERPRISE_UPDATE = obj(
    with_null(ENTERPRISE_FIELDS, ("zone_name", "latitude", "longitude")), examples=[{"headcount": 1350}]
)
ENTERPRISE_STATUS = obj(
    {
        "status": {"type": "string", "enum": ["cleared", "suspended"]},
        "reason": nullable(
            {"type": "string", "minLength": 1, "maxLength": 2000, "description": "Required to suspend."}
        ),
        "at": nullable(INSTANT),
    },
    ["status"],
    examples=[{"status": "suspended", "reason": "F0 case in the production line", "at": "2021-05-14T18:00:00+07:00"}],
)
LICENCE: Schema = {"type": "string", "minLength": 2, "maxLength": 64, "pattern": r"^[A-Za-z0-9._/\-]+$"}
LAB = obj({"name": TEXT, "licence_code": LICENCE, "active": {"type": "boolean"}}, ["name", "licence_code"],
          examples=[{"name": "CDC Bắc Giang", "licence_code": "BG-CDC-2021/01"}])  # fmt: skip
LAB_UPDATE = obj({"name": TEXT, "licence_code": LICENCE, "active": {"type": "boolean"}}, examples=[{"active": False}])
QR_CODE: Schema = {"type": "string", "minLength": 4, "maxLength": 128, "pattern": r"^[A-Za-z0-9._:\-]+$"}
VENUE_KIND: Schema = {"type": "string", "enum": ["gate", "production_unit", "canteen", "shuttle_bus"]}
VENUE = obj(
    {"name": TEXT, "kind": VENUE_KIND, "qr_code": nullable(QR_CODE), "active": {"type": "boolean"}},
    ["name", "kind"],
    examples=[{"name": "Cổng số 1", "kind": "gate"}],
)
VENUE_UPDATE = obj(
    {"name": TEXT, "kind": VENUE_KIND, "qr_code": QR_CODE, "active": {"type": "boolean"}},
    examples=[{"active": False}],
)
ACCOMMODATION_FIELDS: dict[str, Schema] = {
    "name": TEXT,
    "address": {"type": "string", "minLength": 1, "maxLength": 500},
    "owner_name": TEXT,
    "district": DISTRICT_SCHEMA,
    "kind": {"type": "string", "enum": ["boarding_house", "dormitory"]},
    "concentrated": {
        "type": "boolean",
        "description": "A concentrated lodging site the province introduces (authority only): one enterprise's "
        "workers only (seeds/003). A private boarding house may house several enterprises' workers.",
    },
    "enterprise_id": UUID,
}
ACCOMMODATION = obj(
    with_null(ACCOMMODATION_FIELDS, ("owner_name", "enterprise_id")),
    ["name", "address", "district"],
    examples=[{"name": "Nhà trọ Hương Sen", "address": "Thôn Đông, Vân Trung", "district": "Việt Yên"}],
)
ACCOMMODATION_UPDATE = obj(
    with_null(ACCOMMODATION_FIELDS, ("owner_name", "enterprise_id")), examples=[{"owner_name": "Trần Văn Nam"}]
)
PRODUCT_CODE: Schema = {"type": "string", "minLength": 2, "maxLength": 32, "pattern": r"^[A-Z0-9][A-Z0-9_\-]*$"}
PRODUCT_FIELDS: dict[str, Schema] = {
    "name": TEXT,
    "min_interval_days": {"type": "integer", "minimum": 0, "maximum": 365},
    "doses_in_primary_series": {"type": "integer", "minimum": 1, "maximum": 3},
    "active": {"type": "boolean"},
}
VACCINE_PRODUCT = obj(
    {"code": PRODUCT_CODE, **PRODUCT_FIELDS},
    ["code", "name", "min_interval_days"],
    examples=[{"code": "AZD1222", "name": "AstraZeneca", "min_interval_days": 28, "doses_in_primary_series": 2}],
)
VACCINE_PRODUCT_UPDATE = obj(PRODUCT_FIELDS, examples=[{"min_interval_days": 56}])
DOSE = obj(
    {
        "dose_number": {"type": "integer", "minimum": 1, "maximum": 10},
        "product_code": PRODUCT_CODE,
        "administered_at": INSTANT,
        "site": nullable({"type": "string", "maxLength": 255}),
        "lot": nullable({"type": "string", "maxLength": 64}),
    },
    ["dose_number", "product_code", "administered_at"],
    examples=[{"dose_number": 1, "product_code": "AZD1222", "administered_at": "2021-09-12T09:00:00+07:00"}],
)
SYMPTOM: Schema = {
    "type": "string",
    "enum": ["fever", "cough", "fatigue", "loss_of_taste_or_smell", "breathing_difficulty", "other"],
}
DECLARATION = obj(
    {
        "declared_at": INSTANT,
        "symptoms": {"type": "array", "items": SYMPTOM, "maxItems": 6, "description": "A set: a repeat counts once."},
        "contact_with_confirmed_case": {"type": "boolean", "description": "Contact with an F0."},
        "note": nullable({"type": "string", "maxLength": 1000}),
    },
    ["declared_at"],
    examples=[{"declared_at": "2021-09-15T06:45:00+07:00", "symptoms": ["fever", "cough"]}],
)
TRAVEL = obj(
    {
        "left_at": INSTANT,
        "destination_province": PROVINCE_SCHEMA,
        "returned_at": nullable(INSTANT),
        "returned_to_boarding_house": {"type": "boolean"},
        "to_home_town": {
            "type": "boolean",
            "description": "The trip was to the person's home town (seeds/000 §2.3 'ở quê xuống').",
        },
    },
    ["left_at", "destination_province"],
    examples=[{"left_at": "2021-09-10T17:00:00+07:00", "destination_province": "Hà Nội"}],
)
TRAVEL_RETURN = obj(
    with_null(
        {
            "returned_at": INSTANT,
            "returned_to_boarding_house": {"type": "boolean"},
            "to_home_town": {"type": "boolean"},
        },
        ("returned_at",),
    ),
    examples=[{"returned_at": "2021-09-14T19:00:00+07:00", "returned_to_boarding_house": True}],
)
ACCOMMODATION_MANAGER = obj(
    {"person_id": UUID, "role": {"type": "string", "enum": ["owner", "manager"]}},
    ["person_id"],
    examples=[{"person_id": "0192f3a4-5b6c-7d8e-9fa0-b1c2d3e4f5a6", "role": "owner"}],
)
DISTRICT_RATIO = obj(
    {
        "kind": {
            "type": "string",
            "enum": ["small_enterprise", "boarding_house"],
            "description": "small_enterprise: enterprises outside the parks under 20 workers (seeds/000 §2.2); "
            "boarding_house: random tests of boarding-house renters and owners (§2.3).",
        },
        "ratio": {"type": "number", "exclusiveMinimum": 0, "maximum": 1},
        "effective_from": DATE,
        "note": nullable({"type": "string", "maxLength": 2000}),
    },
    ["kind", "ratio", "effective_from"],
    examples=[{"kind": "small_enterprise", "ratio": 0.3, "effective_from": "2021-09-20", "note": "Quyết định số …"}],
)
CHECKIN = obj(
    {"qr_code": {"type": "string", "minLength": 1, "maxLength": 128}, "checked_in_at": INSTANT},
    ["qr_code", "checked_in_at"],
    examples=[{"qr_code": "SW-7f3e1c2d", "checked_in_at": "2021-09-15T07:02:00+07:00"}],
)
# The scheduler's bound on a day's doses (vaccines/rules.py MAX_DAILY_CAPACITY).
DOSES_A_DAY: Schema = {"type": "integer", "minimum": 1, "maximum": 10_000_000}
VACCINE_PLAN = obj(
    {
        "daily_capacity": {
            "oneOf": [
                DOSES_A_DAY,
                {
                    "type": "object",
                    "minProperties": 1,
                    "propertyNames": DISTRICT_SCHEMA,
                    "additionalProperties": DOSES_A_DAY,
                },
            ],
            "description": "Doses a day: province-wide (a number) or per district (district: number; a district "
            "authority names its own only).",
        },
        "start": nullable({**DATE, "description": "Default: the local date of as_of."}),
        "end": nullable({**DATE, "description": "Inclusive. Default: 30 days past the last deadline."}),
        "as_of": nullable(INSTANT),
        "product_code": nullable({"type": "string", "description": "Product for new dose 1s."}),
    },
    ["daily_capacity"],
    examples=[{"daily_capacity": 20000, "start": "2021-09-15"}, {"daily_capacity": {"Việt Yên": 8000}}],
)


# Outbreak response (issue 14): cases, declared contacts, isolation rooms.
CASE_CREATE = obj(
    {
        "person_id": UUID,
        "result_id": nullable({"type": "integer", "minimum": 1}),
        "confirmed": {"type": "boolean"},
        "isolated_at": nullable(INSTANT),
        "at": nullable(INSTANT),
    },
    ["person_id"],
    examples=[{"person_id": "7f0c2a4e-8d51-4c0e-9a51-3b1d2f0e6a10", "isolated_at": "2021-09-21T00:00:00+07:00"}],
)
CASE_CLOSE = obj({"at": nullable(INSTANT)}, examples=[{"at": "2021-10-05T00:00:00+07:00"}])
DECLARED_CONTACTS = obj(
    {"person_ids": {"type": "array", "items": UUID, "minItems": 1, "maxItems": 1000}, "at": nullable(INSTANT)},
    ["person_ids"],
    examples=[{"person_ids": ["7f0c2a4e-8d51-4c0e-9a51-3b1d2f0e6a10"]}],
)
ISOLATION_FACILITY = obj(
    {
        "name": TEXT,
        "address": {"type": "string", "minLength": 1, "maxLength": 500},
        "district": DISTRICT_SCHEMA,
        "rooms": {
            "type": "array",
            "minItems": 1,
            "maxItems": 1000,
            "items": obj(
                {
                    "code": {"type": "string", "minLength": 1, "maxLength": 32},
                    "capacity": {"type": "integer", "minimum": 1, "maximum": 500},
                },
                ["code", "capacity"],
            ),
        },
    },
    ["name", "address", "district", "rooms"],
    examples=[{"name": "KTX Đại học Nông Lâm", "address": "Bích Sơn", "district": "Việt Yên",
               "rooms": [{"code": "A101", "capacity": 4}]}],
)  # fmt: skip
ISOLATION_ASSIGNMENT = obj(
    {"room_id": UUID, "person_id": UUID, "at": nullable(INSTANT)},
    ["room_id", "person_id"],
    examples=[{"room_id": "0b7e1c1e-1111-4c0e-9a51-3b1d2f0e6a10", "person_id": "7f0c2a4e-8d51-4c0e-9a51-3b1d2f0e6a10"}],
)
ISOLATION_SUGGEST = obj(
    {"person_ids": {"type": "array", "items": UUID, "minItems": 1, "maxItems": 1000}, "as_of": nullable(INSTANT)},
    ["person_ids"],
    examples=[{"person_ids": ["7f0c2a4e-8d51-4c0e-9a51-3b1d2f0e6a10"]}],
)
