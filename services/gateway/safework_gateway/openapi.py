"""The public API's OpenAPI document: security schemes, audiences as tags, and each operation's
roles and scope (``x-safework-access``) read from the same declaration that enforces them."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

from safework_gateway.auth.access import api_routes

TAGS: list[dict[str, str]] = [
    {"name": "auth", "description": "Client credentials (RFC 6749 §4.4) and the public keys (RFC 7517)."},
    {"name": "worker app", "description": "The sanctioned mobile app: activation, device tokens, own records."},
    {"name": "lab", "description": "Labs: result batches (single and pooled) and read-back."},
    {"name": "enterprise", "description": "Enterprises: roster, activation codes, due list, compliance."},
    {"name": "authority", "description": "The province or district health authority."},
    {"name": "authority: clients", "description": "Client accounts for labs, enterprises and authorities."},
    {"name": "reference data", "description": "Vaccine products and policy versions."},
    {"name": "health", "description": "Liveness and readiness."},
]

_ROLE_NOTES = {
    "none": "",
    "enterprise": " An enterprise reaches only its own enterprise; another's answers 404.",
    "lab": " A lab reaches only its own submissions; another lab's answers 404.",
    "self": " The worker's own record, named by the device token.",
    "upstream": " Objects outside the caller's scope answer 404.",
    "province": " The province authority only (a district authority gets 403 province_only).",
    "district": " A district authority reaches only its district's enterprise clients; others answer 404.",
}


def install_openapi(app: FastAPI) -> None:
    def openapi() -> dict[str, Any]:
        if app.openapi_schema is not None:
            return app.openapi_schema
        schema = get_openapi(
            title=app.title,
            version=app.version,
            description=app.description,
            routes=app.routes,
            tags=TAGS,
        )
        for info in api_routes(app):
            op = schema["paths"].get(info.path, {}).get(info.method.lower())
            if op is None or info.access is None:
                continue
            described = info.access.describe()
            op["x-safework-access"] = described
            note = f"**Roles:** {', '.join(described['roles'])}.{_ROLE_NOTES[described['scope']]}"
            op["description"] = f"{op.get('description', '')}\n\n{note}".strip()
            op.setdefault("responses", {}).setdefault("429", {"description": "Rate limited; see Retry-After"})
        app.openapi_schema = schema
        return schema

    app.openapi = openapi  # type: ignore[method-assign]
