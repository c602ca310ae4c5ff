"""``POST /api/v1/auth/token``: the OAuth2 client-credentials grant (RFC 6749 §4.4)."""

from __future__ import annotations

import base64
import binascii
from typing import Any
from urllib.parse import parse_qs, unquote_plus

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from safework_common.errors import ERROR_RESPONSES, BadRequest, Unauthorized
from safework_gateway.auth.access import AnonymousLimit
from safework_gateway.auth.tokens import TYP_CLIENT
from safework_gateway.clients import service
from safework_gateway.clients.schemas import TokenResponse
from safework_gateway.deps import Session, Settings, Tokens

router = APIRouter(tags=["auth"])

_FORM = "application/x-www-form-urlencoded"
_FORM_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["grant_type"],
    "properties": {
        "grant_type": {"type": "string", "enum": ["client_credentials"]},
        "client_id": {"type": "string", "description": "Or HTTP Basic (RFC 6749 §2.3.1)."},
        "client_secret": {"type": "string", "format": "password"},
        "scope": {"type": "string", "description": "Ignored: a client's scope is fixed by its role."},
    },
}


def _form(body: bytes) -> dict[str, str]:
    """The urlencoded form; a parameter sent twice is an error (RFC 6749 §3.2)."""
    try:
        parsed = parse_qs(body.decode("utf-8"), keep_blank_values=True, strict_parsing=bool(body))
    except (UnicodeDecodeError, ValueError) as exc:
        raise BadRequest("The form is malformed.", code="invalid_request") from exc
    form = {}
    for name, values in parsed.items():
        if len(values) != 1:
            raise BadRequest(f"{name} is repeated.", code="invalid_request", field=f"body.{name}")
        form[name] = values[0]
    return form


def _basic(header: str) -> tuple[str, str]:
    try:
        decoded = base64.b64decode(header, validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError) as exc:
        raise Unauthorized(service.INVALID_CLIENT, code="invalid_client") from exc
    client_id, sep, secret = decoded.partition(":")
    if not sep:
        raise Unauthorized(service.INVALID_CLIENT, code="invalid_client")
    return unquote_plus(client_id), unquote_plus(secret)


@router.post(
    "/auth/token",
    summary="Client credentials grant: a 15-minute access token for a lab, an enterprise or an authority",
    response_model=TokenResponse,
    dependencies=[AnonymousLimit],
    responses={**ERROR_RESPONSES, 429: {"description": "Too many attempts from this address"}},
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                _FORM: {
                    "schema": _FORM_SCHEMA,
                    "example": {
                        "grant_type": "client_credentials",
                        "client_id": "lab-0f1e2d3c4b5a69788796",
                        "client_secret": "…",
                    },
                }
            },
        }
    },
)
async def token(request: Request, session: Session, tokens: Tokens, settings: Settings) -> JSONResponse:
    """RFC 6749 §4.4: ``grant_type=client_credentials`` with the client's id and secret in the
    form body or in HTTP Basic. Unknown id and wrong secret get the same 401 ``invalid_client``."""
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type != _FORM:
        raise BadRequest(f"Send the form as {_FORM}.", code="unsupported_media_type", status_code=415)
    form = _form(await request.body())
    grant_type = form.get("grant_type")
    if not grant_type:
        raise BadRequest("grant_type is required.", code="invalid_request", field="body.grant_type")
    if grant_type != "client_credentials":
        raise BadRequest(
            "Only the client_credentials grant is supported.", code="unsupported_grant_type", field="body.grant_type"
        )
    header = request.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    if header and scheme.lower() == "basic":
        if "client_secret" in form:
            raise BadRequest("Send the credentials one way only.", code="invalid_request", field="body.client_secret")
        client_id, secret = _basic(value.strip())
    else:
        client_id, secret = form.get("client_id", ""), form.get("client_secret", "")
        if not client_id or not secret:
            raise Unauthorized(
                service.INVALID_CLIENT, code="invalid_client", headers={"WWW-Authenticate": 'Basic realm="safework"'}
            )
    client = await service.authenticate(session, client_id, secret, settings.client_secret_hasher())
    access_token, expires_in, scope = tokens.issue(
        subject=f"client:{client.client_id}",
        role=client.role,
        typ=TYP_CLIENT,
        ttl_seconds=settings.client_token_ttl_seconds,
        claims={
            "client_id": client.client_id,
            "district": client.district if client.role == "authority" else None,
            "enterprise_id": str(client.enterprise_id) if client.enterprise_id else None,
            "lab_id": str(client.lab_id) if client.lab_id else None,
        },
    )
    body = TokenResponse(access_token=access_token, expires_in=expires_in, scope=scope)
    return JSONResponse(body.model_dump(), headers={"Cache-Control": "no-store", "Pragma": "no-cache"})
