"""`safework authority create`, `safework client create --role …` and `safework keys rotate|list`:
the gateway's credentials. Keys have a purpose (access tokens, gate passes, SMART Health Cards),
each rotated on its own: ``safework keys rotate --purpose pass``.

The first authority cannot be created through the API (nobody could authenticate yet), so the
command does it, straight in the gateway's tables; its secret is printed once."""

from __future__ import annotations

import asyncio
import uuid
from datetime import timedelta
from typing import Annotated

import typer
from sqlalchemy import select, text

from safework_common.db import make_engine, make_sessionmaker
from safework_common.geo import canonical_district, unknown_district_message
from safework_gateway.clients.service import create_client
from safework_gateway.keys.crypto import load_kek
from safework_gateway.keys.models import SigningKey
from safework_gateway.keys.service import PURPOSE_ALGORITHMS, ensure_signing_key, rotate, rotation_timing
from safework_gateway.settings import GatewaySettings

gateway_app = typer.Typer(no_args_is_help=True)
authority_app = typer.Typer(help="Authority clients of the public API.", no_args_is_help=True)
keys_app = typer.Typer(help="The keys that sign tokens, gate passes and health cards.", no_args_is_help=True)
client_app = typer.Typer(help="Clients of the public API: authorities, enterprises, labs.", no_args_is_help=True)
gateway_app.add_typer(authority_app, name="authority")
gateway_app.add_typer(client_app, name="client")
gateway_app.add_typer(keys_app, name="keys")


async def _create_authority(url: str, name: str, district: str | None) -> tuple[str, str]:
    engine = make_engine(url, pool_size=1)
    try:
        async with make_sessionmaker(engine)() as session, session.begin():
            client, secret = await create_client(
                session,
                name=name,
                role="authority",
                created_by="cli",
                district=district,
                owner_district=district,
            )
            return client.client_id, secret
    finally:
        await engine.dispose()


@authority_app.command("create")
def authority_create(
    name: Annotated[str, typer.Option(help="Who this is, e.g. 'Ban chỉ đạo tỉnh Bắc Giang'.")],
    district: Annotated[
        str | None,
        typer.Option(help="A district authority's district (one of Bắc Giang's ten, e.g. 'Việt Yên'); none: province."),
    ] = None,
) -> None:
    """Create an authority client and print its id and secret (shown this once only)."""
    if not name.strip() or len(name) > 255:
        raise typer.BadParameter("1 to 255 characters", param_hint="--name")
    canonical = None
    if district is not None:
        canonical = canonical_district(district)
        if canonical is None:
            raise typer.BadParameter(unknown_district_message(), param_hint="--district")
    from safework_cli.main import database, default_data_dir

    with database(default_data_dir()) as url:
        client_id, secret = asyncio.run(_create_authority(url, name.strip(), canonical))
    typer.echo(f"client_id:     {client_id}")
    typer.echo(f"client_secret: {secret}")
    typer.echo("Keep the secret now: only its hash is stored, it cannot be shown again.", err=True)


async def _create_client(
    url: str, name: str, role: str, district: str | None, enterprise_id: uuid.UUID | None, lab_id: uuid.UUID | None
) -> tuple[str, str]:
    """As ``POST /api/v1/clients`` does it: an enterprise client is managed from its enterprise's
    district; the enterprise or lab must exist (read from the registry's tables: the CLI is the
    operator, allowed to read every service's tables)."""
    engine = make_engine(url, pool_size=1)
    try:
        async with make_sessionmaker(engine)() as session, session.begin():
            owner = district
            if enterprise_id is not None:
                owner = await session.scalar(
                    text("SELECT district FROM enterprise WHERE id = :id"), {"id": enterprise_id}
                )
                if owner is None:
                    raise typer.BadParameter("no such enterprise", param_hint="--enterprise-id")
            if (
                lab_id is not None
                and await session.scalar(text("SELECT 1 FROM lab WHERE id = :id"), {"id": lab_id}) is None
            ):
                raise typer.BadParameter("no such lab", param_hint="--lab-id")
            client, secret = await create_client(
                session,
                name=name,
                role=role,
                created_by="cli",
                district=district,
                enterprise_id=enterprise_id,
                lab_id=lab_id,
                owner_district=owner,
            )
            return client.client_id, secret
    finally:
        await engine.dispose()


