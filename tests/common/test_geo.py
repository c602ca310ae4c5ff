"""Districts (session 3, finding 6): Bắc Giang's ten units in one module, every spelling of one
district read as one, anything else none."""

from __future__ import annotations

import unicodedata

import pytest
from pydantic import BaseModel, ValidationError

from safework_common.geo import DISTRICT_SCHEMA, DISTRICTS, District, canonical_district, same_district


def test_the_ten_units_of_2021() -> None:
    assert DISTRICTS == (
        "Bắc Giang",
        "Yên Thế",
        "Tân Yên",
        "Lạng Giang",
        "Lục Nam",
        "Lục Ngạn",
        "Sơn Động",
        "Yên Dũng",
        "Việt Yên",
        "Hiệp Hòa",
    )
    assert DISTRICT_SCHEMA["enum"] == list(DISTRICTS)


@pytest.mark.parametrize("name", DISTRICTS)
def test_each_canonical_name_is_its_own_canonical_form(name: str) -> None:
    assert canonical_district(name) == name


@pytest.mark.parametrize(
    ("spelling", "canonical"),
    [
        ("Việt Yên", "Việt Yên"),
        ("viet yen", "Việt Yên"),
        ("VIỆT YÊN", "Việt Yên"),
        ("  Viet   Yen ", "Việt Yên"),
        ("VietYen", "Việt Yên"),
        ("Huyện Việt Yên", "Việt Yên"),
        ("huyen viet yen", "Việt Yên"),
        ("H. Việt Yên", "Việt Yên"),
        ("Hiệp Hoà", "Hiệp Hòa"),  # the older placement of the tone mark
        ("Hiep Hoa", "Hiệp Hòa"),
        ("Sơn Động", "Sơn Động"),
        ("Son Dong", "Sơn Động"),
        ("son-dong", "Sơn Động"),
        ("TP Bắc Giang", "Bắc Giang"),
        ("TP. Bắc Giang", "Bắc Giang"),
        ("tp.bac giang", "Bắc Giang"),
        ("Thành phố Bắc Giang", "Bắc Giang"),
        ("thanh pho bac giang", "Bắc Giang"),
        ("Bac Giang", "Bắc Giang"),
        ("Tân Yên", "Tân Yên"),  # not "TP" + "ân Yên"
        ("Lục Ngạn", "Lục Ngạn"),
        ("luc ngan", "Lục Ngạn"),
        ("Lục Nam", "Lục Nam"),
        (unicodedata.normalize("NFD", "Lạng Giang"), "Lạng Giang"),  # combining marks
    ],
)
def test_spellings_are_read_as_their_district(spelling: str, canonical: str) -> None:
    assert canonical_district(spelling) == canonical


@pytest.mark.parametrize(
    "name",
    ["Atlantis", "", "   ", "Huyện", "TP", "Tỉnh Bắc Giang", "Việt", "Yên", "Lục", "Bắc Ninh", "Việt Yên 2",
     "Quận Ba Đình", "x" * 10_000, "Việt\x00Yên"],
)  # fmt: skip
def test_anything_else_is_no_district(name: str) -> None:
    assert canonical_district(name) is None


def test_same_district_compares_canonical_forms_and_unknown_equals_nothing() -> None:
    assert same_district("Huyện Việt Yên", "viet yen")
    assert not same_district("Việt Yên", "Yên Dũng")
    assert not same_district("Atlantis", "Atlantis")
    assert not same_district(None, None)


class _Body(BaseModel):
    district: District


def test_the_pydantic_type_stores_the_canonical_name_and_refuses_the_unknown() -> None:
    assert _Body(district="huyen hiep hoa").district == "Hiệp Hòa"
    with pytest.raises(ValidationError) as refused:
        _Body(district="Atlantis")
    (error,) = refused.value.errors()
    assert (error["type"], error["loc"]) == ("unknown_district", ("district",))
    assert _Body.model_json_schema()["properties"]["district"]["enum"] == list(DISTRICTS)


# -- provinces (issue 13: "Tỉnh Bắc Giang" or "TP Bắc Giang" counted as another province) ---------

from safework_common.geo import (  # noqa: E402
    PROVINCE_CODES,
    PROVINCE_SCHEMA,
    PROVINCES,
    Province,
    canonical_province,
)


def test_the_63_provinces_of_2021_with_their_codes() -> None:
    assert len(PROVINCES) == 63 == len(set(PROVINCES))
    assert PROVINCE_CODES["Bắc Giang"] == "24" and PROVINCE_CODES["Hà Nội"] == "01"
    assert PROVINCE_CODES["Cà Mau"] == "96" and PROVINCE_SCHEMA["enum"] == list(PROVINCES)


@pytest.mark.parametrize(
    ("rule", "name", "province"),
    [
        ("the province with its prefix is itself", "Tỉnh Bắc Giang", "Bắc Giang"),
        ("its city (a district of it) is inside it", "TP Bắc Giang", "Bắc Giang"),
        ("a district of Bắc Giang is inside it", "Huyện Việt Yên", "Bắc Giang"),
        ("without diacritics", "bac giang", "Bắc Giang"),
        ("another province without diacritics", "Nam Dinh", "Nam Định"),
        ("with its prefix", "Tỉnh Nam Định", "Nam Định"),
        ("a centrally-run city with its prefix", "Thành phố Hải Phòng", "Hải Phòng"),
        ("TP. Hồ Chí Minh", "TP. Hồ Chí Minh", "Hồ Chí Minh"),
        ("TPHCM in one word", "TPHCM", "Hồ Chí Minh"),
        ("the old tone-mark placement", "Hoà Bình", "Hòa Bình"),
        ("the hyphen of Bà Rịa - Vũng Tàu optional", "Ba Ria Vung Tau", "Bà Rịa - Vũng Tàu"),
        ("case and spaces", "  HÀ   NỘI ", "Hà Nội"),
        ("unknown", "Atlantis", None),
        ("a district is no province with 'Tỉnh'", "Tỉnh Việt Yên", None),
        ("empty", "", None),
        ("none", None, None),
    ],
)
def test_province_spellings(rule: str, name: str | None, province: str | None) -> None:
    assert canonical_province(name) == province, rule


def test_a_province_field_stores_the_canonical_name_and_refuses_unknown_ones() -> None:
    class Body(BaseModel):
        province: Province

    assert Body(province="tinh nam dinh").province == "Nam Định"
    with pytest.raises(ValidationError) as caught:
        Body(province="Atlantis")
    assert caught.value.errors()[0]["type"] == "unknown_province"
