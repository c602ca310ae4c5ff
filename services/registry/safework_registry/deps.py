"""Annotated dependencies used by the registry's routers."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends
from sqlalchemy.ext.asyncio import AsyncSession

from safework_common.db import get_session
from safework_common.internal_auth import Caller, internal_caller

Session = Annotated[AsyncSession, Depends(get_session)]
CallerDep = Annotated[Caller, Depends(internal_caller)]
