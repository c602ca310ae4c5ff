"""Short, stable operation IDs (``postLabResults``), made from the method and the public path, so
every route, including one added later, gets one by the same rule without naming it by hand.

The rule: the method, then each literal path segment in camel case, a collection named by the
parameter that follows it in the singular (``/labs/{lab_id}/results`` is a lab's results:
``postLabResults``; ``/isolation/facilities/{facility_id}`` is ``getIsolationFacility``; ``/labs``
stays ``getLabs``). The API prefix is left out. A route may name its
own in :data:`OVERRIDES`; ``tests/gateway/test_openapi.py`` checks they are unique."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from pydantic import BaseModel

API_PREFIX = "/api/v1"
# A forwarded route's request body model, by its handler: turned into the body's schema by
# ``safework_gateway.openapi`` (the body is passed through as bytes, never parsed here).
BODY_MODELS: dict[Callable[..., Any], type[BaseModel]] = {}

OVERRIDES: dict[tuple[str, str], str] = {
    ("GET", "/.well-known/jwks.json"): "getJwks",
}


def _camel(segment: str) -> str:
    words = [w for w in re.split(r"[^A-Za-z0-9]+", segment) if w]
    return "".join(w[:1].upper() + w[1:] for w in words)


def _singular(word: str) -> str:
    if word.endswith("ies"):
        return word[:-3] + "y"  # facilities: facility
    return word[:-1] if word.endswith("s") and not word.endswith("ss") else word


def operation_id(method: str, path: str) -> str:
    method = method.upper()
    if (method, path) in OVERRIDES:
        return OVERRIDES[(method, path)]
    segments = [p for p in path.removeprefix(API_PREFIX).split("/") if p]
    words = []
    for i, segment in enumerate(segments):
        if segment.startswith("{"):
            continue
        followed_by_param = i + 1 < len(segments) and segments[i + 1].startswith("{")
        words.append(_camel(_singular(segment) if followed_by_param else segment))
    return method.lower() + "".join(words)
