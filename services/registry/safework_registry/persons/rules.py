"""Rules on a person's whole record, checked after merging what was sent with what is stored
(single writes and roster items alike). Pure: no I/O."""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from datetime import datetime, timedelta
from typing import Any

from safework_registry.validation import FUTURE_SKEW

# Not in the source: how far ahead an arrival may be planned (a guard against typed years).
PLANNED_ARRIVAL_HORIZON = timedelta(days=366)

# The columns a request may set (the national ID is handled apart: hash, ciphertext, last 4).
PERSON_FIELDS = (
    "full_name",
    "date_of_birth",
    "sex",
    "phone",
    "home_province",
    "job_role",
    "enterprise_id",
    "employee_code",
    "hire_date",
    "arrived_from_province",
    "arrived_at",
    "accommodation_id",
    "high_risk",
    "high_risk_reason",
    "high_risk_until",
    "status",
    "left_at",
)
# What belongs to one employment; a person joining another enterprise starts these afresh.
EMPLOYMENT_FIELDS = ("job_role", "hire_date", "accommodation_id", "status", "left_at")


class RuleViolation(Exception):
    """A rule broken by the merged record; ``field`` names the input to fix."""

    def __init__(self, code: str, message: str, field: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.field = field


def settle(values: dict[str, Any], sent: Collection[str], now: datetime) -> None:
    """Complete and check a merged person record in place.

    - status ``left`` needs a time it happened (default now); ``active`` has none (an explicit
      ``left_at`` with ``active`` is an error; a stored one is cleared on return);
    - a high-risk flag needs its reason (seeds/000 §2.2 (1): high-risk people test every 3
      days); without the flag, reason and until are cleared (sending them is an error);
    - new hires from another province give both where from and when (seeds/000 §2.2 (2));
    - no leaving in the future; an arrival may be planned (registered ahead of time, so the
      pre-arrival PCR of seeds/000 §2.2 (2) can be checked before the person comes), up to
      ``PLANNED_ARRIVAL_HORIZON`` ahead; no hire before birth;
    - a person of an enterprise has an employee code (the roster matches on it).
    """
    if values.get("enterprise_id") is not None and values.get("employee_code") is None:
        raise RuleViolation(
            "employee_code_required", "A person of an enterprise has an employee code.", "employee_code"
        )
    if values["status"] == "left":
        if values.get("left_at") is None:
            values["left_at"] = now
    elif values.get("left_at") is not None:
        if "left_at" in sent:
            raise RuleViolation("left_at_without_left_status", "left_at goes with status 'left'.", "left_at")
        values["left_at"] = None
    if values.get("left_at") is not None and values["left_at"] > now + FUTURE_SKEW:
        raise RuleViolation("left_in_future", "The leaving time is in the future.", "left_at")
    if values["high_risk"]:
        if values.get("high_risk_reason") is None:
            raise RuleViolation("high_risk_reason_required", "A high-risk flag needs a reason.", "high_risk_reason")
    else:
        for name in ("high_risk_reason", "high_risk_until"):
            if values.get(name) is not None:
                if name in sent:
                    raise RuleViolation("high_risk_flag_required", f"{name} goes with high_risk true.", name)
                values[name] = None
    arrived_from, arrived_at = values.get("arrived_from_province"), values.get("arrived_at")
    if (arrived_from is None) != (arrived_at is None):
        missing = "arrived_at" if arrived_at is None else "arrived_from_province"
        raise RuleViolation(
            "arrival_incomplete", "A new hire from another province gives where from and when.", missing
        )
    if arrived_at is not None and arrived_at > now + PLANNED_ARRIVAL_HORIZON:
        raise RuleViolation(
            "arrived_in_future", "A planned arrival is at most a year ahead; this one is later.", "arrived_at"
        )
    hire_date = values.get("hire_date")
    if hire_date is not None and hire_date < values["date_of_birth"]:
        raise RuleViolation("hire_date_before_birth", "The hire date is before the date of birth.", "hire_date")


def merge(
    stored: Mapping[str, Any] | None,
    sent_values: Mapping[str, Any],
    sent: Collection[str],
    *,
    new_membership: bool,
) -> dict[str, Any]:
    """The record after a write: a new person takes every value (defaults included); an
    update changes only the fields sent; a person joining another enterprise keeps personal
    data but starts employment fields afresh."""
    if stored is None:
        return {name: sent_values.get(name) for name in PERSON_FIELDS}
    values = {name: stored[name] for name in PERSON_FIELDS}
    if new_membership:
        for name in EMPLOYMENT_FIELDS:
            values[name] = sent_values.get(name)
    for name in sent:
        if name in values:
            values[name] = sent_values[name]
    return values


def changed_fields(
    stored: Mapping[str, Any], values: Mapping[str, Any], names: Iterable[str] = PERSON_FIELDS
) -> list[str]:
    return [name for name in names if stored[name] != values[name]]


def next_cohorts(sizes: tuple[int, int], joining_active: Iterable[bool]) -> list[int]:
    """Test cohorts for people joining an enterprise, in order: each goes to the smaller half,
    ties to 0 (seeds/000 §2.2 (3): alternate 50% rounds; a person keeps their half for good).
    Only active joiners count towards the halves."""
    counts = [sizes[0], sizes[1]]
    out = []
    for active in joining_active:
        cohort = 0 if counts[0] <= counts[1] else 1
        out.append(cohort)
        if active:
            counts[cohort] += 1
    return out
