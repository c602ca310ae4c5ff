"""Callers as the gateway would vouch for them, for driving the internal services in tests."""

from __future__ import annotations

import uuid

import httpx

from safework_common.internal_auth import INTERNAL_HEADER, Caller, InternalTokenMinter

PROVINCE = Caller(subject="client:province", role="authority", client_id="province")
SYSTEM = Caller(subject="system", role="system", client_id="system")


def district_authority(district: str) -> Caller:
    return Caller(
        subject=f"client:district-{district}", role="authority", client_id=f"district-{district}", district=district
    )


def enterprise(enterprise_id: uuid.UUID | str) -> Caller:
    return Caller(
        subject=f"client:ent-{enterprise_id}",
        role="enterprise",
        client_id=f"ent-{enterprise_id}",
        enterprise_id=str(enterprise_id),
    )


def lab(lab_id: uuid.UUID | str) -> Caller:
    return Caller(subject=f"client:lab-{lab_id}", role="lab", client_id=f"lab-{lab_id}", lab_id=str(lab_id))


def worker(person_id: uuid.UUID | str, enterprise_id: uuid.UUID | str | None = None) -> Caller:
    return Caller(
        subject=f"device:{person_id}",
        role="worker",
        person_id=str(person_id),
        enterprise_id=None if enterprise_id is None else str(enterprise_id),
    )


class As:
    """``As(client, minter)(caller).get(...)``: the same in-process client, another caller."""

    def __init__(self, client: httpx.AsyncClient, minter: InternalTokenMinter) -> None:
        self.client = client
        self.minter = minter

    def __call__(self, caller: Caller) -> _Bound:
        return _Bound(self.client, {INTERNAL_HEADER: self.minter.mint(caller)})


class _Bound:
    def __init__(self, client: httpx.AsyncClient, headers: dict[str, str]) -> None:
        self.client = client
        self.headers = headers

    async def request(self, method: str, url: str, **kw: object) -> httpx.Response:
        headers = {**self.headers, **dict(kw.pop("headers", {}) or {})}  # type: ignore[call-overload]
        return await self.client.request(method, url, headers=headers, **kw)  # type: ignore[arg-type]

    async def get(self, url: str, **kw: object) -> httpx.Response:
        return await self.request("GET", url, **kw)

    async def post(self, url: str, **kw: object) -> httpx.Response:
        return await self.request("POST", url, **kw)

    async def put(self, url: str, **kw: object) -> httpx.Response:
        return await self.request("PUT", url, **kw)

    async def patch(self, url: str, **kw: object) -> httpx.Response:
        return await self.request("PATCH", url, **kw)

    async def delete(self, url: str, **kw: object) -> httpx.Response:
        return await self.request("DELETE", url, **kw)
