"""The public API's OpenAPI document: security schemes, audiences as tags, and each operation's
roles and scope (``x-safework-access``) read from the same declaration that enforces them."""

from __future__ import annotations

import json
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.constants import REF_TEMPLATE
from fastapi.openapi.utils import get_openapi
from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from safework_gateway.auth.access import api_routes
from safework_gateway.operation_ids import BODY_MODELS, operation_id

TAGS: list[dict[str, str]] = [
    {"name": "auth", "description": "Client credentials (RFC 6749 §4.4) and the public keys (RFC 7517)."},
    {"name": "worker app", "description": "The sanctioned mobile app: activation, device tokens, own records."},
    {"name": "lab", "description": "Labs: result batches (single and pooled) and read-back."},
    {"name": "enterprise", "description": "Enterprises: roster, activation codes, due list, compliance."},
    {"name": "authority", "description": "The province or district health authority."},
    {"name": "authority: clients", "description": "Client accounts for labs, enterprises and authorities."},
    {"name": "reference data", "description": "Vaccine products and policy versions."},
    {
        "name": "outbreak response",
        "description": "The authority: confirmed cases, their traced and declared contacts, quarantine rooms.",
    },
    {
        "name": "exports",
        "description": "Whole lists as streamed CSV (UTF-8 with BOM) or XLSX, with the JSON routes' filters and as_of.",
    },
    {
        "name": "fhir",
        "description": "FHIR R4: Patient, Immunization, Observation (LOINC), Organization; bulk NDJSON; lab Bundles.",
    },
    {"name": "public", "description": "No token: the list and map of enterprises declared safe (seeds/002 §2)."},
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
        _request_bodies(app, schema)
        for path, item in schema["paths"].items():
            for method, op in item.items():
                op["operationId"] = operation_id(method, path)
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


def _request_bodies(app: FastAPI, schema: dict[str, Any]) -> None:
    """A forwarded route's body is its contract model's schema, generated here (the gateway
    passes the bytes on without parsing them, so FastAPI does not see the model). One generation
    for all of them, named like FastAPI names its own; a name both use must mean the same schema."""
    ops: list[dict[str, Any]] = []
    models: list[type[BaseModel]] = []
    for info in api_routes(app):
        model = BODY_MODELS.get(info.route.endpoint)
        op = schema["paths"].get(info.path, {}).get(info.method.lower())
        if model is not None and op is not None:
            ops.append(op)
            models.append(model)
    if not models:
        return
    refs, defs = models_json_schema([(m, "validation") for m in models], ref_template=REF_TEMPLATE)
    components = schema.setdefault("components", {}).setdefault("schemas", {})
    for name, definition in defs.get("$defs", {}).items():
        known = components.setdefault(name, definition)
        if json.dumps(known, sort_keys=True) != json.dumps(definition, sort_keys=True):
            raise RuntimeError(f"two schemas named {name} in the public OpenAPI")
    for op, model in zip(ops, models, strict=True):
        op["requestBody"]["content"]["application/json"]["schema"] = refs[(model, "validation")]
