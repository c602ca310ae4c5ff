"""National ID numbers as the contract takes them: two forms are valid (seeds: Vietnamese identity
documents), the 12-digit citizen ID (CCCD), whose first three digits are a province code
(001-096) and fourth a century/sex digit, and the 9-digit old ID (CMND)."""

from __future__ import annotations

import re

_CCCD = re.compile(r"^[0-9]{12}$")
_CMND = re.compile(r"^[0-9]{9}$")


class InvalidNationalId(ValueError):
    pass


def normalize(raw: str) -> str:
    """Strip spaces and dashes; validate; return the bare digits."""
    value = re.sub(r"[\s\-.]", "", raw)
    if _CCCD.match(value):
        province = int(value[:3])
        if not 1 <= province <= 96:
            raise InvalidNationalId("a 12-digit citizen ID starts with a province code 001-096")
        if value[3] not in "0123456789":  # century/sex digit; every digit is a defined code
            raise InvalidNationalId("invalid century/sex digit")
        return value
    if _CMND.match(value):
        return value
    raise InvalidNationalId("a national ID is 12 digits (citizen ID) or 9 digits (old ID)")


def kind(value: str) -> str:
    return "CCCD" if len(value) == 12 else "CMND"
