"""Spreadsheet uploads (issue 16): the columns of a lab-results file and of a roster file.

A file is another spelling of the JSON batch: each data row becomes one item of the same model
(``SingleResultIn``, ``RosterItem``) and is judged by the same rules. Each column has its
Vietnamese header (the one the templates carry) and aliases (the JSON field name, English
words); headers match whatever their case, accents-as-typed and surrounding spaces. Enumerated
values are accepted as the wire value or in the Vietnamese (and English) words listed here.

Choices made for files only (not in the source; documented in README "Uploading a file"):
- a date or time written without an offset is local, Asia/Ho_Chi_Minh (JSON still requires an
  offset); ``dd/mm/yyyy`` is day first, as Vietnamese spreadsheets write it, never month first;
- an empty cell is a field not sent (a roster update keeps the stored value);
- a national ID a spreadsheet turned into a number (leading zeros lost) is refused, never padded.
"""

from __future__ import annotations

import dataclasses
import unicodedata
from dataclasses import dataclass
from typing import Literal

CellKind = Literal["text", "national_id", "instant", "date", "enum", "bool", "uuid"]
FileKind = Literal["results", "roster"]

# At most this many data rows: the JSON batch's bound (REGISTRY_MAX_BATCH_ITEMS).
CSV_MEDIA_TYPE = "text/csv"
XLSX_MEDIA_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


@dataclass(frozen=True)
class Column:
    field: str
    header: str  # Vietnamese, as in the template
    kind: CellKind = "text"
    aliases: tuple[str, ...] = ()
    values: dict[str, str] = dataclasses.field(default_factory=dict)  # words accepted -> wire value
    example: str = ""
    required: bool = False

    def names(self) -> tuple[str, ...]:
        return (self.header, self.field, *self.aliases)


_YES_NO = {"có": "true", "co": "true", "x": "true", "yes": "true", "true": "true", "1": "true",
           "không": "false", "khong": "false", "no": "false", "false": "false", "0": "false"}  # fmt: skip

RESULT_COLUMNS: tuple[Column, ...] = (
    Column("sample_id", "Mã mẫu", aliases=("sample id",), example="BG-2021-000123", required=True),
    Column("national_id", "Số CCCD/CMND", "national_id", aliases=("CCCD", "CMND", "national id"),
           example="024190001234"),
    Column("person_id", "Mã cá nhân", "uuid", aliases=("person id",), example=""),
    # A pooled sample (seeds/001): one row per member, each naming the pool's sample ID here and
    # no "Mã mẫu" of its own; the rows agree on the times and the result.
    Column("pool_sample_id", "Mã mẫu gộp", aliases=("pool sample id",), example=""),
    Column("kind", "Loại xét nghiệm", "enum", aliases=("test kind", "type of test"), required=True,
           values={"pcr": "PCR", "rt-pcr": "PCR", "test nhanh": "RAPID_ANTIGEN", "test nhanh kháng nguyên":
                   "RAPID_ANTIGEN", "rapid_antigen": "RAPID_ANTIGEN", "rapid antigen": "RAPID_ANTIGEN"},
           example="PCR"),
    Column("collected_at", "Thời điểm lấy mẫu", "instant", aliases=("collected at",), required=True,
           example="15/09/2021 07:30"),
    Column("resulted_at", "Thời điểm có kết quả", "instant", aliases=("resulted at",), required=True,
           example="15/09/2021 18:00"),
    Column("result", "Kết quả", "enum", required=True,
           values={"âm tính": "NEGATIVE", "negative": "NEGATIVE", "dương tính": "POSITIVE", "positive": "POSITIVE",
                   "không xác định": "INVALID", "invalid": "INVALID"},
           example="Âm tính"),
)  # fmt: skip

ROSTER_COLUMNS: tuple[Column, ...] = (
    Column("employee_code", "Mã nhân viên", aliases=("employee code",), example="VY-00123", required=True),
    Column("national_id", "Số CCCD/CMND", "national_id", aliases=("CCCD", "CMND", "national id"),
           example="024190001234", required=True),
    Column("full_name", "Họ và tên", aliases=("full name", "name"), example="Nguyễn Thị Hoa", required=True),
    Column("date_of_birth", "Ngày sinh", "date", aliases=("date of birth",), example="08/03/1995", required=True),
    Column("sex", "Giới tính", "enum", aliases=("gender",), required=True,
           values={"nam": "male", "male": "male", "nữ": "female", "nu": "female", "female": "female",
                   "khác": "other", "other": "other"}, example="Nữ"),
    Column("phone", "Số điện thoại", aliases=("phone number", "mobile"), example="0912345678"),
    Column("home_province", "Quê quán", aliases=("home province",), example="Bắc Giang"),
    Column("job_role", "Vị trí công việc", "enum", aliases=("job role",),
           values={"công nhân": "worker", "worker": "worker", "quản lý": "manager", "manager": "manager",
                   "chuyên gia": "expert", "expert": "expert",
                   "lái xe chở hàng": "freight_driver", "freight_driver": "freight_driver",
                   "phụ xe chở hàng": "freight_driver_assistant",
                   "freight_driver_assistant": "freight_driver_assistant",
                   "lái xe đưa đón": "shuttle_driver", "shuttle_driver": "shuttle_driver"},
           example="Công nhân"),
    Column("hire_date", "Ngày vào làm", "date", aliases=("hire date",), example="01/06/2019"),
    Column("arrived_from_province", "Đến từ tỉnh", aliases=("arrived from province",), example=""),
    Column("arrived_at", "Thời điểm đến", "instant", aliases=("arrived at",), example=""),
    Column("accommodation_id", "Mã nơi ở", "uuid", aliases=("accommodation id",), example=""),
    Column("high_risk", "Nguy cơ cao", "bool", aliases=("high risk",), values=_YES_NO, example="Không"),
    Column("high_risk_reason", "Lý do nguy cơ cao", aliases=("high risk reason",), example=""),
    Column("high_risk_until", "Nguy cơ cao đến", "instant", aliases=("high risk until",), example=""),
    Column("status", "Trạng thái", "enum",
           values={"đang làm": "active", "đang làm việc": "active", "active": "active",
                   "đã nghỉ": "left", "nghỉ việc": "left", "đã nghỉ việc": "left", "left": "left"},
           example="Đang làm"),
    Column("left_at", "Thời điểm nghỉ việc", "instant", aliases=("left at",), example=""),
)  # fmt: skip

COLUMNS: dict[FileKind, tuple[Column, ...]] = {"results": RESULT_COLUMNS, "roster": ROSTER_COLUMNS}


def header_key(text: str) -> str:
    """A header or an enumerated value as compared: NFC, case-folded, spaces and ``_`` collapsed."""
    value = unicodedata.normalize("NFC", text).replace("_", " ").casefold()
    return " ".join(value.split())


def by_header(kind: FileKind) -> dict[str, Column]:
    """Every accepted header spelling of the kind's columns."""
    return {header_key(name): column for column in COLUMNS[kind] for name in column.names()}
