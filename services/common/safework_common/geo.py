"""Administrative units: the one place Safework knows which places exist and how they are spelt.

Bắc Giang province in 2021 had ten district-level units: the city (thành phố) Bắc Giang and nine
districts (huyện). Every district Safework stores or compares (an enterprise's, a boarding
house's, a district authority's, a filter, a vaccine plan's capacity map) goes through
:func:`canonical_district` first, so "Huyện Việt Yên", "viet yen" and "Việt Yên" are one
district, stored as ``"Việt Yên"``, and "Atlantis" is none.

Canonical form: the unit's name with its diacritics and without its kind ("Việt Yên", and
"Bắc Giang" for the city), as the seeded province and every example already spell it.

Accepted spellings: any case; with or without diacritics (precomposed or combining, the old
"Hoà" and the new "Hòa" placement of the tone mark alike); "đ" or "d"; an optional prefix
"Huyện"/"H." or "Thành phố"/"TP"/"TP."; spaces, dots, hyphens and underscores between words
in any number. A name of the province itself with its prefix ("Tỉnh Bắc Giang") is not a
district.

(The provinces, for ``home_province`` and travel destinations, are to be added here too.)
"""

from __future__ import annotations

import re
import unicodedata
from typing import Annotated, Any, Final

from pydantic import AfterValidator, StringConstraints, WithJsonSchema
from pydantic_core import PydanticCustomError

PROVINCE: Final = "Bắc Giang"

# (canonical name, kind) of the ten units, 2021 (Decree 2019-2020 boundaries; Việt Yên became a
# town only in 2024, after the period Safework models).
BAC_GIANG_DISTRICTS: Final[tuple[tuple[str, str], ...]] = (
    ("Bắc Giang", "thành phố"),
    ("Yên Thế", "huyện"),
    ("Tân Yên", "huyện"),
    ("Lạng Giang", "huyện"),
    ("Lục Nam", "huyện"),
    ("Lục Ngạn", "huyện"),
    ("Sơn Động", "huyện"),
    ("Yên Dũng", "huyện"),
    ("Việt Yên", "huyện"),
    ("Hiệp Hòa", "huyện"),
)
DISTRICTS: Final[tuple[str, ...]] = tuple(name for name, _ in BAC_GIANG_DISTRICTS)

# Prefixes naming the kind of unit, folded (see _fold), longest first so "thanh pho" wins over
# "tp"; each must be followed by a separator or end the prefix (so "Tân Yên" keeps its "T").
_PREFIXES: Final = ("thanh pho", "huyen", "tp", "h")
_SEPARATORS = re.compile(r"[\s._\-]+")
# The longest spelling worth folding: far above any real name with its prefix.
MAX_DISTRICT_LENGTH: Final = 64


def _fold(text: str) -> str:
    """Lower case, no diacritics, ``đ`` as ``d``, words separated by one space."""
    decomposed = unicodedata.normalize("NFD", text.strip().lower())
    bare = "".join(c for c in decomposed if not unicodedata.combining(c)).replace("đ", "d")
    return _SEPARATORS.sub(" ", bare).strip()


def _without_prefix(folded: str) -> str:
    for prefix in _PREFIXES:
        if folded.startswith(prefix + " "):
            return folded[len(prefix) + 1 :]
    return folded


_BY_KEY: Final[dict[str, str]] = {_fold(name).replace(" ", ""): name for name in DISTRICTS}
assert len(_BY_KEY) == len(DISTRICTS), "two districts fold to one spelling"


def canonical_district(name: str | None) -> str | None:
    """The canonical name of a Bắc Giang district, or None when ``name`` names none."""
    if name is None or len(name) > MAX_DISTRICT_LENGTH:
        return None
    key = _without_prefix(_fold(name)).replace(" ", "")
    return _BY_KEY.get(key)


def same_district(a: str | None, b: str | None) -> bool:
    """Whether two spellings name one known district (an unknown name equals nothing)."""
    ca = canonical_district(a)
    return ca is not None and ca == canonical_district(b)


def unknown_district_message() -> str:
    return "Not a district of Bắc Giang: one of " + ", ".join(DISTRICTS) + "."


def _validate_district(value: str) -> str:
    canonical = canonical_district(value)
    if canonical is None:
        raise PydanticCustomError("unknown_district", unknown_district_message())
    return canonical


# The contract names the canonical spellings only, so a client generated from the OpenAPI sends
# one of them; the services also take the other spellings above and store the canonical one.
DISTRICT_SCHEMA: Final[dict[str, Any]] = {
    "type": "string",
    "enum": list(DISTRICTS),
    "description": "A district of Bắc Giang (2021). Also accepted: other spellings (without diacritics, "
    "with 'Huyện'/'TP'/'Thành phố'); stored as the canonical name listed here.",
}

District = Annotated[
    str,
    StringConstraints(max_length=MAX_DISTRICT_LENGTH),
    AfterValidator(_validate_district),
    WithJsonSchema(DISTRICT_SCHEMA),
]
"""A request field naming a district: validated, answered in its canonical spelling; an unknown
one is 422 ``unknown_district`` with the field."""
