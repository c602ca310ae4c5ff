"""Annotated dependencies for the gateway's routers."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from safework_common.db import SessionDep
from safework_gateway.auth.state import AuthState
from safework_gateway.auth.tokens import TokenService
from safework_gateway.keys.crypto import KeyEncryptionKey, SecretHasher
from safework_gateway.settings import GatewaySettings
from safework_gateway.upstream import Upstream

Session = SessionDep


async def _settings(request: Request) -> GatewaySettings:
    settings: GatewaySettings = request.app.state.settings
    return settings


async def _registry(request: Request) -> Upstream:
    upstream: Upstream = request.app.state.registry
    return upstream


async def _scheduler(request: Request) -> Upstream:
    upstream: Upstream = request.app.state.scheduler
    return upstream


async def _tokens(request: Request) -> TokenService:
    tokens: TokenService = request.app.state.tokens
    return tokens


async def _auth(request: Request) -> AuthState:
    auth: AuthState = request.app.state.auth
    return auth


async def _hasher(request: Request) -> SecretHasher:
    hasher: SecretHasher = request.app.state.hasher
    return hasher


async def _kek(request: Request) -> KeyEncryptionKey:
    kek: KeyEncryptionKey = request.app.state.kek
    return kek


async def _sessionmaker(request: Request) -> async_sessionmaker[AsyncSession]:
    maker: async_sessionmaker[AsyncSession] = request.app.state.sessionmaker
    return maker


Settings = Annotated[GatewaySettings, Depends(_settings)]
Registry = Annotated[Upstream, Depends(_registry)]
Scheduler = Annotated[Upstream, Depends(_scheduler)]
Tokens = Annotated[TokenService, Depends(_tokens)]
Auth = Annotated[AuthState, Depends(_auth)]
Hasher = Annotated[SecretHasher, Depends(_hasher)]
Kek = Annotated[KeyEncryptionKey, Depends(_kek)]
Sessionmaker = Annotated[async_sessionmaker[AsyncSession], Depends(_sessionmaker)]
