"""What an app's route table says about one path (for the routes served ahead of the routers)."""

from __future__ import annotations

import re

from fastapi import FastAPI
from fastapi.routing import iter_route_contexts


def templates_matching(app: FastAPI, path: str) -> list[str]:
    """The path templates of every route of ``app`` (any method, routers included) that match
    ``path``, in the order the app tries them."""
    taking = []
    for ctx in iter_route_contexts(app.routes):
        template: str = ctx.path_format or getattr(ctx.original_route, "path_format", "") or ""
        pattern = re.sub(r"\{[^}:]+:path\}", ".*", template)
        if re.fullmatch(re.sub(r"\{[^}]+\}", "[^/]+", pattern), path):
            taking.append(template)
    return taking
