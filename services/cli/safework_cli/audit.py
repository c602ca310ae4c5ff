"""`safework audit export`: the audit log (who, what, which record, when) as JSON lines or CSV,
oldest first, filtered like ``GET /api/v1/audit``; streamed, so a year of rows needs no memory.

Reads the database directly (``DATABASE_URL``, or the embedded server), as the other operator
commands do: whoever runs it already holds the database's keys."""

from __future__ import annotations

import asyncio
import csv
import json
import sys
from datetime import datetime
from pathlib import Path
from typing import IO, Annotated, Any, Literal

import asyncpg
import typer

from safework_common.settings import plain_pg_url
from safework_common.timezone import LOCAL_TZ

audit_app = typer.Typer(help="The audit log: who did what to which record, when.", no_args_is_help=True)

COLUMNS = ("id", "at", "client_id", "role", "subject", "action", "entity", "entity_id", "request_id", "details")

# One statement; a filter not given is NULL and matches everything.
_EXPORT = """
SELECT id, at, client_id, role, subject, action, entity, entity_id, request_id, details::text AS details
FROM audit_log
WHERE ($1::text IS NULL OR action = $1)
  AND ($2::text IS NULL OR entity = $2)
  AND ($3::text IS NULL OR entity_id = $3)
  AND ($4::text IS NULL OR client_id = $4)
  AND ($5::text IS NULL OR role = $5)
  AND ($6::timestamptz IS NULL OR at >= $6)
  AND ($7::timestamptz IS NULL OR at < $7)
ORDER BY id
"""


def _row(record: Any) -> dict[str, Any]:
    out = {name: record[name] for name in COLUMNS}
    out["at"] = record["at"].astimezone(LOCAL_TZ).isoformat()
    out["details"] = None if record["details"] is None else json.loads(record["details"])
    return out


async def export(url: str, out: IO[str], fmt: Literal["jsonl", "csv"], filters: tuple[Any, ...]) -> int:
    conn = await asyncpg.connect(plain_pg_url(url))
    count = 0
    try:
        writer = csv.DictWriter(out, fieldnames=COLUMNS) if fmt == "csv" else None
        if writer is not None:
            writer.writeheader()
        async with conn.transaction(readonly=True):
            async for record in conn.cursor(_EXPORT, *filters, prefetch=1000):
                row = _row(record)
                if writer is not None:
                    writer.writerow({**row, "details": "" if row["details"] is None else json.dumps(row["details"])})
                else:
                    out.write(json.dumps(row, ensure_ascii=False) + "\n")
                count += 1
    finally:
        await conn.close()
    return count


def _instant(value: str | None, name: str) -> datetime | None:
    from safework_cli.retention import parse_as_of

    try:
        return parse_as_of(value)
    except typer.BadParameter as exc:
        raise typer.BadParameter(str(exc), param_hint=name) from None


Text = Annotated[str | None, typer.Option()]


@audit_app.command("export")
def export_command(
    action: Text = None,
    entity: Text = None,
    entity_id: Annotated[str | None, typer.Option("--entity-id")] = None,
    client_id: Annotated[str | None, typer.Option("--client-id")] = None,
    role: Text = None,
    since: Annotated[str | None, typer.Option(help="From this instant or date (inclusive).")] = None,
    until: Annotated[str | None, typer.Option(help="Before this instant or date.")] = None,
    fmt: Annotated[str, typer.Option("--format", help="jsonl (one JSON object a line) or csv.")] = "jsonl",
    output: Annotated[Path | None, typer.Option("--output", "-o", help="A file (default: standard output).")] = None,
) -> None:
    """Export the audit log, oldest first."""
    from safework_cli.main import database, default_data_dir

    if fmt not in ("jsonl", "csv"):
        raise typer.BadParameter("jsonl or csv", param_hint="--format")
    filters = (action, entity, entity_id, client_id, role, _instant(since, "--since"), _instant(until, "--until"))
    with database(default_data_dir()) as url:
        if output is None:
            count = asyncio.run(export(url, sys.stdout, fmt, filters))  # type: ignore[arg-type]
        else:
            with output.open("w", encoding="utf-8", newline="") as handle:
                count = asyncio.run(export(url, handle, fmt, filters))  # type: ignore[arg-type]
    typer.echo(f"safework: exported {count} audit entries", err=True)
