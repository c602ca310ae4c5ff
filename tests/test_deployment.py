"""docker-compose.yml has the shape the deployment needs (no Docker engine runs here to try it)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

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
    assert migrate["command"] == ["safework", "db", "upgrade"]
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
