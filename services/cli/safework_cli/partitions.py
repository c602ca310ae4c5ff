"""`safework partitions`: the monthly partitions of results and check-ins.

``ensure`` creates the month of ``--as-of`` (default: now) and ``--months-ahead`` after it for
every partitioned table (``safework_registry.partitions.ensure_partitions``); run it at least
monthly (a scheduled loop calls the same function). Old months are dropped by the retention run
(``safework retention run``), by the policy's windows. ``list`` shows each table's partitions and
their row estimates.
"""

from __future__ import annotations

import asyncio
from typing import Annotated

import asyncpg
import typer

from safework_cli.retention import parse_as_of
from safework_common.settings import plain_pg_url
from safework_common.timezone import now_local
from safework_registry.partitions import PARTITIONED, default_partition, ensure_partitions, monthly_partitions

partitions_app = typer.Typer(help="Monthly partitions of results and check-ins.", no_args_is_help=True)

# A parameter not in the source: how many months ahead of the current one exist.
MONTHS_AHEAD = 2


async def _ensure(url: str, as_of_text: str | None, months_ahead: int) -> list[str]:
    as_of = parse_as_of(as_of_text) or now_local()
    conn = await asyncpg.connect(plain_pg_url(url))
    try:
        return await ensure_partitions(conn, as_of, months_ahead)
    finally:
        await conn.close()


async def _list(url: str) -> list[tuple[str, str, int]]:
    conn = await asyncpg.connect(plain_pg_url(url))
    try:
        out: list[tuple[str, str, int]] = []
        for table in PARTITIONED:
            names = [*sorted((await monthly_partitions(conn, table)).values()), default_partition(table)]
            estimates = {
                r["relname"]: int(r["reltuples"])
                for r in await conn.fetch(
                    "SELECT relname, greatest(reltuples, 0)::bigint AS reltuples FROM pg_class "
                    "WHERE relname = ANY($1::text[])",
                    names,
                )
            }
            out.extend((table, name, estimates.get(name, 0)) for name in names)
        return out
    finally:
        await conn.close()


@partitions_app.command("ensure")
def ensure_command(
    as_of: Annotated[
        str | None, typer.Option("--as-of", help="The current month is this instant's or date's (default: now).")
    ] = None,
    months_ahead: Annotated[int, typer.Option("--months-ahead", min=0, max=24)] = MONTHS_AHEAD,
) -> None:
    """Create this month's and the next months' partitions where missing."""
    from safework_cli.main import database, default_data_dir

    with database(default_data_dir()) as url:
        created = asyncio.run(_ensure(url, as_of, months_ahead))
    typer.echo("created: " + (", ".join(created) if created else "none (all there)"))


@partitions_app.command("list")
def list_command() -> None:
    """Each partitioned table's partitions, with PostgreSQL's row estimates."""
    from safework_cli.main import database, default_data_dir

    with database(default_data_dir()) as url:
        rows = asyncio.run(_list(url))
    for table, name, estimate in rows:
        typer.echo(f"{table:<12} {name:<24} ~{estimate:>12,} rows")
