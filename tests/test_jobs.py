"""Periodic jobs (`safework jobs run`): retention on its schedule, one runner at a time (a
PostgreSQL advisory lock), each run reported in the logs and the metrics."""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime, time, timedelta
from typing import Any

import asyncpg
import pytest
from prometheus_client import REGISTRY

from safework_cli.jobs import Job, JobsSettings, daily_at, default_jobs, every, run_once, serve
from safework_common.locks import lock_key, try_lock
from safework_common.settings import plain_pg_url
from safework_common.timezone import LOCAL_TZ, now_local


def runs(job: str, outcome: str) -> float:
    return REGISTRY.get_sample_value("safework_job_runs_total", {"job": job, "outcome": outcome}) or 0.0


@pytest.mark.parametrize(
    ("now", "at", "expected"),
    [
        ("2021-09-15T01:00", time(3, 0), "2021-09-15T03:00"),  # later today
        ("2021-09-15T03:00", time(3, 0), "2021-09-16T03:00"),  # exactly now: the next day
        ("2021-09-15T22:30", time(3, 0), "2021-09-16T03:00"),  # tomorrow
        ("2021-12-31T23:59", time(0, 0), "2022-01-01T00:00"),  # across the year
    ],
)
def test_daily_schedule_is_local_time(now: str, at: time, expected: str) -> None:
    instant = datetime.fromisoformat(now).replace(tzinfo=LOCAL_TZ)
    assert daily_at(at)(instant) == datetime.fromisoformat(expected).replace(tzinfo=LOCAL_TZ)
    # The same instant given in UTC: still the province's clock.
    assert daily_at(at)(instant.astimezone(datetime.now().astimezone().tzinfo)) == daily_at(at)(instant)


def test_settings_read_the_schedule(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("JOBS_RETENTION_AT", "02:30")
    settings = JobsSettings()
    assert settings.retention_at == time(2, 30)
    job, partitions = default_jobs(settings)
    assert job.name == "retention" and "02:30" in job.description
    assert partitions.name == "partitions" and "02:30" in partitions.description  # its own default
    monkeypatch.setenv("JOBS_RETENTION_EVERY_SECONDS", "60")
    monkeypatch.setenv("JOBS_PARTITIONS_AT", "01:15")
    job, partitions = default_jobs(JobsSettings())
    assert "every 60 s" in job.description
    assert "01:15" in partitions.description


async def test_a_second_runner_skips_while_the_first_holds_the_lock(db: str) -> None:
    """Two runners at once: the one without the lock skips; the job runs once."""
    release = asyncio.Event()
    started = asyncio.Event()
    calls = 0

    async def slow(url: str, slot: datetime) -> dict[str, Any]:
        nonlocal calls
        calls += 1
        started.set()
        await release.wait()
        return {"did": "work"}

    job = Job("test-overlap", every(3600), slow)
    before_done, before_skipped = runs(job.name, "done"), runs(job.name, "skipped")
    first = asyncio.create_task(run_once(db, job))
    await started.wait()
    second, _ = await run_once(db, job)  # the first still holds the lock
    release.set()
    outcome, summary = await first
    assert (outcome, second) == ("done", "skipped")
    assert summary == {"did": "work"} and calls == 1
    assert runs(job.name, "done") - before_done == 1
    assert runs(job.name, "skipped") - before_skipped == 1
    # The lock went with the run: the next round takes it.
    release.set()
    assert (await run_once(db, job))[0] == "done"


async def test_a_lock_held_elsewhere_is_respected_and_freed_when_its_holder_dies(db: str) -> None:
    other = await asyncpg.connect(plain_pg_url(db))
    try:
        async with try_lock(other, "job:test-held") as mine:
            assert mine
            assert (await run_once(db, Job("test-held", every(60), _nothing)))[0] == "skipped"
        await other.execute("SELECT pg_advisory_lock($1)", lock_key("job:test-held"))
    finally:
        await other.close()  # a runner that dies: PostgreSQL lets its lock go
    assert (await run_once(db, Job("test-held", every(60), _nothing)))[0] == "done"


async def _nothing(url: str, slot: datetime) -> dict[str, Any]:
    return {}


async def test_a_failing_job_is_reported_not_raised(db: str, caplog: pytest.LogCaptureFixture) -> None:
    async def broken(url: str, slot: datetime) -> dict[str, Any]:
        raise RuntimeError("disk full")

    with caplog.at_level(logging.INFO, logger="safework.jobs"):
        outcome, summary = await run_once(db, Job("test-broken", every(60), broken))
    assert outcome == "failed" and summary["error"] == "RuntimeError"
    assert any(r.levelno == logging.WARNING and getattr(r, "outcome", None) == "failed" for r in caplog.records)


async def test_retention_runs_on_schedule_reports_and_is_not_done_twice(
    db: str, caplog: pytest.LogCaptureFixture
) -> None:
    """The retention job: runs under its lock, writes its audit row, logs what it removed per
    table and counts it; a second runner for the same round finds it done."""
    job, _ = default_jobs(JobsSettings(retention_every_seconds=3600))
    slot = now_local() - timedelta(seconds=1)
    before = runs("retention", "done")
    with caplog.at_level(logging.INFO, logger="safework.jobs"):
        outcome, summary = await run_once(db, job, slot)
    assert outcome == "done", summary
    assert set(summary["removed"]) >= {"test_result", "health_declaration", "checkin"}
    assert summary["policy_version"]
    line = next(r for r in caplog.records if getattr(r, "job", None) == "retention")
    assert line.outcome == "done" and line.removed == summary["removed"]  # type: ignore[attr-defined]
    assert runs("retention", "done") - before == 1
    assert REGISTRY.get_sample_value("safework_job_last_success_timestamp_seconds", {"job": "retention"})
    conn = await asyncpg.connect(plain_pg_url(db))
    try:
        assert await conn.fetchval("SELECT count(*) FROM audit_log WHERE action = 'retention'") == 1
    finally:
        await conn.close()
    # Another runner waking for the same round: already done, nothing removed twice.
    assert (await run_once(db, job, slot))[0] == "already_done"


async def test_serve_runs_each_job_when_due_until_stopped(db: str) -> None:
    stop = asyncio.Event()
    seen: list[datetime] = []

    async def tick(url: str, slot: datetime) -> dict[str, Any]:
        seen.append(slot)
        if len(seen) == 2:
            stop.set()
        return {}

    await asyncio.wait_for(serve(db, [Job("test-tick", every(0.01), tick)], stop), timeout=30)
    assert len(seen) == 2 and seen[0] < seen[1]


async def test_the_partition_job_makes_the_coming_months_and_is_harmless_twice(db: str) -> None:
    """The partitions job (issue 18): this month's and the next months' partitions of the results
    and check-ins exist after a run; a second run creates nothing more."""
    _, job = default_jobs(JobsSettings())
    before = runs("partitions", "done")
    outcome, summary = await run_once(db, job, now_local())
    assert outcome == "done", summary
    conn = await asyncpg.connect(plain_pg_url(db))
    try:
        this_month = now_local().strftime("_y%Ym%m")
        names = {r["relname"] for r in await conn.fetch("SELECT relname FROM pg_class WHERE relispartition")}
    finally:
        await conn.close()
    assert f"test_result{this_month}" in names and f"checkin{this_month}" in names, names
    assert runs("partitions", "done") - before == 1
    again, summary = await run_once(db, job, now_local())
    assert again == "done" and summary["created"] == []
