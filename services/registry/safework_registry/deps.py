"""Annotated dependencies used by the registry's routers."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from safework_common.db import SessionDep
from safework_common.internal_auth import Caller, internal_caller
from safework_registry.persons.national_id import NationalIdCipher

Session = SessionDep
CallerDep = Annotated[Caller, Depends(internal_caller)]


async def national_id_cipher(request: Request) -> NationalIdCipher:
    cipher: NationalIdCipher = request.app.state.national_id_cipher
    return cipher


Cipher = Annotated[NationalIdCipher, Depends(national_id_cipher)]
