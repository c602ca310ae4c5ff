"""Client management for the authority. The province authority manages every client; a district
authority only enterprise clients of enterprises in its district (the registry says which)."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Query
from fastapi.responses import JSONResponse

from safework_common.errors import ERROR_RESPONSES, NotFound, Unprocessable
from safework_common.scope import caller_district, in_district, require_province, sees_everything
from safework_gateway.auth.access import Scope, allow
from safework_gateway.auth.principal import Principal
from safework_gateway.clients import service
from safework_gateway.clients.models import Client
from safework_gateway.clients.schemas import ClientCreate, ClientOut, ClientPage, ClientRole, ClientWithSecret
from safework_gateway.deps import Auth, Registry, Session, Settings
from safework_gateway.upstream import UpstreamError

router = APIRouter(prefix="/clients", tags=["authority: clients"], responses=ERROR_RESPONSES)

AuthorityCaller = Annotated[Principal, allow("authority", scope=Scope.DISTRICT)]
_NO_STORE = {"Cache-Control": "no-store"}


def _visible(principal: Principal, client: Client | None) -> Client:
    """The client if this authority may manage it, else 404 as if it did not exist."""
    if client is not None and (
        sees_everything(principal) or (client.role == "enterprise" and in_district(principal, client.owner_district))
    ):
        return client
    raise NotFound("No such client.", code="client_not_found")


async def _scope_target(body: ClientCreate, principal: Principal, registry: Registry) -> str | None:
    """Check the body's scope fields against the role and the registry; return the district that
    may manage the new client."""
    fields = {"district": body.district, "enterprise_id": body.enterprise_id, "lab_id": body.lab_id}
    needed = {"enterprise": "enterprise_id", "lab": "lab_id"}.get(body.role)
    for name, value in fields.items():
        allowed = name == needed or (name == "district" and body.role == "authority")
        if value is not None and not allowed:
            raise Unprocessable(
                f"{name} is not allowed for role {body.role}.", code="field_not_allowed", field=f"body.{name}"
            )
    if needed is not None and fields[needed] is None:
        raise Unprocessable(
            f"{needed} is required for role {body.role}.", code="field_required", field=f"body.{needed}"
        )
    if body.role != "enterprise":  # a district authority creates enterprise clients only
        require_province(principal, field="body.role")
    caller = principal.caller()
    try:
        if body.role == "enterprise":
            enterprise: dict[str, Any] = await registry.json("GET", f"/v1/enterprises/{body.enterprise_id}", caller)
            district = enterprise.get("district")
            return str(district) if district is not None else None
        if body.role == "lab":
            await registry.json("GET", f"/v1/labs/{body.lab_id}", caller)
            return None
    except UpstreamError as exc:
        if exc.status_code == 404:
            raise NotFound(f"No such {body.role}.", code=f"{body.role}_not_found", field=f"body.{needed}") from exc
        raise
    return body.district


@router.post(
    "",
    status_code=201,
    response_model=ClientWithSecret,
    summary="Create a client; its secret is shown in this answer only",
)
async def create_client(
    body: ClientCreate, principal: AuthorityCaller, session: Session, registry: Registry, settings: Settings
) -> JSONResponse:
    owner_district = await _scope_target(body, principal, registry)
    client, secret = await service.create_client(
        session,
        name=body.name,
        role=body.role,
        created_by=principal.subject,
        district=body.district,
        enterprise_id=body.enterprise_id,
        lab_id=body.lab_id,
        owner_district=owner_district,
        hasher=settings.client_secret_hasher(),
    )
    out = ClientWithSecret(**ClientOut.model_validate(client).model_dump(), client_secret=secret)
    return JSONResponse(out.model_dump(mode="json"), status_code=201, headers=_NO_STORE)


@router.get("", response_model=ClientPage, summary="List clients (a district authority: its enterprises')")
async def list_clients(
    principal: AuthorityCaller,
    session: Session,
    role: ClientRole | None = None,
    enterprise_id: uuid.UUID | None = None,
    cursor: Annotated[str | None, Query(max_length=64)] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> ClientPage:
    rows = await service.page(
        session,
        owner_district=caller_district(principal),
        role=role,
        enterprise_id=enterprise_id,
        cursor=cursor,
        limit=limit + 1,
    )
    items = [ClientOut.model_validate(c) for c in rows[:limit]]
    return ClientPage(items=items, next_cursor=items[-1].client_id if len(rows) > limit else None)


@router.get("/{client_id}", response_model=ClientOut, summary="One client")
async def get_client(client_id: str, principal: AuthorityCaller, session: Session) -> ClientOut:
    return ClientOut.model_validate(_visible(principal, await session.get(Client, client_id)))


@router.post(
    "/{client_id}/rotate-secret",
    response_model=ClientWithSecret,
    summary="A new secret, shown once; the old one stops working",
)
async def rotate_secret(
    client_id: str, principal: AuthorityCaller, session: Session, settings: Settings
) -> JSONResponse:
    client = _visible(principal, await session.get(Client, client_id, with_for_update=True))
    secret = await service.rotate_secret(session, client, settings.client_secret_hasher())
    out = ClientWithSecret(**ClientOut.model_validate(client).model_dump(), client_secret=secret)
    return JSONResponse(out.model_dump(mode="json"), headers=_NO_STORE)


@router.post("/{client_id}/disable", response_model=ClientOut, summary="Disable a client; its tokens stop working")
async def disable_client(client_id: str, principal: AuthorityCaller, session: Session, auth: Auth) -> ClientOut:
    client = _visible(principal, await session.get(Client, client_id, with_for_update=True))
    await service.disable(session, client)
    # This process refuses its tokens at once; the others at their next refresh.
    auth.disable_client(client.client_id)
    return ClientOut.model_validate(client)
