"""`safework jobs run`: the periodic jobs, each on its schedule, by themselves.

``safework up`` runs it beside the services; docker-compose.yml runs it as the ``jobs`` service.
The jobs and their schedules (times are the province's, Asia/Ho_Chi_Minh):

- ``retention``: `safework retention run` (the policy's retention windows), daily at
  ``JOBS_RETENTION_AT`` (default 03:00, a quiet hour), or every ``JOBS_RETENTION_EVERY_SECONDS``
  when that is set (demos and tests).
- ``partitions``: the monthly partitions of the results and check-ins, this month's and
  ``MONTHS_AHEAD`` after it (`safework partitions ensure`), daily at ``JOBS_PARTITIONS_AT``
  (default 02:30); creating a month that exists does nothing, so a missed or repeated round is
  harmless (a row of a month without one lands in the default partition, never refused).

One runner at a time: each run holds a PostgreSQL advisory lock named after its job
(``safework_common.locks``) for its whole length; a runner that does not get it skips the round
(``skipped``), so two runners (two ``safework up``, two compose replicas, an operator by hand) never
overlap. A runner that gets the lock after another has already done this round's work finds the
run in the audit log and does not do it twice (``already_done``).

Every run is reported: one log line (``job``, ``outcome``, what it did: rows removed per table,
the policy version) and the metrics ``safework_job_runs_total{job,outcome}``,
``safework_job_duration_seconds``, ``safework_job_last_success_timestamp_seconds`` and
``safework_retention_removed_total{table}`` on ``JOBS_METRICS_PORT``."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from datetime import time as clock
from typing import Annotated, Any, Literal

import asyncpg
import typer
from pydantic import AliasChoices, Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from safework_common.locks import try_lock
from safework_common.metrics import JOB_DURATION, JOB_LAST_SUCCESS, JOB_RUNS, RETENTION_REMOVED, start_metrics
from safework_common.settings import plain_pg_url
from safework_common.timezone import now_local

log = logging.getLogger("safework.jobs")

jobs_app = typer.Typer(help="Periodic jobs (retention) on their schedule, one runner at a time.", no_args_is_help=True)

Outcome = Literal["done", "skipped", "already_done", "failed"]


class JobsSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="JOBS_", extra="ignore", populate_by_name=True)

    database_url: str | None = Field(default=None, validation_alias=AliasChoices("JOBS_DATABASE_URL", "DATABASE_URL"))
    log_level: str = Field(default="INFO", validation_alias=AliasChoices("LOG_LEVEL"))
    retention_at: clock = clock(3, 0)
    partitions_at: clock = clock(2, 30)
    retention_every_seconds: float | None = Field(default=None, gt=0)
    metrics_host: str = "127.0.0.1"
    metrics_port: int | None = Field(default=None, ge=0, le=65535)

    @field_validator("retention_at", "partitions_at", mode="before")
    @classmethod
    def _hh_mm(cls, value: Any) -> Any:
        if isinstance(value, str) and len(value) == 5:
            return value + ":00"
        return value


Schedule = Callable[[datetime], datetime]


def daily_at(at: clock) -> Schedule:
    """The next ``at`` (local time) strictly after the given instant."""

    def following(now: datetime) -> datetime:
        local = now.astimezone(now_local().tzinfo)
        candidate = local.replace(hour=at.hour, minute=at.minute, second=0, microsecond=0)
        return candidate if candidate > local else candidate + timedelta(days=1)

    return following


def every(seconds: float) -> Schedule:
    def following(now: datetime) -> datetime:
        return now + timedelta(seconds=seconds)

    return following


@dataclass(frozen=True)
class Job:
    name: str
    schedule: Schedule
    # (url, the round's scheduled instant) -> what it did, for the log line.
    run: Callable[[str, datetime], Awaitable[dict[str, Any]]]
    # (connection, the round's scheduled instant) -> this round's work is done already.
    done_since: Callable[[Any, datetime], Awaitable[bool]] | None = None
    description: str = ""


async def _retention(url: str, slot: datetime) -> dict[str, Any]:
    from safework_cli.retention import run_retention

    result = await run_retention(url, as_of=now_local())
    for table, n in result.removed.items():
        if n:
            RETENTION_REMOVED.labels(table).inc(n)
    return {"policy_version": result.policy_version, "removed": result.removed}


async def _partitions(url: str, slot: datetime) -> dict[str, Any]:
    from safework_cli.partitions import MONTHS_AHEAD, _ensure

    return {"created": await _ensure(url, None, MONTHS_AHEAD)}


async def _retention_done_since(conn: Any, slot: datetime) -> bool:
    """A retention run (not a dry run: that leaves no audit row) recorded since the slot."""
    found = await conn.fetchval(
        "SELECT 1 FROM audit_log WHERE action = 'retention' AND entity = 'health_data' AND at >= $1 LIMIT 1", slot
    )
    return found is not None


def default_jobs(settings: JobsSettings) -> list[Job]:
    if settings.retention_every_seconds is not None:
        schedule, when = every(settings.retention_every_seconds), f"every {settings.retention_every_seconds:g} s"
    else:
        schedule, when = daily_at(settings.retention_at), f"daily at {settings.retention_at:%H:%M} (Asia/Ho_Chi_Minh)"
    return [
        Job(
            "retention",
            schedule,
            _retention,
            _retention_done_since,
            f"health data past the policy's retention windows removed, {when}",
        ),
        Job(
            "partitions",
            daily_at(settings.partitions_at),
            _partitions,
            None,
            f"this month's and the next months' partitions of results and check-ins made, daily at "
            f"{settings.partitions_at:%H:%M} (Asia/Ho_Chi_Minh)",
        ),
    ]


async def run_once(url: str, job: Job, slot: datetime | None = None) -> tuple[Outcome, dict[str, Any]]:
    """One round of ``job`` under its advisory lock; the outcome is logged and counted."""
    slot = slot or now_local()
    started = time.perf_counter()
    summary: dict[str, Any] = {}
    outcome: Outcome
    conn = await asyncpg.connect(plain_pg_url(url))
    try:
        async with try_lock(conn, f"job:{job.name}") as mine:
            if not mine:
                outcome = "skipped"
            elif job.done_since is not None and await job.done_since(conn, slot):
                outcome = "already_done"
            else:
                try:
                    summary = await job.run(url, slot)
                    outcome = "done"
                except Exception as exc:
                    outcome = "failed"
                    summary = {"error": type(exc).__name__, "detail": str(exc)[:200]}
    finally:
        await conn.close()
    elapsed = time.perf_counter() - started
    JOB_RUNS.labels(job.name, outcome).inc()
    if outcome == "done":
        JOB_DURATION.labels(job.name).observe(elapsed)
        JOB_LAST_SUCCESS.labels(job.name).set(time.time())
    level = logging.WARNING if outcome == "failed" else logging.INFO
    log.log(
        level,
        "job %s: %s",
        job.name,
        outcome,
        extra={"job": job.name, "outcome": outcome, "slot": slot.isoformat(), "seconds": round(elapsed, 3), **summary},
    )
    return outcome, summary


async def serve(url: str, jobs: list[Job], stop: asyncio.Event) -> None:
    """Run each job at its times until ``stop`` is set."""
    now = now_local()
    due = {job.name: job.schedule(now) for job in jobs}
    for job in jobs:
        log.info("job %s scheduled", job.name, extra={"job": job.name, "next": due[job.name].isoformat()})
    while not stop.is_set():
        job = min(jobs, key=lambda j: due[j.name])
        wait = (due[job.name] - now_local()).total_seconds()
        if wait > 0:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=min(wait, 3600))
            continue
        slot = due[job.name]
        await run_once(url, job, slot)
        due[job.name] = job.schedule(max(slot, now_local()))


@jobs_app.command("run")
def run_command(
    once: Annotated[
        str | None, typer.Option("--once", help="Run this job one time now (under its lock), then exit.")
    ] = None,
) -> None:
    """Run the periodic jobs on their schedules until SIGTERM or Ctrl-C."""
    from safework_cli.main import database, default_data_dir
    from safework_common.logging import configure_logging

    settings = JobsSettings()
    configure_logging("jobs", settings.log_level)
    jobs = default_jobs(settings)
    if once is not None:
        chosen = [j for j in jobs if j.name == once]
        if not chosen:
            typer.echo(f"safework: no job {once!r}; jobs: {', '.join(j.name for j in jobs)}", err=True)
            raise typer.Exit(2)
        with database(default_data_dir()) as url:
            outcome, _ = asyncio.run(run_once(settings.database_url or url, chosen[0]))
        raise typer.Exit(0 if outcome != "failed" else 1)
    if settings.database_url is None:
        typer.echo("safework: jobs run needs DATABASE_URL (safework up sets it)", err=True)
        raise typer.Exit(2)
    database_url: str = settings.database_url
    server = start_metrics(settings.metrics_host, settings.metrics_port)

    async def main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
            loop.add_signal_handler(sig, stop.set)
        await serve(database_url, jobs, stop)

    try:
        asyncio.run(main())
    finally:
        if server is not None:
            server.stop()


@jobs_app.command("list")
def list_command() -> None:
    """The jobs and when they run."""
    for job in default_jobs(JobsSettings()):
        typer.echo(f"{job.name:<12} {job.description}")
