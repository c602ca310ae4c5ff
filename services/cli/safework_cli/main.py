"""`safework`: one command for the whole system."""

from __future__ import annotations

import os
import shutil
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated

import typer

from safework_cli import migrate
from safework_cli.audit import audit_app
from safework_cli.embedded_pg import EmbeddedPostgres
from safework_cli.gate_pass import pass_app
from safework_cli.gateway_admin import gateway_app
from safework_cli.geo import geo_app
from safework_cli.jobs import jobs_app
from safework_cli.partitions import partitions_app
from safework_cli.policy import load_sync as load_policies
from safework_cli.policy import policy_app
from safework_cli.retention import retention_app
from safework_cli.secrets import ensure_install_secrets, secrets_app
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
app.add_typer(jobs_app, name="jobs")
app.add_typer(audit_app, name="audit")
app.add_typer(secrets_app, name="secrets")
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
    workers: Annotated[
        int, typer.Option("--workers", envvar="SAFEWORK_WORKERS", min=1, max=64, help="Processes per service.")
    ] = 1,
    gateway_workers: Annotated[
        int | None, typer.Option(envvar="GATEWAY_WORKERS", min=1, max=64, help="Gateway processes (default --workers).")
    ] = None,
    registry_workers: Annotated[int | None, typer.Option(envvar="REGISTRY_WORKERS", min=1, max=64)] = None,
    scheduler_workers: Annotated[int | None, typer.Option(envvar="SCHEDULER_WORKERS", min=1, max=64)] = None,
    metrics: Annotated[
        bool,
        typer.Option(
            "--metrics/--no-metrics",
            envvar="SAFEWORK_METRICS",
            help="Prometheus metrics on each service's port + 1000 (127.0.0.1); the jobs runner on gateway's + 1003.",
        ),
    ] = True,
    jobs: Annotated[
        bool, typer.Option("--jobs/--no-jobs", envvar="SAFEWORK_JOBS", help="Run the periodic jobs (retention).")
    ] = True,
) -> None:
    """Migrate, then run the gateway, registry and scheduler (and the periodic jobs) until Ctrl-C
    or SIGTERM; a service that crashes is restarted (with backoff) while the others keep serving."""
    try:
        policy = RestartPolicy.from_env(os.environ)
    except ValueError as exc:
        typer.echo(f"safework: {exc}", err=True)
        raise typer.Exit(2) from None
    counts = {
        "gateway": gateway_workers or workers,
        "registry": registry_workers or workers,
        "scheduler": scheduler_workers or workers,
    }
    install_stop_signals()
    code = 1
    try:
        ports = {"gateway": gateway_port, "registry": registry_port, "scheduler": scheduler_port}
        code = _up(data_dir, host, ports, policy, counts, metrics=metrics, jobs=jobs)
    except Stop:
        code = 0
    typer.echo("safework: stopped", err=True)
    raise typer.Exit(code)


METRICS_OFFSET = 1000  # a service's metrics port under `safework up`: its own port + 1000


def _service_env(
    data_dir: Path, name: str, port: int, workers: int, metrics: bool, env: dict[str, str]
) -> tuple[tuple[str, str], ...]:
    """A service's own variables: its metrics port and, with several workers, the directory of
    prometheus-client's multiprocess mode (emptied now: the files of a previous run are stale)."""
    out: dict[str, str] = {}
    prefix = name.upper()
    if metrics and f"{prefix}_METRICS_PORT" not in env:
        out[f"{prefix}_METRICS_PORT"] = str(port + METRICS_OFFSET)
    if workers > 1 and "PROMETHEUS_MULTIPROC_DIR" not in env:
        directory = (data_dir / "run" / "metrics" / name).resolve()
        shutil.rmtree(directory, ignore_errors=True)
        directory.mkdir(parents=True)
        out["PROMETHEUS_MULTIPROC_DIR"] = str(directory)
    return tuple(out.items())


def _up(
    data_dir: Path,
    host: str,
    ports: dict[str, int],
    policy: RestartPolicy,
    workers: dict[str, int],
    *,
    metrics: bool = True,
    jobs: bool = True,
) -> int:
    gateway_port, registry_port, scheduler_port = ports["gateway"], ports["registry"], ports["scheduler"]
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
        if workers["gateway"] > 1 and not env.get("REDIS_URL"):
            typer.echo(
                f"safework: {workers['gateway']} gateway processes without REDIS_URL: each keeps its own rate "
                "limits (a caller gets the limit once per process); set REDIS_URL to share them",
                err=True,
            )
        specs = [
            ServiceSpec(
                name,
                f"safework_{name}.app:create_app",
                host,
                ports[name],
                workers=workers[name],
                env=_service_env(data_dir, name, ports[name], workers[name], metrics, env),
            )
            for name in ("registry", "scheduler", "gateway")
        ]
        if jobs:
            jobs_env: tuple[tuple[str, str], ...] = ()
            if metrics and "JOBS_METRICS_PORT" not in env:
                jobs_env = (("JOBS_METRICS_PORT", str(gateway_port + METRICS_OFFSET + 3)),)
            command = (sys.executable, "-m", "safework_cli.main", "jobs", "run")
            specs.append(ServiceSpec("jobs", "", host, 0, command=command, env=jobs_env))
        supervisor = Supervisor(specs, env, policy=policy, run_dir=data_dir / "run")
        try:
            if not supervisor.start():
                typer.echo("safework: a service failed to start; see its log above", err=True)
                return 1
            typer.echo("")
            typer.echo(f"  gateway    http://{host}:{gateway_port}   (API docs: http://{host}:{gateway_port}/docs)")
            typer.echo(f"  registry   http://{host}:{registry_port}   (internal)")
            typer.echo(f"  scheduler  http://{host}:{scheduler_port}   (internal)")
            if jobs:
                typer.echo("  jobs       retention on its schedule (safework jobs list)")
            if metrics:
                typer.echo(
                    f"  metrics    http://{host}:{{{registry_port + METRICS_OFFSET},{scheduler_port + METRICS_OFFSET},"
                    f"{gateway_port + METRICS_OFFSET},{gateway_port + METRICS_OFFSET + 3}}}/metrics"
                )
            if max(workers.values()) > 1:
                typer.echo("  workers    " + ", ".join(f"{k} {v}" for k, v in workers.items()))
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
