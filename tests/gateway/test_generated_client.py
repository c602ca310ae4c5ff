"""A client generated from the served OpenAPI works (issue 15): openapi-python-client generates
it without a warning, every module imports, the operations have their short names and typed
answers, and a small program using it type-checks with mypy."""

from __future__ import annotations

import asyncio
import importlib
import json
import os
import pkgutil
import subprocess
import sys
import typing
from pathlib import Path

from tests.gateway.conftest import Stack

PACKAGE = "safework_generated_client"
USAGE = f"""
from uuid import UUID

from {PACKAGE} import AuthenticatedClient
from {PACKAGE}.api.lab import post_lab_results
from {PACKAGE}.api.enterprise import get_person_due
from {PACKAGE}.models import BatchOutcome, PersonDueOut, ResultsBatchIn


def post(client: AuthenticatedClient, lab: UUID, batch: ResultsBatchIn) -> int | None:
    answer = post_lab_results.sync(lab, client=client, body=batch)
    return answer.accepted if isinstance(answer, BatchOutcome) else None


def due(client: AuthenticatedClient, person: UUID) -> list[str]:
    answer = get_person_due.sync(person, client=client)
    return [str(reason) for reason in answer.reasons] if isinstance(answer, PersonDueOut) else []
"""


# What README tells client authors to pass: images and spreadsheet files (issue 16) are bytes.
GENERATOR_CONFIG = {
    "content_type_overrides": {
        media: "application/octet-stream"
        for media in (
            "image/png",
            "image/svg+xml",
            "text/csv",
            "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        )
    }
}


def run(command: list[str], env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(command, capture_output=True, text=True, env=env, cwd=cwd, timeout=600, check=False)


async def test_a_client_generated_from_the_served_openapi_imports_and_type_checks(
    gateway: Stack, tmp_path: Path
) -> None:
    document = (await gateway.http.get("/openapi.json")).json()
    spec = tmp_path / "openapi.json"
    spec.write_text(json.dumps(document))
    # The QR routes (issue 17) answer images; the generator knows bytes by their generic type.
    config = tmp_path / "generator.json"
    config.write_text(json.dumps(GENERATOR_CONFIG))
    bin_dir = Path(sys.executable).parent
    env = {**os.environ, "PATH": f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}"}
    generated = await asyncio.to_thread(
        run,
        [str(bin_dir / "openapi-python-client"), "generate", "--path", str(spec),
         "--output-path", str(tmp_path / PACKAGE), "--meta", "none", "--config", str(config)],
        env, tmp_path,
    )  # fmt: skip
    assert generated.returncode == 0, generated.stdout + generated.stderr
    assert "Warning" not in generated.stdout + generated.stderr, generated.stdout + generated.stderr

    sys.path.insert(0, str(tmp_path))
    try:
        package = importlib.import_module(PACKAGE)
        modules = [m.name for m in pkgutil.walk_packages(package.__path__, f"{PACKAGE}.")]
        for name in modules:
            importlib.import_module(name)
        operations = {name.rsplit(".", 1)[1] for name in modules if ".api." in name}
        # One module per operation, named by its operation ID.
        assert {"post_lab_results", "get_me_status", "get_codes", "get_vaccine_products"} <= operations
        batch = importlib.import_module(f"{PACKAGE}.api.lab.post_lab_results")
        hints = typing.get_type_hints(batch.sync_detailed)
        assert "BatchOutcome" in str(hints["return"]), hints["return"]
    finally:
        sys.path.remove(str(tmp_path))
        for name in [m for m in sys.modules if m.startswith(PACKAGE)]:
            del sys.modules[name]

    usage = tmp_path / "usage.py"
    usage.write_text(USAGE)
    config = tmp_path / "mypy.ini"
    config.write_text("[mypy]\nstrict = True\nfollow_imports = silent\n")
    checked = await asyncio.to_thread(
        run,
        [sys.executable, "-m", "mypy", "--no-incremental", "--config-file", str(config), str(usage)],
        {**env, "MYPYPATH": str(tmp_path)}, tmp_path,
    )  # fmt: skip
    assert checked.returncode == 0, checked.stdout + checked.stderr
