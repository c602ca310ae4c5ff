"""Fixtures for the registry's enterprise, person, roster, site, venue and lab tests: callers
bound to the in-process registry, enterprises made through the API, direct SQL reads."""

from __future__ import annotations

import itertools
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import asyncpg
import httpx
import pytest

from safework_common.internal_auth import InternalTokenMinter
from tests.callers import PROVINCE, As

MakeEnterprise = Callable[..., Awaitable[dict[str, Any]]]
Sql = Callable[..., Awaitable[list[asyncpg.Record]]]

_tax_codes = itertools.count(2400000001)
_national_ids = itertools.count(1)


def next_national_id(province: str = "024") -> str:
    """A fresh valid 12-digit citizen ID (province code, century/sex digit, 8 digits)."""
    return f"{province}1{next(_national_ids):08d}"


def person_body(employee_code: str, **overrides: Any) -> dict[str, Any]:
    """A valid person / roster item (a worker born 1995), with a fresh national ID."""
    body: dict[str, Any] = {
        "national_id": next_national_id(),
        "full_name": f"Nguyễn Văn {employee_code}",
        "date_of_birth": "1995-03-08",
        "sex": "male",
        "employee_code": employee_code,
    }
    body.update(overrides)
    return body


@pytest.fixture
def api(registry: httpx.AsyncClient, minter: InternalTokenMinter) -> As:
    """``api(caller).get(...)``: the in-process registry as any caller."""
    return As(registry, minter)


@pytest.fixture
def make_enterprise(api: As) -> MakeEnterprise:
    """Register an enterprise as the province authority; returns its JSON."""

    async def make(**overrides: Any) -> dict[str, Any]:
        body: dict[str, Any] = {
            "tax_code": str(next(_tax_codes)),
            "name": "Công ty TNHH May Việt Yên",
            "district": "Việt Yên",
            "zone_type": "KCN",
            "zone_name": "KCN Vân Trung",
            "industry": "garment",
            "headcount": 100,
        }
        body.update(overrides)
        r = await api(PROVINCE).post("/v1/enterprises", json=body)
        assert r.status_code == 201, r.text
        result: dict[str, Any] = r.json()
        return result

    return make


@pytest.fixture
def sql(db: str) -> Sql:
    """Run one statement against the test database and return its rows."""

    async def run(query: str, *args: Any) -> list[asyncpg.Record]:
        conn = await asyncpg.connect(db)
        try:
            return list(await conn.fetch(query, *args))
        finally:
            await conn.close()

    return run


def uid(value: Any) -> uuid.UUID:
    return uuid.UUID(str(value))
