"""`safework retention run`: remove health data older than the policy's retention windows.

The 2021 practice was to keep health data only as long as it is needed, so records past their
window are deleted, not archived (an archive would keep exactly what the window says not to
keep). The windows are policy data (``retention`` in ``policy/versions/*.yaml``); the version in
force on the ``--as-of`` date applies. One run is one transaction, one statement per table:

- test results by ``collected_at``; a pool goes with its member rows and its members' pooled
  results, all decided by the pool's ``collected_at``, so no pool is ever left half;
- health declarations by ``declared_at``; travels by ``returned_at`` (an open trip is kept);
  QR check-ins by ``checked_in_at``;
- idempotency records past their replay period (their stored answers can echo health data).

Results and check-ins are partitioned by month (``safework_registry.partitions``): a month that
lies wholly before its table's cutoff goes first, as a whole partition (``DROP TABLE``: no per-row
work, no trigger work, nothing left for VACUUM); the statements above then remove the rest (the
cutoff's own month, and anything in the default partition). The drops take an exclusive lock on
the table until the run commits. A daily run leaves little to drop (each day's rows go by
``DELETE`` as they pass the window); a run after a pause, or under a new, shorter window, drops
whole months.

One audit row (the system caller, counts and windows only) records each run. ``--dry-run``
runs the same statements and rolls them back, so its counts are exactly what a run would do.
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Annotated, Any

import asyncpg
import typer

from safework_common.contract.policy_document import PolicyDocument, in_force
from safework_common.settings import plain_pg_url
from safework_common.timezone import local_date, now_local, start_of_local_day
from safework_registry.idempotency.service import RETAIN_FOR
from safework_registry.partitions import PARTITIONED, drop_partitions_before

retention_app = typer.Typer(help="Retention of health data (policy windows).", no_args_is_help=True)

# Counted, in the order they are removed (a pool's members and results before the pool).
TABLES = ("test_result", "pool_member", "pool", "health_declaration", "travel", "checkin", "idempotency_record")

_STATEMENTS: dict[str, str] = {
    # A pooled result goes with its pool (decided by the pool's time), never on its own.
    "test_result": (
        "DELETE FROM test_result WHERE (pool_id IS NULL AND collected_at < $1) "
        "OR pool_id IN (SELECT id FROM pool WHERE collected_at < $1) RETURNING 1"
    ),
    "pool_member": "DELETE FROM pool_member WHERE pool_id IN (SELECT id FROM pool WHERE collected_at < $1) RETURNING 1",
    "pool": "DELETE FROM pool WHERE collected_at < $1 RETURNING 1",
    "health_declaration": "DELETE FROM health_declaration WHERE declared_at < $1 RETURNING 1",
    "travel": "DELETE FROM travel WHERE returned_at < $1 RETURNING 1",
    "checkin": "DELETE FROM checkin WHERE checked_in_at < $1 RETURNING 1",
    "idempotency_record": ("DELETE FROM idempotency_record WHERE coalesce(completed_at, created_at) < $1 RETURNING 1"),
}
_COUNT = "WITH gone AS ({statement}) SELECT count(*) FROM gone"
_AUDIT = (
    "INSERT INTO audit_log (client_id, role, subject, action, entity, entity_id, details) "
    "VALUES ('cli', 'system', 'system', 'retention', 'health_data', NULL, $1::jsonb)"
)


class NoPolicyInForce(Exception):
    pass


@dataclass(frozen=True)
class RetentionRun:
    as_of: datetime
    policy_version: str
    cutoffs: dict[str, datetime]
    removed: dict[str, int]
    dry_run: bool
    partitions_dropped: tuple[str, ...] = ()


def cutoffs(doc: PolicyDocument, as_of: datetime) -> dict[str, datetime]:
    """Per table, the instant before which its records are removed."""
    r = doc.retention
    results = as_of - timedelta(days=r.results_days)
    return {
        "test_result": results,
        "pool_member": results,
        "pool": results,
        "health_declaration": as_of - timedelta(days=r.declarations_days),
        "travel": as_of - timedelta(days=r.travels_days),
        "checkin": as_of - timedelta(days=r.checkins_days),
        "idempotency_record": as_of - RETAIN_FOR,
    }


async def policy_in_force(conn: Any, as_of: datetime) -> PolicyDocument:
    rows = await conn.fetch("SELECT document FROM scheduler_policy")
    docs = [PolicyDocument.model_validate(json.loads(r["document"])) for r in rows]
    doc = in_force(docs, local_date(as_of))
    if doc is None:
        raise NoPolicyInForce(f"no policy is in force on {local_date(as_of)}; load one with `safework policy load`")
    return doc


async def run_retention(url: str, *, as_of: datetime | None = None, dry_run: bool = False) -> RetentionRun:
    """Remove what is past its window, in one transaction (rolled back for a dry run)."""
    instant = as_of or now_local()
    conn = await asyncpg.connect(plain_pg_url(url))
    try:
        doc = await policy_in_force(conn, instant)
        limits = cutoffs(doc, instant)
        removed: dict[str, int] = {}
        tx = conn.transaction()
        await tx.start()
        try:
            dropped = [d for table in PARTITIONED for d in await drop_partitions_before(conn, limits[table], (table,))]
            for table in TABLES:
                removed[table] = int(await conn.fetchval(_COUNT.format(statement=_STATEMENTS[table]), limits[table]))
                removed[table] += sum(d.rows for d in dropped if d.table == table)
            details = {
                "as_of": instant.isoformat(),
                "policy_version": doc.version,
                "removed": removed,
                "partitions_dropped": [d.partition for d in dropped],
                "cutoffs": {table: limits[table].isoformat() for table in TABLES},
            }
            await conn.execute(_AUDIT, json.dumps(details))
        except BaseException:
            await tx.rollback()
            raise
        if dry_run:
            await tx.rollback()
        else:
            await tx.commit()
    finally:
        await conn.close()
    return RetentionRun(instant, doc.version, limits, removed, dry_run, tuple(d.partition for d in dropped))


def parse_as_of(value: str | None) -> datetime | None:
    """An aware ISO 8601 instant, or a date (the start of that day, province time)."""
    if value is None:
        return None
    try:
        if len(value) == 10:
            return start_of_local_day(date.fromisoformat(value))
        parsed = datetime.fromisoformat(value)
    except ValueError as exc:
        raise typer.BadParameter("an ISO 8601 instant or date, e.g. 2022-03-01T00:00+07:00") from exc
    if parsed.tzinfo is None:
        raise typer.BadParameter("needs a time zone, e.g. 2022-03-01T00:00+07:00")
    return parsed


@retention_app.command("run")
def run_command(
    as_of: Annotated[
        str | None, typer.Option("--as-of", help="Apply the windows as of this instant or date (default: now).")
    ] = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Count what would be removed; change nothing.")] = False,
) -> None:
    """Remove health data older than the retention windows of the policy in force."""
    from safework_cli.main import database, default_data_dir

    instant = parse_as_of(as_of)
    with database(default_data_dir()) as url:
        try:
            result = asyncio.run(run_retention(url, as_of=instant, dry_run=dry_run))
        except NoPolicyInForce as exc:
            typer.echo(f"safework: {exc}", err=True)
            raise typer.Exit(1) from exc
    verb = "would remove" if result.dry_run else "removed"
    typer.echo(f"retention as of {result.as_of.isoformat()} (policy {result.policy_version}), {verb}:")
    for table in TABLES:
        typer.echo(f"  {table:<20} {result.removed[table]:>10}  (before {result.cutoffs[table].isoformat()})")
    if result.partitions_dropped:
        typer.echo(f"  whole monthly partitions: {', '.join(result.partitions_dropped)}")
