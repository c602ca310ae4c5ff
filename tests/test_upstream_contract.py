"""The upstreams (registry, scheduler) keep the public contract themselves (issue 15), not only
behind the gateway:

- an unknown query parameter is refused like an unknown body field, with the gateway's code and
  envelope (422 ``unknown_query_parameter`` with the field), and the declared ones pass;
- every query parameter the gateway forwards to a route is one the upstream route declares (else
  the upstream would refuse what the gateway lets through);
- every operation's success answer is a named schema in the upstream's own OpenAPI."""

from __future__ import annotations

import re
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from safework_common.internal_auth import InternalTokenMinter
from safework_gateway.forwarding.routes import FORWARDS
from tests.callers import PROVINCE, As
from tests.gateway.test_openapi import FILE_ANSWERS

# One list route of each service, with a parameter it declares and a misspelt one.
UNKNOWN_QUERY: dict[str, tuple[str, dict[str, str | int], str]] = {
    "registry": ("/v1/enterprises", {"limit": 5, "zone_type": "KCN"}, "zone_typ"),
    "scheduler": ("/v1/vaccines/queue", {"limit": 5, "tier": 1}, "teir"),
}


@pytest.mark.parametrize("service", sorted(UNKNOWN_QUERY))
async def test_an_unknown_query_parameter_is_refused_by_the_upstream_itself(
    service: str, registry: httpx.AsyncClient, scheduler: httpx.AsyncClient, minter: InternalTokenMinter
) -> None:
    """Rule (issue 15): a misspelt filter is refused with the field, never ignored and answered
    for everything, by the service too (a caller inside the network, a gateway route that
    forwards more than the upstream reads)."""
    client = As(registry if service == "registry" else scheduler, minter)(PROVINCE)
    path, declared, misspelt = UNKNOWN_QUERY[service]
    ok = await client.get(path, params=declared)
    assert ok.status_code == 200, ok.text
    r = await client.get(path, params={**declared, misspelt: "x"})
    assert r.status_code == 422, r.text
    error = r.json()["error"]
    assert error["code"] == "unknown_query_parameter"
    assert [(d["field"], d["code"]) for d in error["details"]] == [(f"query.{misspelt}", "unknown_query_parameter")]


def _upstream_queries(app: FastAPI) -> dict[tuple[str, str], set[str]]:
    doc = app.openapi()
    return {
        (method.upper(), path): {p["name"] for p in op.get("parameters", []) if p["in"] == "query"}
        for path, item in doc["paths"].items()
        for method, op in item.items()
    }


def test_every_query_parameter_the_gateway_forwards_is_declared_upstream(
    registry_app: FastAPI, scheduler_app: FastAPI
) -> None:
    upstreams = {"registry": _upstream_queries(registry_app), "scheduler": _upstream_queries(scheduler_app)}
    missing = []
    for forward in FORWARDS:
        declared = upstreams[forward.upstream].get((forward.method, forward.target))
        assert declared is not None, f"{forward.method} {forward.target} is not a {forward.upstream} route"
        extra = {q.name for q in forward.query} - declared
        if extra:
            missing.append(f"{forward.method} {forward.target}: {sorted(extra)}")
    assert not missing, "\n".join(missing)


def test_as_of_is_public_wherever_the_upstream_applies_rules_at_it(
    registry_app: FastAPI, scheduler_app: FastAPI
) -> None:
    """Issue 15: ``as_of`` everywhere a rule is applied. A forwarded route whose upstream takes
    ``as_of`` publishes it (the person summary's risk flags were judged at ``as_of`` upstream,
    and the gateway refused the parameter)."""
    upstreams = {"registry": _upstream_queries(registry_app), "scheduler": _upstream_queries(scheduler_app)}
    hidden = [
        f"{f.method} {f.target}"
        for f in FORWARDS
        if "as_of" in upstreams[f.upstream][(f.method, f.target)] and "as_of" not in {q.name for q in f.query}
    ]
    assert not hidden, hidden


def _untyped(doc: dict[str, Any]) -> list[str]:
    components = doc["components"]["schemas"]
    untyped = []
    for path, item in doc["paths"].items():
        for method, op in item.items():
            for status, answer in op["responses"].items():
                if not status.startswith("2") or status == "204":
                    continue
                content = answer.get("content", {})
                if content and all(kind.startswith(FILE_ANSWERS) for kind in content):
                    continue  # a file (a QR code, an upload template), not a JSON body
                json_like = [c for m, c in content.items() if re.fullmatch(r"application/(.+\+)?json", m)]
                body = json_like[0].get("schema", {}) if json_like else {}
                ref = body.get("$ref")
                if ref is None:
                    untyped.append(f"{method.upper()} {path} {status}")
                    continue
                target = components[ref.rsplit("/", 1)[1]]
                if target.get("type") == "object" and not target.get("properties"):
                    untyped.append(f"{method.upper()} {path} {status}: {ref} has no properties")
    return untyped


@pytest.mark.parametrize("service", ["registry", "scheduler"])
def test_every_upstream_success_answer_has_a_named_schema(
    service: str, registry_app: FastAPI, scheduler_app: FastAPI
) -> None:
    """Rule (issue 15): the services answer their typed contract models, so their own OpenAPI
    names a schema for every success answer (only 204 carries no body); a route returning a
    bare dict fails here."""
    app = registry_app if service == "registry" else scheduler_app
    untyped = _untyped(app.openapi())
    assert not untyped, "\n".join(untyped)
