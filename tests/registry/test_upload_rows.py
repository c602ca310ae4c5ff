"""A spreadsheet's cells as the batch's item fields (issue 16), one rule per row: what is read,
what is refused with which code, and what is never guessed."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone
from typing import Any

import pytest

from safework_common.contract.files import COLUMNS
from safework_common.timezone import LOCAL_TZ
from safework_registry.uploads import rows, tables

RESULTS = ["Mã mẫu", "Số CCCD/CMND", "Loại xét nghiệm", "Thời điểm lấy mẫu", "Thời điểm có kết quả", "Kết quả"]
GOOD = ["S-1", "024100000001", "PCR", "13/09/2021 07:30", "13/09/2021 18:00", "Âm tính"]
LOCAL_0730 = datetime(2021, 9, 13, 7, 30, tzinfo=LOCAL_TZ)


def one(column: int, value: Any) -> rows.FileItems:
    cells: list[Any] = list(GOOD)
    cells[column] = value
    return rows.to_items(tables.Table(list(RESULTS), [(2, cells)]), "results")


@pytest.mark.parametrize(
    ("rule", "column", "value", "field", "expected"),
    [
        ("day first, local time (a file's choice)", 3, "13/09/2021 07:30", "collected_at", LOCAL_0730),
        ("dots and dashes separate a date too", 3, "13.09.2021 07:30:00", "collected_at", LOCAL_0730),
        ("an Excel serial with a fraction is an instant", 3, "44452.3125", "collected_at", LOCAL_0730),
        ("a serial with a decimal comma (a ';' CSV)", 3, "44452,3125", "collected_at", LOCAL_0730),
        ("an XLSX date cell is local", 3, datetime(2021, 9, 13, 7, 30), "collected_at", LOCAL_0730),
        ("an XLSX serial number", 3, 44452.3125, "collected_at", LOCAL_0730),
        (
            "an offset written is kept",
            3,
            "2021-09-13T00:30:00+00:00",
            "collected_at",
            datetime(2021, 9, 13, 0, 30, tzinfo=timezone.utc),  # noqa: UP017
        ),
        ("ISO without an offset is local", 3, "2021-09-13 07:30", "collected_at", LOCAL_0730),
        ("a Vietnamese result word", 5, "Dương tính", "result", "POSITIVE"),
        ("any case, surrounding spaces", 5, "  ÂM TÍNH ", "result", "NEGATIVE"),
        ("the wire value itself", 2, "RAPID_ANTIGEN", "kind", "RAPID_ANTIGEN"),
        ("a rapid test in Vietnamese", 2, "Test nhanh", "kind", "RAPID_ANTIGEN"),
        ("an unknown word goes on unchanged, for the model to refuse", 2, "ELISA", "kind", "ELISA"),
        ("a 12-digit ID as text", 1, "024100000001", "national_id", "024100000001"),
        ("a 9-digit CMND typed as a number keeps every digit", 1, 121234567, "national_id", "121234567"),
    ],
)
def test_a_cell_is_read(rule: str, column: int, value: Any, field: str, expected: Any) -> None:
    got = one(column, value)
    assert got.refused == {}, rule
    assert got.items[0][field] == expected, rule
    if isinstance(expected, datetime):
        assert got.items[0][field].utcoffset() == expected.utcoffset(), rule


@pytest.mark.parametrize(
    ("rule", "column", "value", "code"),
    [
        ("a CCCD that lost its leading zero (11 digits)", 1, "24100000001", "national_id_lost_zeros"),
        ("a Hà Nội CCCD that lost two zeros (10 digits)", 1, "1100000001", "national_id_lost_zeros"),
        ("a CMND that lost its zero (8 digits)", 1, "12345678", "national_id_lost_zeros"),
        ("an ID in scientific notation", 1, "2.41E+10", "national_id_lost_zeros"),
        ("an ID stored as a number, cut short", 1, 24100000001, "national_id_lost_zeros"),
        ("an ID stored as a float", 1, 24100000001.0, "national_id_lost_zeros"),
        ("a date without a time of day, for an instant", 3, "13/09/2021", "time_missing"),
        ("an ISO date without a time of day", 3, "2021-09-13", "time_missing"),
        ("a whole serial is a date, not an instant", 3, "44452", "time_missing"),
        ("month first is not read as day first", 3, "09/31/2021 07:30", "invalid_date_format"),
        ("no such day", 3, "31/02/2021 07:30", "invalid_date_format"),
        ("words", 3, "sáng thứ hai", "invalid_date_format"),
        ("a serial past 9999", 3, "99999999.5", "invalid_date_format"),
    ],
)
def test_a_cell_is_refused_with_its_row(rule: str, column: int, value: Any, code: str) -> None:
    got = one(column, value)
    assert got.refused[0].code == code, rule
    assert got.refused[0].field == f"body.items[0].{COLUMNS['results'][_field_at(column)].field}", rule
    assert got.rows == [2]
    assert got.items == [{}], "a refused row sends nothing on"


def _field_at(column: int) -> int:
    names = [c.field for c in COLUMNS["results"]]
    wanted = ["sample_id", "national_id", "kind", "collected_at", "resulted_at", "result"][column]
    return names.index(wanted)


@pytest.mark.parametrize(
    ("rule", "value", "expected"),
    [
        ("day first", "08/03/1995", date(1995, 3, 8)),
        ("ISO", "1995-03-08", date(1995, 3, 8)),
        ("an Excel serial", 34766, date(1995, 3, 8)),
        ("an Excel serial as text", "34766", date(1995, 3, 8)),
        ("a date cell", datetime(1995, 3, 8), date(1995, 3, 8)),
    ],
)
def test_a_roster_date_is_read(rule: str, value: Any, expected: date) -> None:
    header: list[tables.Cell] = ["Mã nhân viên", "Số CCCD/CMND", "Họ và tên", "Ngày sinh", "Giới tính"]
    table = tables.Table(header, [(2, ["VY-1", "024100000001", "Hoa", value, "Nữ"])])
    got = rows.to_items(table, "roster")
    assert got.items[0]["date_of_birth"] == expected, rule
    assert got.items[0]["sex"] == "female"


@pytest.mark.parametrize(
    ("rule", "header", "code"),
    [
        ("a first row of data is no header", GOOD, "header_row_missing"),
        ("an unknown column", [*RESULTS, "Ghi chú"], "unknown_column"),
        ("a column twice (Vietnamese and its English alias)", [*RESULTS, "sample_id"], "column_repeated"),
        ("a required column missing", RESULTS[:5], "column_missing"),
    ],
)
def test_a_header_that_is_not_the_templates_refuses_the_file(rule: str, header: list[str], code: str) -> None:
    from safework_common.errors import Unprocessable

    with pytest.raises(Unprocessable) as refused:
        rows.to_items(tables.Table(list(header), [(2, list(GOOD))]), "results")
    assert refused.value.code == code, rule


def test_headers_match_in_any_case_and_as_field_names() -> None:
    header: list[tables.Cell] = ["mã MẪU", "national_id", "Test kind", " Thời điểm lấy mẫu ", "resulted at", "KẾT QUẢ"]
    got = rows.to_items(tables.Table(header, [(2, list(GOOD))]), "results")
    assert got.refused == {}
    assert set(got.items[0]) == {"sample_id", "national_id", "kind", "collected_at", "resulted_at", "result"}
    assert got.columns["sample_id"] == "mã MẪU", "outcomes name the column as the file wrote it"


def test_csv_separators_bom_and_blank_lines() -> None:
    text = "\ufeff" + ";".join(RESULTS) + "\r\n" + ";".join(GOOD) + "\r\n;;;;;\r\n\r\n" + ";".join(GOOD) + "\r\n"
    table = tables.read_csv(text.encode(), max_rows=10)
    assert table.header == RESULTS
    assert [n for n, _ in table.rows] == [2, 5], "blank lines are skipped; row numbers stay the file's"
    utf16 = ("\t".join(RESULTS) + "\r\n" + "\t".join(GOOD) + "\r\n").encode("utf-16")
    assert tables.read_csv(utf16, max_rows=10).rows == [(2, GOOD)], "Excel's 'Unicode text'"


def test_a_time_in_another_century_offset_is_still_local() -> None:
    """Asia/Ho_Chi_Minh was +08:00 in 1960 (zoneinfo's history): a local wall time, not +07:00."""
    got = one(3, "13/09/1960 07:30")
    assert got.items[0]["collected_at"].utcoffset() == timedelta(hours=8)
