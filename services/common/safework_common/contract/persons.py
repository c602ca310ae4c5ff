"""Person and roster bodies. Field rules (DOMAIN.md "Who uses the system", issue "Registry
service"): national ID validated and never echoed in clear except to the authority; phone a
Vietnamese mobile number stored in one form; dates of birth of a plausible worker."""

from __future__ import annotations

import re
import uuid
from datetime import date
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, AwareDatetime, BaseModel, ConfigDict, Field, StringConstraints, WithJsonSchema
from pydantic_core import PydanticCustomError

from safework_common import geo
from safework_common.contract import national_id as nid
from safework_common.contract.fields import MAX_BATCH_ITEMS, Instant, NotNull
from safework_common.timezone import now_local

# seeds/003: drivers and driver's assistants carrying an enterprise's goods (tier 1 for vaccines)
# are told apart from passenger-shuttle drivers (not tier 1).
JobRole = Literal["worker", "manager", "expert", "freight_driver", "freight_driver_assistant", "shuttle_driver"]
Sex = Literal["male", "female", "other"]
PersonStatus = Literal["active", "left"]
Outcome = Literal["created", "updated", "unchanged", "rejected"]

# Labour Code 2019 art. 143-145: under 15 only listed light work, never industrial production.
MIN_WORKING_AGE = 15
EARLIEST_BIRTH = date(1900, 1, 1)

# Vietnamese mobile numbers (since the 2018 renumbering): 10 digits, 03/05/07/08/09 + 8 digits.
_MOBILE = re.compile(r"^0[35789][0-9]{8}$")


def _national_id(value: str) -> str:
    try:
        return nid.normalize(value)
    except nid.InvalidNationalId as exc:
        raise PydanticCustomError(
            "invalid_national_id", "Not a valid national ID: {reason}.", {"reason": str(exc)}
        ) from None


def normalize_phone(value: str) -> str:
    """``0912 345 678``, ``+84 912 345 678`` and ``84912345678`` all become ``0912345678``: the
    10-digit domestic form, the one people write and the seeded data uses."""
    digits = re.sub(r"[\s.\-()]", "", value)
    if digits.startswith("+84"):
        digits = "0" + digits[3:]
    elif digits.startswith("84") and len(digits) == 11:
        digits = "0" + digits[2:]
    if not _MOBILE.match(digits):
        raise PydanticCustomError(
            "invalid_phone", "A mobile number is 10 digits starting 03, 05, 07, 08 or 09 (or the +84 form)."
        )
    return digits


def _age_on(birth: date, day: date) -> int:
    return day.year - birth.year - ((day.month, day.day) < (birth.month, birth.day))


def _date_of_birth(value: date) -> date:
    """Not in the future, not before 1900, and at least the minimum working age today."""
    today = now_local().date()
    if value > today:
        raise PydanticCustomError("date_of_birth_in_future", "The date of birth is in the future.")
    if value < EARLIEST_BIRTH:
        raise PydanticCustomError("date_of_birth_too_early", "The date of birth is before 1900.")
    if _age_on(value, today) < MIN_WORKING_AGE:
        raise PydanticCustomError(
            "under_working_age", "A worker is at least {age} years old.", {"age": MIN_WORKING_AGE}
        )
    return value


NationalId = Annotated[
    str,
    StringConstraints(min_length=1, max_length=32),
    AfterValidator(_national_id),
    WithJsonSchema({"type": "string", "pattern": r"^([0-9]{12}|[0-9]{9})$", "examples": ["024190001234"]}),
]
Phone = Annotated[str, StringConstraints(min_length=1, max_length=20), AfterValidator(normalize_phone)]
DateOfBirth = Annotated[date, AfterValidator(_date_of_birth)]
FullName = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=255)]
# A province of 2021, validated and stored in its canonical spelling (``safework_common.geo``):
# "Tỉnh Bắc Giang" or "TP Bắc Giang" is Bắc Giang, not another province; "Atlantis" is refused.
Province = geo.Province
EmployeeCode = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=64, pattern=r"^[^\x00-\x1f\x7f]+$")
]
Reason = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=2000)]

PERSON_EXAMPLE: dict[str, Any] = {
    "national_id": "024190001234",
    "full_name": "Nguyễn Thị Hoa",
    "date_of_birth": "1995-03-08",
    "sex": "female",
    "phone": "0912345678",
    "home_province": "Bắc Giang",
    "job_role": "worker",
    "employee_code": "VY-00123",
    "hire_date": "2019-06-01",
}
NEW_HIRE_EXAMPLE: dict[str, Any] = {
    "national_id": "036195004321",
    "full_name": "Trần Văn Nam",
    "date_of_birth": "1998-11-20",
    "sex": "male",
    "phone": "+84 987 654 321",
    "home_province": "Nam Định",
    "job_role": "worker",
    "employee_code": "VY-04501",
    "hire_date": "2021-09-12",
    "arrived_from_province": "Nam Định",
    "arrived_at": "2021-09-12T07:30:00+07:00",
}