@client_app.command("create")
def client_create(
    role: Annotated[str, typer.Option(help="authority, enterprise or lab.")],
    name: Annotated[str, typer.Option(help="Who this is, e.g. 'Công ty TNHH ABC Vân Trung'.")],
    district: Annotated[str | None, typer.Option(help="An authority's district; none: the province.")] = None,
    enterprise_id: Annotated[uuid.UUID | None, typer.Option(help="An enterprise client's enterprise.")] = None,
    lab_id: Annotated[uuid.UUID | None, typer.Option(help="A lab client's lab.")] = None,
) -> None:
    """Create a client of any role and print its id and secret (shown this once only)."""
    needed = {"authority": None, "enterprise": "enterprise_id", "lab": "lab_id"}
    if role not in needed:
        raise typer.BadParameter("authority, enterprise or lab", param_hint="--role")
    given = {"district": district, "enterprise_id": enterprise_id, "lab_id": lab_id}
    for option, value in given.items():
        allowed = option == needed[role] or (option == "district" and role == "authority")
        if value is not None and not allowed:
            raise typer.BadParameter(f"not for role {role}", param_hint=f"--{option.replace('_', '-')}")
    if needed[role] is not None and given[str(needed[role])] is None:
        raise typer.BadParameter(f"required for role {role}", param_hint=f"--{str(needed[role]).replace('_', '-')}")
    if not name.strip() or len(name) > 255:
        raise typer.BadParameter("1 to 255 characters", param_hint="--name")
    canonical = None
    if district is not None:
        canonical = canonical_district(district)
        if canonical is None:
            raise typer.BadParameter(unknown_district_message(), param_hint="--district")
    from safework_cli.main import database, default_data_dir

    with database(default_data_dir()) as url:
        client_id, secret = asyncio.run(_create_client(url, name.strip(), role, canonical, enterprise_id, lab_id))
    typer.echo(f"client_id:     {client_id}")
    typer.echo(f"client_secret: {secret}")
    typer.echo("Keep the secret now: only its hash is stored, it cannot be shown again.", err=True)


def _rotation_timing(settings: GatewaySettings, purpose: str) -> tuple[timedelta, timedelta | None]:
    """(publish ahead, overlap) for ``purpose``: the old key stays published until the last thing
    it signed expires: an access token, a pass or the revocation list (signed by the pass key),
    never for a health card (it does not expire, so the old key stays)."""
    longest = {
        "token": settings.max_token_lifetime_seconds,
        "pass": max(settings.pass_max_ttl_seconds, settings.pass_revocation_list_ttl_seconds),
        "health_card": settings.max_token_lifetime_seconds,
    }[purpose]
    publish_ahead, overlap = rotation_timing(
        refresh_seconds=settings.key_refresh_seconds,
        max_token_lifetime_seconds=longest,
        leeway_seconds=settings.token_leeway_seconds,
    )
    return publish_ahead, None if purpose == "health_card" else overlap


async def _rotate(settings: GatewaySettings, purpose: str = "token") -> tuple[str, str]:
    kek = load_kek(settings)
    publish_ahead, overlap = _rotation_timing(settings, purpose)
    engine = make_engine(settings.database_url, pool_size=1)
    try:
        async with make_sessionmaker(engine)() as session, session.begin():
            first = await ensure_signing_key(session, kek, purpose)
            if first is not None:
                return first, f"the first {purpose} key of this install"
            key = await rotate(session, kek, publish_ahead=publish_ahead, overlap=overlap, purpose=purpose)
            until = "the old key stays published" if overlap is None else "the old key retires after its last use"
            return key.kid, f"signs from {key.not_before.isoformat(timespec='seconds')}; {until}"
    finally:
        await engine.dispose()


@keys_app.command("rotate")
def keys_rotate(
    purpose: Annotated[
        str, typer.Option(help="token (access tokens), pass (gate passes and their revocation list) or health_card.")
    ] = "token",
) -> None:
    """Add a new signing key of one purpose; the previous one keeps verifying until what it signed
    expires (a health-card key stays published: health cards do not expire)."""
    from safework_cli.main import database, default_data_dir

    if purpose not in PURPOSE_ALGORITHMS:
        raise typer.BadParameter(", ".join(PURPOSE_ALGORITHMS), param_hint="--purpose")
    with database(default_data_dir()) as url:
        kid, note = asyncio.run(_rotate(GatewaySettings(database_url=url), purpose))
    typer.echo(f"new {purpose} key {kid}: {note}")


async def _list(url: str) -> list[SigningKey]:
    engine = make_engine(url, pool_size=1)
    try:
        async with make_sessionmaker(engine)() as session:
            return list((await session.scalars(select(SigningKey).order_by(SigningKey.not_before))).all())
    finally:
        await engine.dispose()


@keys_app.command("list")
def keys_list() -> None:
    """Every signing key with its status and validity window (never the private halves)."""
    from safework_cli.main import database, default_data_dir

    with database(default_data_dir()) as url:
        keys = asyncio.run(_list(url))
    for key in keys:
        until = key.not_after.isoformat(timespec="seconds") if key.not_after else "-"
        since = key.not_before.isoformat(timespec="seconds")
        typer.echo(f"{key.kid}  {key.purpose:<11}  {key.status:<8}  from {since}  until {until}")
