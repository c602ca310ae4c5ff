"""``/.well-known/jwks.json``: the public keys that verify the gateway's tokens (RFC 7517)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict

from safework_gateway.deps import Auth
from safework_gateway.keys.service import JWKS_MAX_AGE_SECONDS

router = APIRouter(tags=["auth"])


class JsonWebKey(BaseModel):
    """One public key (RFC 7517 §4, RFC 8037: Ed25519 as an OKP key)."""

    model_config = ConfigDict(extra="allow")

    kty: str
    kid: str
    crv: str | None = None
    x: str | None = None
    alg: str | None = None
    use: str | None = None


class JsonWebKeySet(BaseModel):
    keys: list[JsonWebKey]


_EXAMPLE: dict[str, Any] = {
    "keys": [
        {
            "kty": "OKP",
            "crv": "Ed25519",
            "x": "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo",
            "kid": "kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k",
            "alg": "EdDSA",
            "use": "sig",
        }
    ]
}


@router.get(
    "/.well-known/jwks.json",
    summary="JSON Web Key Set: the active and retiring signing keys",
    response_model=JsonWebKeySet,
    responses={200: {"content": {"application/json": {"example": _EXAMPLE}}}},
)
async def jwks(auth: Auth) -> JSONResponse:
    """Keys are published before they sign and stay published until every token they signed has
    expired, so a verifier caching this document for its max-age never misses a kid."""
    return JSONResponse(auth.ring.jwks, headers={"Cache-Control": f"public, max-age={JWKS_MAX_AGE_SECONDS}"})