class PersonFields(BaseModel):
    """What a person record holds, as sent by the authority or the enterprise."""

    model_config = ConfigDict(extra="forbid")

    national_id: NationalId = Field(description="12-digit citizen ID (CCCD) or 9-digit old ID (CMND).")
    full_name: FullName
    date_of_birth: DateOfBirth
    sex: Sex
    phone: Phone | None = Field(default=None, description="Stored as the 10-digit domestic form.")
    home_province: Province | None = None
    job_role: JobRole = "worker"
    hire_date: date | None = None
    arrived_from_province: Province | None = Field(
        default=None, description="New hires from another province (seeds/000 §2.2): where from."
    )
    arrived_at: AwareDatetime | None = Field(default=None, description="New hires: when they arrived.")
    accommodation_id: uuid.UUID | None = None
    high_risk: bool = False
    high_risk_reason: Reason | None = None
    high_risk_until: AwareDatetime | None = None
    status: PersonStatus = "active"
    left_at: AwareDatetime | None = Field(default=None, description="With status `left`; default now.")


class PersonCreate(PersonFields):
    """A person. With ``enterprise_id`` (an enterprise caller may omit it: its own) the
    ``employee_code`` is required and unique within the enterprise."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [PERSON_EXAMPLE]})

    enterprise_id: uuid.UUID | None = None
    employee_code: EmployeeCode | None = None


class RosterItem(PersonFields):
    """One person of a roster upsert, matched by ``employee_code`` within the enterprise. On an
    update only the fields sent change."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [PERSON_EXAMPLE]})

    employee_code: EmployeeCode


class PersonUpdate(BaseModel):
    """Fields to change; those left out keep their value, ``null`` clears an optional one.
    ``enterprise_id`` may be changed by the authority only."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"phone": "0387654321", "high_risk": True, "high_risk_reason": "F1"}]},
    )

    national_id: NotNull[NationalId] = None
    full_name: NotNull[FullName] = None
    date_of_birth: NotNull[DateOfBirth] = None
    sex: NotNull[Sex] = None
    phone: Phone | None = None
    home_province: Province | None = None
    job_role: NotNull[JobRole] = None
    enterprise_id: uuid.UUID | None = None
    employee_code: EmployeeCode | None = None
    hire_date: date | None = None
    arrived_from_province: Province | None = None
    arrived_at: AwareDatetime | None = None
    accommodation_id: uuid.UUID | None = None
    high_risk: NotNull[bool] = None
    high_risk_reason: Reason | None = None
    high_risk_until: AwareDatetime | None = None
    status: NotNull[PersonStatus] = None
    left_at: AwareDatetime | None = None


class PersonOut(BaseModel):
    """A person as the caller may see them: ``national_id`` is in full for the authority and
    masked (``********1234``) for everyone else."""

    id: uuid.UUID
    national_id: str
    full_name: str
    date_of_birth: date
    sex: Sex
    phone: str | None
    home_province: str | None
    job_role: JobRole
    enterprise_id: uuid.UUID | None
    employee_code: str | None
    hire_date: date | None
    arrived_from_province: str | None
    arrived_at: Instant | None
    accommodation_id: uuid.UUID | None
    high_risk: bool
    high_risk_reason: str | None
    high_risk_until: Instant | None
    status: PersonStatus
    left_at: Instant | None
    test_cohort: int = Field(description="The half tested together in alternating 50% rounds (seeds/000 §2.2).")
    created_at: Instant
    updated_at: Instant


class LookupRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"national_id": "024190001234"}]})

    national_id: NationalId


def _item_schema() -> dict[str, Any]:
    schema = RosterItem.model_json_schema()
    schema.pop("examples", None)
    return schema


class RosterUpsert(BaseModel):
    """Up to ``REGISTRY_MAX_BATCH_ITEMS`` (10,000) people. Each item is validated on its own: a
    bad item is rejected in the answer and the others go ahead."""

    model_config = ConfigDict(extra="forbid")

    items: Annotated[
        list[Any],
        WithJsonSchema({"type": "array", "items": _item_schema(), "minItems": 1, "maxItems": MAX_BATCH_ITEMS}),
    ]


class ItemError(BaseModel):
    field: str | None = None
    code: str
    message: str


class RosterItemResult(BaseModel):
    index: int = Field(description="Position of the item in the request.")
    employee_code: str | None = None
    outcome: Outcome
    person_id: uuid.UUID | None = None
    moved: bool = Field(
        default=False, description="A person who had left another enterprise (or had none) joined this roster."
    )
    code: str | None = None
    message: str | None = None
    field: str | None = None
    errors: list[ItemError] = []
    row: int | None = Field(
        default=None, exclude_if=lambda v: v is None, description="A file upload: the spreadsheet row (header = 1)."
    )
    column: str | None = Field(
        default=None, exclude_if=lambda v: v is None, description="A file upload: the header of the offending column."
    )


class RosterCounts(BaseModel):
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    rejected: int = 0


class RosterResult(BaseModel):
    enterprise_id: uuid.UUID
    counts: RosterCounts
    items: list[RosterItemResult]
