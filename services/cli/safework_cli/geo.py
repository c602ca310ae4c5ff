"""`safework geo unknown`: the stored place names that name no known place.

Districts and provinces are validated and stored by their canonical names
(``safework_common.geo``); migrations rewrote the rows stored before that. A value naming no
known place was left as it was (never silently dropped): this lists them, by table and column,
with how many rows carry each, so an operator can correct them through the API.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import asyncpg
import typer

from safework_common.geo import canonical_district, canonical_province
from safework_common.settings import plain_pg_url

geo_app = typer.Typer(help="Reference data: Bắc Giang's districts and the 63 provinces of 2021.", no_args_is_help=True)

# (table, column, the check): every stored place name.
COLUMNS: tuple[tuple[str, str, Callable[[str | None], str | None]], ...] = (
    ("enterprise", "district", canonical_district),
    ("accommodation", "district", canonical_district),
    ("gateway_client", "district", canonical_district),
    ("gateway_client", "owner_district", canonical_district),
    ("person", "home_province", canonical_province),
    ("person", "arrived_from_province", canonical_province),
    ("travel", "destination_province", canonical_province),
)


async def unknown_places(url: str) -> list[tuple[str, str, str, int]]:
    """(table, column, value, rows) of every stored value that names no known place."""
    out: list[tuple[str, str, str, int]] = []
    conn = await asyncpg.connect(plain_pg_url(url))
    try:
        for table, column, check in COLUMNS:
            exists = await conn.fetchval("SELECT to_regclass($1) IS NOT NULL", table)
            if not exists:
                continue
            rows = await conn.fetch(
                f'SELECT "{column}" AS value, count(*) AS n FROM "{table}"'  # noqa: S608 - fixed names above
                f' WHERE "{column}" IS NOT NULL GROUP BY 1 ORDER BY 1'
            )
            out.extend((table, column, r["value"], r["n"]) for r in rows if check(r["value"]) is None)
    finally:
        await conn.close()
    return out


@geo_app.command("unknown")
def unknown_command() -> None:
    """List stored districts and provinces that name no known place (exit 1 if any)."""
    from safework_cli.main import database, default_data_dir

    with database(default_data_dir()) as url:
        found = asyncio.run(unknown_places(url))
    for table, column, value, n in found:
        typer.echo(f"{table}.{column}\t{value!r}\t{n} row(s)")
    if found:
        raise typer.Exit(1)
    typer.echo("every stored district and province names a known place")
