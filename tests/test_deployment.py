"""docker-compose.yml has the shape the deployment needs (no Docker engine runs here to try it)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]


def compose() -> dict[str, Any]:
    data = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    assert isinstance(data, dict)
    return data


def test_postgres_16_with_a_healthcheck() -> None:
    pg = compose()["services"]["postgres"]
    assert pg["image"] == "postgres:16"
    assert "pg_isready" in " ".join(pg["healthcheck"]["test"])


def test_one_shot_migrate_job_runs_before_the_services() -> None:
    services = compose()["services"]
    migrate = services["migrate"]
    assert migrate["restart"] == "no"
    # The schema, then the policy versions (without them no verdict and no retention run).
    assert migrate["command"] == ["sh", "-c", "safework db upgrade && safework policy load"]
    assert migrate["depends_on"]["postgres"]["condition"] == "service_healthy"
    for name in ("registry", "scheduler"):
        assert services[name]["depends_on"]["migrate"]["condition"] == "service_completed_successfully"


def test_three_services_from_one_dockerfile_only_the_gateway_published() -> None:
    services = compose()["services"]
    for name in ("registry", "scheduler", "gateway", "migrate"):
        assert services[name]["build"] == "."
    assert services["gateway"]["ports"] == ["8000:8000"]
    for name in ("postgres", "registry", "scheduler", "migrate"):
        assert "ports" not in services[name], name
    assert (ROOT / "Dockerfile").exists()


def test_secrets_come_from_the_environment() -> None:
    text = (ROOT / "docker-compose.yml").read_text()
    for key in (
        "POSTGRES_PASSWORD",
        "INTERNAL_TOKEN_PUBLIC_KEY",
        "GATEWAY_INTERNAL_TOKEN_PRIVATE_KEY",
        "GATEWAY_KEY_ENCRYPTION_KEY",
        "REGISTRY_NATIONAL_ID_KEY",
    ):
        assert re.search(r"\$\{" + key + r"[:}]", text), key
    assert "BEGIN PRIVATE KEY" not in text
    for svc in compose()["services"].values():
        for value in (svc.get("environment") or {}).values():
            assert "${" in str(value) or not re.search(r"(?i)password|secret|key", str(value)), value


def test_every_service_answers_the_servers_own_400_in_the_error_envelope() -> None:
    """Issue 12 item 4: uvicorn's plain-text 400 (a DEL byte in a header) is replaced by the
    envelope only where the service runs with ``safework_common.server``'s protocol."""
    protocol = ["--http", "safework_common.server:HttpToolsProtocol"]
    for name in ("registry", "scheduler", "gateway"):
        command = compose()["services"][name]["command"]
        assert command[0] == "uvicorn" and " ".join(protocol) in " ".join(command), (name, command)
    assert '"--http", "safework_common.server:HttpToolsProtocol"' in (ROOT / "Dockerfile").read_text()


# --- issue 18: secrets generate, healthchecks and start order, jobs, Redis, metrics ----------


def test_every_long_running_service_has_a_healthcheck_and_they_start_in_order() -> None:
    services = compose()["services"]
    for name in ("postgres", "redis", "registry", "scheduler", "jobs", "gateway"):
        assert services[name]["healthcheck"]["test"], name
    for name in ("registry", "scheduler", "gateway"):
        port = {"registry": 8001, "scheduler": 8002, "gateway": 8000}[name]
        assert f"http://127.0.0.1:{port}/readyz" in " ".join(services[name]["healthcheck"]["test"]), name
    assert services["jobs"]["depends_on"]["migrate"]["condition"] == "service_completed_successfully"
    assert services["gateway"]["depends_on"] == {
        "redis": {"condition": "service_healthy"},
        "registry": {"condition": "service_healthy"},
        "scheduler": {"condition": "service_healthy"},
    }


def test_jobs_runner_redis_and_metrics_stay_internal() -> None:
    services = compose()["services"]
    assert services["jobs"]["command"] == ["safework", "jobs", "run"]
    assert services["gateway"]["environment"]["REDIS_URL"].startswith("redis://redis:6379/")
    metrics = {"gateway": "9100", "registry": "9101", "scheduler": "9102", "jobs": "9103"}
    for name, port in metrics.items():
        env = services[name]["environment"]
        prefix = name.upper()
        assert env[f"{prefix}_METRICS_PORT"] == port and port in services[name]["expose"], name
    assert services["gateway"]["ports"] == ["8000:8000"]  # never a metrics port
    # Several workers' metrics meet in a tmpfs of each service (empty at each container start).
    for name in metrics:
        directory = services[name]["environment"]["PROMETHEUS_MULTIPROC_DIR"]
        assert any(t.startswith(directory + ":") for t in services[name]["tmpfs"]), name
    assert "PROMETHEUS_MULTIPROC_DIR" not in services["migrate"]["environment"]
    for name in ("postgres", "redis", "jobs"):
        assert "ports" not in services[name], name


def test_secrets_generate_gives_every_secret_compose_asks_for(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """``safework secrets generate -o .env``: each ``${VAR:?...}`` of docker-compose.yml has a
    value, the values work (the settings of each service load in production with them, the
    internal token signs and verifies), and the file is the operator's only (0600)."""
    import base64

    from dotenv import dotenv_values
    from typer.testing import CliRunner

    from safework_cli.main import app
    from safework_common.internal_auth import Caller, InternalTokenMinter, InternalTokenVerifier

    env_file = tmp_path / ".env"
    result = CliRunner().invoke(app, ["secrets", "generate", "--output", str(env_file)])
    assert result.exit_code == 0, result.output
    assert env_file.stat().st_mode & 0o777 == 0o600
    values = dotenv_values(env_file)
    required = set(re.findall(r"\$\{(\w+):\?", (ROOT / "docker-compose.yml").read_text()))
    assert required and required <= {k for k, v in values.items() if v}, required - set(values)

    minter = InternalTokenMinter(str(values["GATEWAY_INTERNAL_TOKEN_PRIVATE_KEY"]).encode())
    verifier = InternalTokenVerifier(str(values["INTERNAL_TOKEN_PUBLIC_KEY"]).encode())
    token = minter.mint(Caller(subject="service:test", role="system"))
    assert verifier.verify(token).subject == "service:test"
    kek = str(values["GATEWAY_KEY_ENCRYPTION_KEY"])
    assert len(base64.urlsafe_b64decode(kek + "=" * (-len(kek) % 4))) == 32
    from safework_gateway.settings import GatewaySettings
    from safework_registry.settings import RegistrySettings
    from safework_scheduler.settings import SchedulerSettings

    for key, value in values.items():
        monkeypatch.setenv(key, str(value))
    monkeypatch.setenv("SAFEWORK_ENV", "production")
    monkeypatch.setenv("DATABASE_URL", f"postgresql://safework:{values['POSTGRES_PASSWORD']}@postgres:5432/safework")
    for settings in (GatewaySettings, RegistrySettings, SchedulerSettings):
        assert settings().environment == "production"

    # Never overwritten; and two runs never give the same secrets.
    again = CliRunner().invoke(app, ["secrets", "generate", "--output", str(env_file)])
    assert again.exit_code == 1 and "never overwritten" in again.output
    printed = CliRunner().invoke(app, ["secrets", "generate"])
    password = values["POSTGRES_PASSWORD"]
    assert password is not None
    assert printed.exit_code == 0 and password not in printed.stdout
