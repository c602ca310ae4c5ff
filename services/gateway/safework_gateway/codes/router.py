"""``GET /api/v1/codes``: the catalogue of every error and reason code, open to anyone (it holds
no one's data), in the language of ``Accept-Language``."""

from __future__ import annotations

from fastapi import APIRouter

from safework_common.contract.catalogue import CodesPage, catalogue
from safework_common.i18n import language_var

router = APIRouter(tags=["reference data"])


@router.get("/codes", summary="Every error code and reason code, with its message in Vietnamese and English")
async def codes() -> CodesPage:
    """Errors with their HTTP statuses, reasons with their seed clause; `message` in the
    language asked for (`Accept-Language: vi` or `en`; default `en`), `messages` in both."""
    return catalogue(language_var.get())
