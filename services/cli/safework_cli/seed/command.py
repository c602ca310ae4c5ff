"""`safework seed`: fill the registry with a synthetic province.

safework seed --people 2000 --enterprises 40 --seed 1            # the demo (make demo)
safework seed --people 1000000 --enterprises 5000 --seed 7 --reset
safework seed --people 1000000 --enterprises 5000 --checkin-days 0   # no check-ins: < 2 min
"""

from __future__ import annotations

import asyncio
import os
import time
from datetime import datetime
from pathlib import Path
from typing import Annotated

import typer

from safework_cli.seed.load import DEFAULT_CHECKIN_DAYS, RegistryNotEmpty, seed_province
from safework_cli.seed.province import DEFAULT_AS_OF

DataDir = Annotated[Path, typer.Option(envvar="SAFEWORK_DATA_DIR", help="Embedded database and keys live here.")]


def national_id_key(data_dir: Path) -> bytes:
    """The registry's national-ID key, read as the registry reads it: REGISTRY_NATIONAL_ID_KEY,
    else REGISTRY_NATIONAL_ID_KEY_FILE, else the install's key file (created when missing)."""
    from safework_cli.secrets import ensure_install_secrets
    from safework_registry.settings import NATIONAL_ID_KEY_FILE

    keys_dir = data_dir / "keys"
    ensure_install_secrets(keys_dir)
    value = os.environ.get("REGISTRY_NATIONAL_ID_KEY")
    if value:
        return value.encode()
    path = Path(os.environ.get("REGISTRY_NATIONAL_ID_KEY_FILE") or keys_dir / NATIONAL_ID_KEY_FILE)
    return path.read_bytes().strip()


def parse_as_of(value: str | None) -> datetime:
    if value is None:
        return DEFAULT_AS_OF
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError as exc:
        raise typer.BadParameter("an ISO 8601 instant, e.g. 2021-09-30T12:00+07:00") from exc
    if parsed.tzinfo is None:
        raise typer.BadParameter("needs a time zone, e.g. 2021-09-30T12:00+07:00")
    return parsed


def seed_command(
    people: Annotated[int, typer.Option(min=1, help="People to create (1,000,000 for a province).")] = 2000,
    enterprises: Annotated[int, typer.Option(min=1, help="Enterprises to spread them over.")] = 40,
    seed: Annotated[int, typer.Option(help="The same seed gives the same rows.")] = 1,
    as_of: Annotated[
        str | None, typer.Option("--as-of", help="Nothing after this instant (default 2021-09-30T12:00+07:00).")
    ] = None,
    reset: Annotated[bool, typer.Option("--reset", help="Empty every registry table first.")] = False,
    checkin_days: Annotated[
        int,
        typer.Option(
            "--checkin-days",
            min=0,
            max=30,
            help="Every worker's QR check-ins over the window's last N days (~75 rows a person at 30; 0: none).",
        ),
    ] = DEFAULT_CHECKIN_DAYS,
    data_dir: DataDir = Path(".data"),
) -> None:
    """Generate a synthetic province (Bắc Giang, 2021) and load it with COPY.

    Seeded data is synthetic, for demos and benchmarks only (see safework_cli/seed)."""
    from safework_cli import migrate
    from safework_cli.main import database

    instant = parse_as_of(as_of)
    if enterprises > people:
        raise typer.BadParameter("at most one enterprise per person", param_hint="--enterprises")
    key = national_id_key(data_dir)
    started = time.perf_counter()
    with database(data_dir) as url:
        migrate.upgrade(url, "heads", configure_logger=False)
        try:
            counts = asyncio.run(
                seed_province(
                    url,
                    people=people,
                    enterprises=enterprises,
                    seed=seed,
                    as_of=instant,
                    national_id_key=key,
                    progress=True,
                    reset=reset,
                    checkin_days=checkin_days,
                )
            )
        except RegistryNotEmpty as exc:
            typer.echo(f"safework: {exc}", err=True)
            raise typer.Exit(1) from exc
    elapsed = time.perf_counter() - started
    _report(counts, elapsed, seed, instant)


def _report(counts: dict[str, int], elapsed: float, seed: int, as_of: datetime) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"seed {seed}, as of {as_of.isoformat()}")
    table.add_column("table")
    table.add_column("rows", justify="right")
    for name, n in counts.items():
        table.add_row(name, f"{n:,}")
    total = sum(counts.values())
    table.add_row("[bold]total", f"[bold]{total:,}")
    console = Console()
    console.print(table)
    console.print(f"{total:,} rows in {elapsed:.1f} s ({total / max(elapsed, 1e-9):,.0f} rows/s)")
