"""Keyset pages: one bound on a page's size for every list of every service, and the gateway's
declaration of it, so a client generated from the OpenAPI never asks for more than is served."""

from __future__ import annotations

from typing import Annotated, Final

from fastapi import Query

MAX_LIMIT: Final = 1000

Limit = Annotated[int, Query(ge=1, le=MAX_LIMIT, description=f"Items per page, 1 to {MAX_LIMIT}.")]
