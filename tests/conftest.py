"""Shared fixtures: a real PostgreSQL database per session, keys, and in-process apps."""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from safework_cli import migrate
from safework_cli.policy import load_policies
from safework_common.internal_auth import INTERNAL_HEADER, Caller, InternalTokenMinter, generate_keypair
from safework_common.settings import plain_pg_url
from tests.support import apps, database

os.environ.setdefault("SAFEWORK_ENV", "test")


@pytest.fixture(scope="session", autouse=True)
def _frozen_imports() -> None:
    """The modules imported by collection frozen out of the garbage collector's walks (and each
    app once built: ``apps.freeze``)."""
    apps.freeze()


@pytest.fixture(scope="session")
def admin_url() -> Iterator[str]:
    with database.server_url() as url:
        yield url


def pytest_configure(config: pytest.Config) -> None:
    # Under xdist the controller names the run, so that it knows which template to drop.
    controller = getattr(config.option, "numprocesses", None) and not hasattr(config, "workerinput")
    if controller and config.getoption("testrunuid", None) is None:
        config.option.testrunuid = uuid.uuid4().hex


def pytest_unconfigure(config: pytest.Config) -> None:
    run = getattr(config.option, "testrunuid", None)
    url = os.environ.get("TEST_DATABASE_URL")
    if run and url and not hasattr(config, "workerinput"):
        admin = plain_pg_url(url)
        asyncio.run(database.drop_database(admin, database.with_database(admin, database.template_name(run))))


async def migrated(url: str) -> None:
    """The schema at its heads and the policy versions loaded: what every test starts from."""
    await asyncio.to_thread(migrate.upgrade, url, "heads", configure_logger=False)
    await load_policies(url)


@pytest.fixture(scope="session")
async def database_url(admin_url: str) -> AsyncIterator[str]:
    run = os.environ.get("PYTEST_XDIST_TESTRUNUID")
    if run:
        template = database.template_name(run)
        await database.ensure_template(admin_url, template, migrated)
        url = await database.create_database(admin_url, template=template)
    else:
        url = await database.create_database(admin_url)
        await migrated(url)
    yield url
    await database.drop_database(admin_url, url)


@pytest.fixture
async def db(database_url: str) -> AsyncIterator[str]:
    """The session's database, emptied after the test: every test starts from empty tables
    (only the tables the test wrote are truncated, ``database.reset``)."""
    yield database_url
    await database.reset(database_url)


@pytest.fixture(scope="session")
def keys_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    d = tmp_path_factory.mktemp("keys")
    private, public = generate_keypair()
    (d / "internal_ed25519.pem").write_bytes(private)
    (d / "internal_ed25519.pub.pem").write_bytes(public)
    (d / "national_id_hmac.key").write_text("test-national-id-key-0123456789abcdef")
    return d


@pytest.fixture(scope="session")
def minter(keys_dir: Path) -> InternalTokenMinter:
    return InternalTokenMinter((keys_dir / "internal_ed25519.pem").read_bytes())


@pytest.fixture(scope="session")
def common_settings(keys_dir: Path) -> dict[str, Any]:
    return {
        "environment": "test",
        "internal_token_public_key_file": keys_dir / "internal_ed25519.pub.pem",
    }


@asynccontextmanager
async def running(app: FastAPI, base_url: str = "http://test") -> AsyncIterator[httpx.AsyncClient]:
    """Run the app's lifespan and give a client that drives it in-process."""
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url=base_url) as client:
            yield client


def internal_headers(minter: InternalTokenMinter, caller: Caller) -> dict[str, str]:
    return {INTERNAL_HEADER: minter.mint(caller)}


AUTHORITY = Caller(subject="client:authority-1", role="authority", client_id="authority-1")


@pytest.fixture
def registry_app(db: str, common_settings: dict[str, Any], keys_dir: Path) -> FastAPI:
    from safework_registry.settings import RegistrySettings

    settings = RegistrySettings(
        database_url=db,
        national_id_key_file=keys_dir / "national_id_hmac.key",
        **common_settings,
    )
    return apps.registry(settings)


@pytest.fixture
async def registry(registry_app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    async with running(registry_app) as client:
        yield client


@pytest.fixture
def scheduler_app(db: str, common_settings: dict[str, Any]) -> FastAPI:
    from safework_scheduler.settings import SchedulerSettings

    return apps.scheduler(SchedulerSettings(database_url=db, **common_settings))


@pytest.fixture
async def scheduler(scheduler_app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    async with running(scheduler_app) as client:
        yield client


@pytest.fixture(params=["registry", "scheduler"])
async def internal_client(
    request: pytest.FixtureRequest, registry_app: FastAPI, scheduler_app: FastAPI
) -> AsyncIterator[httpx.AsyncClient]:
    """Each internal-only service in turn."""
    app = registry_app if request.param == "registry" else scheduler_app
    async with running(app) as client:
        yield client
