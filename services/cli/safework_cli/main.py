"""`safework`: one command for the whole system."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated

import typer

from safework_cli import migrate
from safework_cli.embedded_pg import EmbeddedPostgres
from safework_cli.gate_pass import pass_app
from safework_cli.gateway_admin import gateway_app
from safework_cli.geo import geo_app
from safework_cli.partitions import partitions_app
from safework_cli.policy import load_sync as load_policies
from safework_cli.policy import policy_app
from safework_cli.retention import retention_app
from safework_cli.secrets import ensure_install_secrets
from safework_cli.seed.command import seed_command
from safework_cli.supervisor import (
    RestartPolicy,
    ServiceSpec,
    Stop,
    Supervisor,
    ignore_stop_signals,
    install_stop_signals,
    reap_leftovers,
)

app = typer.Typer(help="Safework: workforce health registry, scheduler and gateway.", no_args_is_help=True)
db_app = typer.Typer(help="Database schema (Alembic).", no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(geo_app, name="geo")
app.add_typer(policy_app, name="policy")
app.add_typer(retention_app, name="retention")
app.add_typer(partitions_app, name="partitions")
app.add_typer(pass_app, name="pass")
app.add_typer(gateway_app)  # `safework authority ...`, `safework keys ...`
app.command("seed")(seed_command)


def default_data_dir() -> Path:
    return Path(os.environ.get("SAFEWORK_DATA_DIR", ".data"))


DataDir = Annotated[Path, typer.Option(envvar="SAFEWORK_DATA_DIR", help="Embedded database and keys live here.")]


@contextmanager
def database(data_dir: Path) -> Iterator[str]:
    """DATABASE_URL when set; else the embedded server under ``data_dir/pg``, stopped on exit."""
    url = os.environ.get("DATABASE_URL")
    if url:
        yield url
        return
    server = EmbeddedPostgres(data_dir / "pg")
    server.start()
    if server.adopted:
        left_by = f" by a safework process that died (pid {', '.join(map(str, server.adopted_from))})"
        typer.echo(
            f"safework: took over the embedded PostgreSQL left running{left_by if server.adopted_from else ''}; "
            "it stops with this command",
            err=True,
        )
    try:
        yield server.ensure_database()
    finally:
        server.stop()


@db_app.command("upgrade")
def db_upgrade(revision: str = "heads", data_dir: DataDir = Path(".data")) -> None:
    """Apply migrations up to REVISION (default: every branch head)."""
    with database(data_dir) as url:
        migrate.upgrade(url, revision)


@db_app.command("downgrade")
def db_downgrade(revision: str, data_dir: DataDir = Path(".data")) -> None:
    """Revert migrations down to REVISION (``base`` for an empty schema)."""
    with database(data_dir) as url:
        migrate.downgrade(url, revision)


@db_app.command("current")
def db_current(data_dir: DataDir = Path(".data")) -> None:
    with database(data_dir) as url:
        migrate.current(url)


@db_app.command("check")
def db_check(data_dir: DataDir = Path(".data")) -> None:
    """Fail when the models and the migrations differ."""
    with database(data_dir) as url:
        migrate.check(url)


@app.command()
def codes(markdown: bool = typer.Option(False, "--markdown", help="docs/CODES.md instead of JSON.")) -> None:
    """Every error and reason code with its messages (as GET /api/v1/codes serves them)."""
    from safework_common.contract.catalogue import catalogue
    from safework_common.contract.catalogue import markdown as render

    typer.echo(render() if markdown else catalogue("en").model_dump_json(indent=2), nl=not markdown)


@app.command()
def up(
    data_dir: DataDir = Path(".data"),
    host: Annotated[str, typer.Option(envvar="SAFEWORK_HOST")] = "127.0.0.1",
    gateway_port: Annotated[int, typer.Option(envvar="GATEWAY_PORT")] = 8000,
    registry_port: Annotated[int, typer.Option(envvar="REGISTRY_PORT")] = 8001,
    scheduler_port: Annotated[int, typer.Option(envvar="SCHEDULER_PORT")] = 8002,
) -> None:
    """Migrate, then run the gateway, registry and scheduler until Ctrl-C or SIGTERM; a service
    that crashes is restarted (with backoff) while the others keep serving."""
    try:
        policy = RestartPolicy.from_env(os.environ)
    except ValueError as exc:
        typer.echo(f"safework: {exc}", err=True)
        raise typer.Exit(2) from None
    install_stop_signals()
    code = 1
    try:
        code = _up(data_dir, host, gateway_port, registry_port, scheduler_port, policy)
    except Stop:
        code = 0
    typer.echo("safework: stopped", err=True)
    raise typer.Exit(code)


def _up(
    data_dir: Path, host: str, gateway_port: int, registry_port: int, scheduler_port: int, policy: RestartPolicy
) -> int:
    # Services a killed `safework up` left behind would hold the ports and the database.
    reap_leftovers(data_dir / "run")
    keys_dir = data_dir / "keys"
    ensure_install_secrets(keys_dir)
    with database(data_dir) as url:
        migrate.upgrade(url, "heads")
        _after_migrate(url)
        env = dict(os.environ)
        env.setdefault("DATABASE_URL", url)
        env.setdefault("INTERNAL_TOKEN_PUBLIC_KEY_FILE", str((keys_dir / "internal_ed25519.pub.pem").resolve()))
        env.setdefault("GATEWAY_INTERNAL_TOKEN_PRIVATE_KEY_FILE", str((keys_dir / "internal_ed25519.pem").resolve()))
        env.setdefault("GATEWAY_KEY_ENCRYPTION_KEY_FILE", str((keys_dir / "gateway_kek.key").resolve()))
        env["SAFEWORK_DATA_DIR"] = str(data_dir.resolve())
        env.setdefault("REGISTRY_NATIONAL_ID_KEY_FILE", str((keys_dir / "national_id_hmac.key").resolve()))
        env["GATEWAY_REGISTRY_URL"] = f"http://{host}:{registry_port}"
        env["GATEWAY_SCHEDULER_URL"] = f"http://{host}:{scheduler_port}"
        specs = [
            ServiceSpec("registry", "safework_registry.app:create_app", host, registry_port),
            ServiceSpec("scheduler", "safework_scheduler.app:create_app", host, scheduler_port),
            ServiceSpec("gateway", "safework_gateway.app:create_app", host, gateway_port),
        ]
        supervisor = Supervisor(specs, env, policy=policy, run_dir=data_dir / "run")
        try:
            if not supervisor.start():
                typer.echo("safework: a service failed to start; see its log above", err=True)
                return 1
            typer.echo("")
            typer.echo(f"  gateway    http://{host}:{gateway_port}   (API docs: http://{host}:{gateway_port}/docs)")
            typer.echo(f"  registry   http://{host}:{registry_port}   (internal)")
            typer.echo(f"  scheduler  http://{host}:{scheduler_port}   (internal)")
            typer.echo(
                "  database   " + ("DATABASE_URL" if "DATABASE_URL" in os.environ else f"embedded, {data_dir / 'pg'}")
            )
            typer.echo("\nPress Ctrl-C to stop. A service that crashes is restarted.")
            return supervisor.run()
        finally:
            ignore_stop_signals()
            typer.echo("safework: stopping services", err=True)
            supervisor.stop()


def _after_migrate(url: str) -> None:
    """Data the services need once the schema is in place: the policy versions."""
    loaded = load_policies(url)
    if loaded:
        typer.echo("safework: loaded policy " + ", ".join(loaded), err=True)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(app())
