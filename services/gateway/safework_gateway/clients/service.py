"""Clients: create, authenticate (argon2, constant work for unknown ids), rotate, disable."""

from __future__ import annotations

import asyncio
import functools
import secrets
import uuid

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from safework_common.errors import Unauthorized
from safework_gateway.clients.models import Client

# argon2-cffi's default costs; the gateway uses its settings' (``client_secret_hasher``).
DEFAULT_HASHER = PasswordHasher()


@functools.cache
def hasher_for(time_cost: int, memory_cost: int, parallelism: int) -> PasswordHasher:
    return PasswordHasher(time_cost=time_cost, memory_cost=memory_cost, parallelism=parallelism)


@functools.cache
def _dummy_hash(time_cost: int, memory_cost: int, parallelism: int) -> str:
    """Unknown client ids are verified against this, so they cost what a wrong secret costs
    (made on first need, not on import: a hash at the default costs is ~0.2 s of CPU)."""
    return hasher_for(time_cost, memory_cost, parallelism).hash(secrets.token_urlsafe(32))


def _costs(hasher: PasswordHasher) -> tuple[int, int, int]:
    return hasher.time_cost, hasher.memory_cost, hasher.parallelism


def new_secret() -> str:
    return secrets.token_urlsafe(32)


def new_client_id(role: str) -> str:
    return f"{role}-{secrets.token_hex(10)}"


async def hash_secret(secret: str, hasher: PasswordHasher = DEFAULT_HASHER) -> str:
    return await asyncio.to_thread(hasher.hash, secret)


def _verify(hasher: PasswordHasher, secret_hash: str, secret: str) -> bool:
    try:
        return hasher.verify(secret_hash, secret)
    except (VerificationError, InvalidHashError):
        return False


async def create_client(
    session: AsyncSession,
    *,
    name: str,
    role: str,
    created_by: str,
    district: str | None = None,
    enterprise_id: uuid.UUID | None = None,
    lab_id: uuid.UUID | None = None,
    owner_district: str | None = None,
    hasher: PasswordHasher = DEFAULT_HASHER,
) -> tuple[Client, str]:
    """A new client and its secret (returned once), hashed with ``hasher``'s costs."""
    secret = new_secret()
    client = Client(
        client_id=new_client_id(role),
        name=name,
        secret_hash=await hash_secret(secret, hasher),
        role=role,
        district=district,
        enterprise_id=enterprise_id,
        lab_id=lab_id,
        owner_district=owner_district,
        active=True,
        created_by=created_by,
    )
    session.add(client)
    await session.flush()
    await session.refresh(client)
    return client, secret


INVALID_CLIENT = "The client credentials are not valid."


async def authenticate(
    session: AsyncSession, client_id: str, secret: str, hasher: PasswordHasher = DEFAULT_HASHER
) -> Client:
    """The active client with this id and secret, or 401 ``invalid_client`` — the same answer,
    after the same work, for an unknown id, a wrong secret and a disabled client. A secret
    hashed with other costs than ``hasher``'s is rehashed with them."""
    client = await session.get(Client, client_id) if len(client_id) <= 64 else None
    secret_hash = client.secret_hash if client is not None else _dummy_hash(*_costs(hasher))
    ok = await asyncio.to_thread(_verify, hasher, secret_hash, secret)
    if client is None or not ok or not client.active:
        raise Unauthorized(
            INVALID_CLIENT, code="invalid_client", headers={"WWW-Authenticate": 'Basic realm="safework"'}
        )
    if hasher.check_needs_rehash(client.secret_hash):
        client.secret_hash = await hash_secret(secret, hasher)
        await session.flush()
    return client


async def rotate_secret(session: AsyncSession, client: Client, hasher: PasswordHasher = DEFAULT_HASHER) -> str:
    secret = new_secret()
    client.secret_hash = await hash_secret(secret, hasher)
    await session.flush()
    await session.refresh(client)
    return secret


async def disable(session: AsyncSession, client: Client) -> None:
    client.active = False
    await session.flush()
    await session.refresh(client)


async def page(
    session: AsyncSession,
    *,
    owner_district: str | None,
    role: str | None,
    enterprise_id: uuid.UUID | None,
    cursor: str | None,
    limit: int,
) -> list[Client]:
    q = select(Client).order_by(Client.client_id).limit(limit)
    if owner_district is not None:
        q = q.where(Client.owner_district == owner_district, Client.role == "enterprise")
    if role is not None:
        q = q.where(Client.role == role)
    if enterprise_id is not None:
        q = q.where(Client.enterprise_id == enterprise_id)
    if cursor is not None:
        q = q.where(Client.client_id > cursor)
    return list((await session.scalars(q)).all())
