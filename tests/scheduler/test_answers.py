"""The scheduler answers its typed contract models (issue 15). Its big lists are made without a
second validation and written with orjson (``safework_common.answers``); every such answer must
be exactly what its model says: it validates against the model, and pydantic writes the model
back to the same JSON (instants at +07:00, ids, dates, codes)."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, date, datetime, timedelta
from typing import Any

import httpx
import pytest
from pydantic import BaseModel

from safework_common.answers import dumps, trusted, trusted_each
from safework_common.contract.compliance import ComplianceOut, ViolationsOut
from safework_common.contract.due import (
    DuePersonOut,
    EnterpriseDueOut,
    PersonDueOut,
    ProvinceDueOut,
    ProvincePeopleOut,
)
from safework_common.internal_auth import InternalTokenMinter
from safework_common.timezone import LOCAL_TZ
from tests.callers import PROVINCE, As
from tests.scheduler.factories import registry
from tests.scheduler.test_due_api import YEN_DUNG, Park, monday_enterprise


def _same_as_its_model(model: type[BaseModel], r: httpx.Response) -> None:
    assert r.status_code == 200, r.text
    typed = model.model_validate_json(r.content)
    assert json.loads(typed.model_dump_json()) == r.json(), model.__name__


async def test_every_list_answer_is_its_contract_model(
    db: str, scheduler: httpx.AsyncClient, minter: InternalTokenMinter
) -> None:
    park = Park()
    async with registry(db) as reg:
        await park.build(reg)
        other = await reg.enterprise(district=YEN_DUNG, enterprise_id=monday_enterprise(2))
        await reg.person(other, cohort=0, employee_code="Z")
        small = await reg.enterprise(district="Lục Nam", zone_type="OUTSIDE")
        for _ in range(3):
            await reg.person(small)
    as_ = As(scheduler, minter)(PROVINCE)
    end_of_15 = "2021-09-15T23:59:59.999999+07:00"
    for day in ("2021-09-13", "2021-09-15"):
        for eid in (park.id, other, small):
            r = await as_.get(f"/v1/enterprises/{eid}/due", params={"date": day})
            _same_as_its_model(EnterpriseDueOut, r)
        assert r.json()["round"]["district_ratio"] is not None  # the small enterprise's sample
    _same_as_its_model(ProvinceDueOut, await as_.get("/v1/due", params={"as_of": end_of_15}))
    for status in ("due", "overdue", "not_cleared"):
        r = await as_.get("/v1/due/people", params={"as_of": end_of_15, "status": status, "limit": 2})
        _same_as_its_model(ProvincePeopleOut, r)
    _same_as_its_model(ComplianceOut, await as_.get(f"/v1/enterprises/{park.id}/compliance"))
    for status in ("violation", "warning"):
        r = await as_.get("/v1/compliance/violations", params={"as_of": end_of_15, "status": status})
        _same_as_its_model(ViolationsOut, r)
        assert r.json()["items"] or status == "warning"  # the park without the app is in violation
    _same_as_its_model(PersonDueOut, await as_.get(f"/v1/persons/{park.sick_d}/due", params={"as_of": end_of_15}))


def _person(**overrides: Any) -> dict[str, Any]:
    at = datetime(2021, 9, 13, 8, 30, 0, 1234, tzinfo=LOCAL_TZ)
    values: dict[str, Any] = {
        "window_start": at,
        "window_end": at + timedelta(days=7),
        "window_done": False,
        "person_id": uuid.uuid4(),
        "employee_code": "NV-1",
        "full_name": "Nguyễn Văn A",
        "test_cohort": 1,
        "due_today": True,
        "due_at": at,
        "kind": "EITHER",
        "reasons": ["ROUTINE_COHORT"],
        "payer": None,
        "overdue": False,
        "cleared_to_work": True,
        "not_cleared": [],
        "flags": [],
        "contact_case_id": None,
    }
    values.update(overrides)
    return values


def test_a_trusted_instance_is_the_validated_one() -> None:
    values = _person()
    made = trusted(DuePersonOut, dict(values))
    assert made == DuePersonOut.model_validate(values)
    assert made.model_fields_set == set(DuePersonOut.model_fields)
    assert trusted_each(DuePersonOut, [dict(values), dict(values)]) == [made, made]
    assert made.model_copy() == made


@pytest.mark.parametrize("people", [0, 1, 3])
def test_dumps_writes_what_pydantic_writes(people: int) -> None:
    """Nested models (the round, the counts) and lists of them, written in one orjson pass: the
    same JSON as the model's own ``model_dump_json``."""
    answer = EnterpriseDueOut.model_validate(
        {
            "enterprise_id": uuid.uuid4(),
            "date": date(2021, 9, 13),
            "as_of": datetime(2021, 9, 13, 23, 59, 59, 999999, tzinfo=LOCAL_TZ),
            "policy_version": "2021-09-11",
            "round": {"mode": "COHORT", "reason": "ROUTINE_COHORT", "share": 0.5, "index": 36,
                      "starts_on": date(2021, 9, 13), "ends_on": date(2021, 9, 19), "cohort_due": 0,
                      "sample_size": 6, "district_ratio": {"district": "Lục Nam", "ratio": 0.2, "set_by": None,
                                                           "effective_from": None, "default": True}},
            "counts": {"people": 6, "due": 2, "overdue": 0, "not_cleared": 2},
            "people": [_person(employee_code=f"NV-{i}") for i in range(people)],
        }
    )  # fmt: skip
    assert json.loads(dumps(answer)) == json.loads(answer.model_dump_json())


def test_dumps_refuses_what_is_not_a_wire_value() -> None:
    """A value the contract does not know (an instant in another zone would be written as it is,
    so the service localises; anything orjson cannot write is an error, not ``str()``)."""
    bad = trusted(DuePersonOut, _person(employee_code=object()))
    with pytest.raises(TypeError):
        dumps(bad)
    utc = trusted(DuePersonOut, _person(due_at=datetime(2021, 9, 13, 1, 30, tzinfo=UTC)))
    assert json.loads(dumps(utc))["due_at"] == "2021-09-13T01:30:00+00:00"  # why the service localises
