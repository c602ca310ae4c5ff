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

The 63 provinces and centrally-run cities of 2021 (:data:`PROVINCES`, with their codes of
Decision 124/2004/QĐ-TTg, the first digits of a citizen ID) are here too, for a person's home
province, a new hire's province of origin and a trip's destination: :func:`canonical_province`
takes "Tỉnh Nam Định", "nam dinh", "TP. Hồ Chí Minh", "TPHCM", and a district of Bắc Giang
("TP Bắc Giang", "Huyện Việt Yên": inside the province), and stores the canonical name.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable
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


def _known(canonical: Callable[[str | None], str | None], code: str, message: Callable[[], str]) -> AfterValidator:
    """The validator of a request field naming a place: its canonical spelling, or 422 ``code``."""

    def validate(value: str) -> str:
        found = canonical(value)
        if found is None:
            raise PydanticCustomError(code, message())
        return found

    return AfterValidator(validate)


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
    _known(canonical_district, "unknown_district", unknown_district_message),
    WithJsonSchema(DISTRICT_SCHEMA),
]
"""A request field naming a district: validated, answered in its canonical spelling; an unknown
one is 422 ``unknown_district`` with the field."""


# -- provinces ------------------------------------------------------------------------------

# (code, canonical name) of the 63 provinces and centrally-run cities of Vietnam in 2021, with the
# codes of Decision 124/2004/QĐ-TTg (a citizen ID's first three digits are "0" + the code).
# Written out here rather than taken from a package: the packages on PyPI follow today's map
# (the 2025 mergers), not the 2021 one Safework's rules speak of.
PROVINCES_2021: Final[tuple[tuple[str, str], ...]] = (
    ("01", "Hà Nội"),
    ("02", "Hà Giang"),
    ("04", "Cao Bằng"),
    ("06", "Bắc Kạn"),
    ("08", "Tuyên Quang"),
    ("10", "Lào Cai"),
    ("11", "Điện Biên"),
    ("12", "Lai Châu"),
    ("14", "Sơn La"),
    ("15", "Yên Bái"),
    ("17", "Hòa Bình"),
    ("19", "Thái Nguyên"),
    ("20", "Lạng Sơn"),
    ("22", "Quảng Ninh"),
    ("24", "Bắc Giang"),
    ("25", "Phú Thọ"),
    ("26", "Vĩnh Phúc"),
    ("27", "Bắc Ninh"),
    ("30", "Hải Dương"),
    ("31", "Hải Phòng"),
    ("33", "Hưng Yên"),
    ("34", "Thái Bình"),
    ("35", "Hà Nam"),
    ("36", "Nam Định"),
    ("37", "Ninh Bình"),
    ("38", "Thanh Hóa"),
    ("40", "Nghệ An"),
    ("42", "Hà Tĩnh"),
    ("44", "Quảng Bình"),
    ("45", "Quảng Trị"),
    ("46", "Thừa Thiên Huế"),
    ("48", "Đà Nẵng"),
    ("49", "Quảng Nam"),
    ("51", "Quảng Ngãi"),
    ("52", "Bình Định"),
    ("54", "Phú Yên"),
    ("56", "Khánh Hòa"),
    ("58", "Ninh Thuận"),
    ("60", "Bình Thuận"),
    ("62", "Kon Tum"),
    ("64", "Gia Lai"),
    ("66", "Đắk Lắk"),
    ("67", "Đắk Nông"),
    ("68", "Lâm Đồng"),
    ("70", "Bình Phước"),
    ("72", "Tây Ninh"),
    ("74", "Bình Dương"),
    ("75", "Đồng Nai"),
    ("77", "Bà Rịa - Vũng Tàu"),
    ("79", "Hồ Chí Minh"),
    ("80", "Long An"),
    ("82", "Tiền Giang"),
    ("83", "Bến Tre"),
    ("84", "Trà Vinh"),
    ("86", "Vĩnh Long"),
    ("87", "Đồng Tháp"),
    ("89", "An Giang"),
    ("91", "Kiên Giang"),
    ("92", "Cần Thơ"),
    ("93", "Hậu Giang"),
    ("94", "Sóc Trăng"),
    ("95", "Bạc Liêu"),
    ("96", "Cà Mau"),
)
PROVINCES: Final[tuple[str, ...]] = tuple(name for _, name in PROVINCES_2021)
PROVINCE_CODES: Final[dict[str, str]] = {name: code for code, name in PROVINCES_2021}
MAX_PROVINCE_LENGTH: Final = 64

# Prefixes naming the kind of unit, folded, longest first.
_PROVINCE_PREFIXES: Final = ("thanh pho", "tinh", "tp")
# Other names in common use (folded, without spaces).
_PROVINCE_ALIASES: Final[dict[str, str]] = {
    "hcm": "Hồ Chí Minh",
    "tphcm": "Hồ Chí Minh",
    "hochiminhcity": "Hồ Chí Minh",
    "saigon": "Hồ Chí Minh",
    "hue": "Thừa Thiên Huế",
    "hanoi": "Hà Nội",
    "brvt": "Bà Rịa - Vũng Tàu",
    "vungtau": "Bà Rịa - Vũng Tàu",
    "daklak": "Đắk Lắk",
    "daknong": "Đắk Nông",
}
_PROVINCE_BY_KEY: Final[dict[str, str]] = {_fold(name).replace(" ", ""): name for name in PROVINCES}
assert len(_PROVINCE_BY_KEY) == len(PROVINCES), "two provinces fold to one spelling"


def _province_key(folded: str) -> str:
    for prefix in _PROVINCE_PREFIXES:
        if folded.startswith(prefix + " "):
            folded = folded[len(prefix) + 1 :]
            break
        if prefix == "tp" and folded.startswith("tp") and folded[2:3].isalpha():
            # "TPHCM", "TP.HCM" (the dot is a separator already)
            folded = folded[2:]
            break
    return folded.replace(" ", "")


def canonical_province(name: str | None) -> str | None:
    """The canonical name of a province of 2021, or None when ``name`` names none. A district
    of Bắc Giang ("TP Bắc Giang", "Huyện Việt Yên") is inside Bắc Giang."""
    if name is None or len(name) > MAX_PROVINCE_LENGTH:
        return None
    folded = _fold(name)
    key = _province_key(folded)
    found = _PROVINCE_BY_KEY.get(key) or _PROVINCE_ALIASES.get(key)
    if found is not None:
        return found
    if folded.startswith("tinh "):
        return None  # "Tỉnh Việt Yên" is not a province
    return PROVINCE if canonical_district(name) is not None else None


def same_province(a: str | None, b: str | None) -> bool:
    """Whether two spellings name one known province (an unknown name equals nothing)."""
    ca = canonical_province(a)
    return ca is not None and ca == canonical_province(b)


def unknown_province_message() -> str:
    return "Not a province of Vietnam (2021): one of the 63, e.g. Hà Nội, Bắc Ninh, Nam Định."


PROVINCE_SCHEMA: Final[dict[str, Any]] = {
    "type": "string",
    "enum": list(PROVINCES),
    "description": "A province of Vietnam (the 63 of 2021). Also accepted: other spellings (without "
    "diacritics, with 'Tỉnh'/'TP'/'Thành phố', a district of Bắc Giang); stored as the canonical name listed here.",
}

Province = Annotated[
    str,
    StringConstraints(max_length=MAX_PROVINCE_LENGTH),
    _known(canonical_province, "unknown_province", unknown_province_message),
    WithJsonSchema(PROVINCE_SCHEMA),
]
"""A request field naming a province: validated, answered in its canonical spelling; an unknown
one is 422 ``unknown_province`` with the field."""
