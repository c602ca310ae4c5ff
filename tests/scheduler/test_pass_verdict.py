"""The gate pass's one read (issue 17): ``GET /v1/persons/{id}/pass-verdict`` answers the verdict
of ``/due`` with what the pass is signed with (employer, status, masked name, the next window's
end), in the same tenant scope, read from the primary (``SCHEDULER_PRIMARY_DATABASE_URL``)."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
from fastapi import FastAPI

from safework_common.internal_auth import InternalTokenMinter
from safework_common.passes.holder import mask_name
from safework_scheduler.settings import SchedulerSettings
from tests.callers import PROVINCE, As, district_authority, enterprise, lab, worker
from tests.conftest import running
from tests.scheduler.factories import registry
from tests.scheduler.test_due_api import VIET_YEN, YEN_DUNG, Park, vaccinated
from tests.support import apps
from tests.support.routes import templates_matching

AS_OF = {"as_of": "2021-09-13T10:00:00+07:00"}


async def test_the_verdict_of_due_with_what_a_pass_is_signed_with(
    db: str, scheduler: httpx.AsyncClient, minter: InternalTokenMinter
) -> None:
    park = Park()
    async with registry(db) as reg:
        await park.build(reg)
        left = await vaccinated(reg, park.id, status="left")
        await reg.conn.execute("UPDATE person SET full_name = 'Nguyễn Thị Hoa' WHERE id = $1", park.due_a)
    as_ = As(scheduler, minter)

    r = await as_(worker(park.due_a, park.id)).get(f"/v1/persons/{park.due_a}/pass-verdict", params=AS_OF)
    assert r.status_code == 200, r.text
    assert r.json() == {
        "person_id": str(park.due_a),
        "enterprise_id": str(park.id),
        "status": "active",
        "as_of": "2021-09-13T10:00:00+07:00",
        "policy_version": "2021-09-11",
        "cleared_to_work": True,
        "not_cleared": [],
        "masked_name": "N***** T** H**",
        "next_window_end": "2021-09-20T00:00:00+07:00",  # the round's window (13-19 Sep) ends
    }
    # Everyone's verdict is the /due route's, reasons and all.
    for pid in (park.later_b, park.done_c, park.sick_d, park.unvax_f, park.positive_h, left):
        caller = enterprise(park.id)
        verdict = (await as_(caller).get(f"/v1/persons/{pid}/pass-verdict", params=AS_OF)).json()
        due = (await as_(caller).get(f"/v1/persons/{pid}/due", params=AS_OF)).json()
        assert (verdict["cleared_to_work"], verdict["not_cleared"]) == (due["cleared_to_work"], due["not_cleared"])
        assert verdict["enterprise_id"] == str(park.id) and verdict["masked_name"].count("*") > 0
    sick = (await as_(PROVINCE).get(f"/v1/persons/{park.sick_d}/pass-verdict", params=AS_OF)).json()
    assert sick["cleared_to_work"] is False and sick["not_cleared"], sick
    assert (await as_(PROVINCE).get(f"/v1/persons/{left}/pass-verdict", params=AS_OF)).json()["status"] == "left"
    # Nothing but the verdict: no national ID, no results, no name in full.
    assert "Hoa" not in r.text and "national_id" not in r.text and "results" not in r.text


async def test_another_tenants_person_is_not_found(
    db: str, scheduler: httpx.AsyncClient, minter: InternalTokenMinter
) -> None:
    """The tenant scope of ``GET /v1/persons/{id}/due``, exactly."""
    park = Park()
    async with registry(db) as reg:
        await park.build(reg)
        other = await reg.enterprise(district=YEN_DUNG)
        stranger = await vaccinated(reg, other)
    as_ = As(scheduler, minter)
    url = f"/v1/persons/{park.due_a}/pass-verdict"
    for caller in (worker(park.due_a, park.id), PROVINCE, enterprise(park.id), district_authority(VIET_YEN)):
        assert (await as_(caller).get(url, params=AS_OF)).status_code == 200, caller
    for caller in (worker(stranger), worker(park.later_b, park.id), enterprise(other), district_authority(YEN_DUNG)):
        r = await as_(caller).get(url, params=AS_OF)
        assert r.status_code == 404 and r.json()["error"]["code"] == "person_not_found", caller
    r = await as_(lab(uuid.uuid4())).get(url, params=AS_OF)
    assert r.status_code == 403 and r.json()["error"]["code"] == "role_not_allowed"
    r = await as_(PROVINCE).get(f"/v1/persons/{uuid.uuid4()}/pass-verdict", params=AS_OF)
    assert r.status_code == 404 and r.json()["error"]["code"] == "person_not_found"
    r = await as_(PROVINCE).get("/v1/persons/not-a-uuid/pass-verdict", params=AS_OF)
    assert r.status_code == 422
    r = await as_(PROVINCE).get(url, params={"asof": AS_OF["as_of"]})
    assert r.status_code == 422 and r.json()["error"]["code"] == "unknown_query_parameter"
    assert (await scheduler.get(url, params=AS_OF)).status_code == 401  # no internal token


async def test_it_reads_the_primary_whatever_the_scheduler_reads(
    db: str, common_settings: dict[str, Any], minter: InternalTokenMinter
) -> None:
    """With ``SCHEDULER_DATABASE_URL`` on a database it cannot reach (a replica down), the pass
    verdict still answers from ``SCHEDULER_PRIMARY_DATABASE_URL``; the other reads do not."""
    park = Park()
    async with registry(db) as reg:
        await park.build(reg)
    nowhere = "postgresql://postgres@127.0.0.1:1/nowhere"
    app = apps.scheduler(SchedulerSettings(database_url=nowhere, primary_database_url=db, **common_settings))
    async with running(app) as client:
        as_ = As(client, minter)
        r = await as_(PROVINCE).get(f"/v1/persons/{park.due_a}/pass-verdict", params=AS_OF)
        assert r.status_code == 200 and r.json()["cleared_to_work"] is True, r.text
        assert (await as_(PROVINCE).get(f"/v1/persons/{park.due_a}/due", params=AS_OF)).status_code >= 500


def test_no_other_route_takes_the_path_served_ahead_of_the_routers(scheduler_app: FastAPI) -> None:
    """The pass verdict is matched before every other route: harmless only while no other route
    (any method) matches its path."""
    path = f"/v1/persons/{uuid.uuid4()}/pass-verdict"
    taking = templates_matching(scheduler_app, path)
    assert taking == ["/v1/persons/{person_id}/pass-verdict"]
    # ... and it is the app's own route, matched directly (``upstream_route``), not in a router.
    assert any(getattr(r, "path", None) == taking[0] for r in scheduler_app.routes)


def test_the_masked_name() -> None:
    assert mask_name("Trần Văn Nam") == "T*** V** N**"
    assert mask_name("  Hoa  ") == "H**"
    assert mask_name("") == "*"
