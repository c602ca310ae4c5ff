"""The policy routes: the history of versions and the one in force at an instant (any
authenticated caller may read them; the gateway reads the sanctioned app list here)."""

from __future__ import annotations

import uuid
from pathlib import Path

import asyncpg
import httpx
import pytest
import yaml

from safework_cli.policy import load_policies
from safework_common.internal_auth import InternalTokenMinter
from safework_scheduler.policy.files import VERSIONS_DIR
from tests.callers import PROVINCE, As, enterprise, lab, worker


async def test_every_version_with_the_dates_it_is_in_force(
    db: str, scheduler: httpx.AsyncClient, minter: InternalTokenMinter
) -> None:
    r = await As(scheduler, minter)(lab(uuid.uuid4())).get("/v1/policies")
    assert r.status_code == 200, r.text
    items = r.json()["items"]
    assert [(i["version"], i["effective_from"], i["effective_until"]) for i in items] == [
        ("2021-05-13", "2021-05-13", "2021-06-24"),
        ("2021-06-24", "2021-06-24", "2021-07-20"),
        ("2021-07-20", "2021-07-20", "2021-09-11"),
        ("2021-09-11", "2021-09-11", "2021-11-01"),
        ("2021-11-01", "2021-11-01", None),
    ]
    assert all(len(i["sha256"]) == 64 for i in items)
    sept = items[3]
    assert items[4]["document"]["single_app"]["enforced_zone_types"] == ["KCN", "CCN", "OUTSIDE"]
    assert sept["document"]["testing"]["routine"]["share"] == 0.5
    assert sept["source"].startswith("seeds/000")
    # DOMAIN.md: every value the seeds do not give is visible as "not in the source".
    params = {p["path"]: p for p in sept["parameters"]}
    assert params["testing.routine.share"]["in_source"] is True
    assert params["testing.routine.share"]["value"] == 0.5
    assert "50%" in params["testing.routine.share"]["source"]
    assert params["testing.overdue_grace_hours"]["in_source"] is False
    assert params["testing.overdue_grace_hours"]["source"].startswith("not in the source")
    july = {p["path"]: p for p in items[2]["parameters"]}
    assert july["testing.routine.round_days"]["in_source"] is False


@pytest.mark.parametrize(
    ("rule", "as_of", "version"),
    [
        ("the July plan the evening before", "2021-09-10T23:00:00+07:00", "2021-07-20"),
        ("seeds/000 from local midnight of 11 Sep (17:00 UTC the day before)", "2021-09-10T17:00:00Z", "2021-09-11"),
        ("seeds/000 still in force at the end of October", "2021-10-31T23:00:00+07:00", "2021-09-11"),
        (
            "seeds/000 §2.4 'sau đó': enforced outside the parks from 1 November",
            "2021-11-01T08:00:00+07:00",
            "2021-11-01",
        ),
    ],
)
async def test_the_version_in_force_at_an_instant(
    db: str, scheduler: httpx.AsyncClient, minter: InternalTokenMinter, rule: str, as_of: str, version: str
) -> None:
    r = await As(scheduler, minter)(worker(uuid.uuid4())).get("/v1/policies/active", params={"as_of": as_of})
    assert r.status_code == 200, rule
    body = r.json()
    assert body["version"] == version, rule
    assert body["document"]["single_app"]["sanctioned_app_ids"] == ["vn.gov.bluezone"]


async def test_active_policy_refuses_naive_instants_and_dates_before_any_version(
    db: str, scheduler: httpx.AsyncClient, minter: InternalTokenMinter
) -> None:
    as_ = As(scheduler, minter)(enterprise(uuid.uuid4()))
    r = await as_.get("/v1/policies/active", params={"as_of": "2021-09-12T08:00:00"})
    assert r.status_code == 422 and r.json()["error"]["details"][0]["field"] == "query.as_of"
    r = await as_.get("/v1/policies/active", params={"as_of": "2021-05-12T08:00:00+07:00"})
    assert r.status_code == 404 and r.json()["error"]["code"] == "no_policy_in_force"
    assert (await as_.get("/v1/policies/active")).json()["version"] == "2021-11-01"  # now


async def test_a_new_version_takes_effect_on_its_date_without_a_redeploy(
    db: str, scheduler: httpx.AsyncClient, minter: InternalTokenMinter, tmp_path: Path
) -> None:
    raw = yaml.safe_load((VERSIONS_DIR / "2021-09-11.yaml").read_text())
    raw.update(version="2021-12-01", effective_from="2021-12-01", source="test: a later conclusion")
    raw["testing"]["unvaccinated_interval_days"] = 2
    (tmp_path / "2021-12-01.yaml").write_text(yaml.safe_dump(raw, allow_unicode=True))
    assert await load_policies(db, tmp_path) == ["2021-12-01"]
    try:
        as_ = As(scheduler, minter)(PROVINCE)
        before = await as_.get("/v1/policies/active", params={"as_of": "2021-11-30T23:59:00+07:00"})
        after = await as_.get("/v1/policies/active", params={"as_of": "2021-12-01T00:00:00+07:00"})
        assert (before.json()["version"], after.json()["version"]) == ("2021-11-01", "2021-12-01")
        history = (await as_.get("/v1/policies")).json()["items"]
        assert [i["effective_until"] for i in history] == [
            "2021-06-24",
            "2021-07-20",
            "2021-09-11",
            "2021-11-01",
            "2021-12-01",
            None,
        ]
    finally:
        conn = await asyncpg.connect(db)
        try:
            await conn.execute("DELETE FROM scheduler_policy WHERE version = '2021-12-01'")
        finally:
            await conn.close()
