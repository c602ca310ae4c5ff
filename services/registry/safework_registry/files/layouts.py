"""The two files we take, lab results and rosters: their columns (Vietnamese headers, English
aliases), how their rows become the items of the JSON batch, and their downloadable templates.

A row's problems are that row's outcome (with its row number, the column as written and the
batch field it fills); the file's header is judged whole: a header naming no known column
(``header_missing``: the first row is data, or the wrong sheet), an unknown column
(``unknown_column``), a column twice (``duplicate_column``) or a required one missing
(``missing_column``) is 422 and nothing is written."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from safework_common.errors import ErrorDetail, Unprocessable
from safework_registry.files import cells
from safework_registry.files.cells import CellError, Column, fold
from safework_registry.files.reader import Cell, Sheet, cell_text

Kind = Literal["results", "roster"]


@dataclass(slots=True)
class Entry:
    """One item of the batch as the JSON batch would carry it (``raw``), or the refusal of the
    row that should have made it; ``rows``: its rows in the file (several for a pool)."""

    rows: list[int]
    raw: dict[str, Any] | None = None
    code: str | None = None
    message: str | None = None
    field: str | None = None
    column: str | None = None


@dataclass(frozen=True)
class Layout:
    kind: Kind
    sheet: str  # the template's sheet name, looked for first in an uploaded workbook
    columns: tuple[Column, ...]
    to_entries: Callable[[Layout, list[Column | None], Sheet], list[Entry]] = field(compare=False)

    def column(self, key: str) -> Column:
        return next(c for c in self.columns if c.key == key)


_TOO_MANY_DIGITS = re.compile(r"[0-9]{6}")


def _letter(index: int) -> str:
    out = ""
    index += 1
    while index:
        index, rem = divmod(index - 1, 26)
        out = chr(65 + rem) + out
    return out


def _shown(header: str) -> str:
    """A header quoted back in a message, unless it may be a person's data (a first row that is
    a data row: no long digit runs)."""
    return "" if _TOO_MANY_DIGITS.search(header) else f" '{header[:64]}'"


def resolve_header(layout: Layout, header: Sequence[str]) -> list[Column | None]:
    by_name = {name: col for col in layout.columns for name in col.names()}
    positions: list[Column | None] = []
    seen: dict[str, int] = {}
    unknown: list[ErrorDetail] = []
    duplicate: list[ErrorDetail] = []
    for i, name in enumerate(header):
        if not name:
            positions.append(None)
            continue
        col = by_name.get(fold(name))
        where = f"header.{_letter(i)}"
        if col is None:
            unknown.append(
                ErrorDetail(
                    field=where,
                    code="unknown_column",
                    message=f"Column {_letter(i)}{_shown(name)} is not a column of this template.",
                )
            )
            positions.append(None)
            continue
        if col.key in seen:
            duplicate.append(
                ErrorDetail(
                    field=where,
                    code="duplicate_column",
                    message=f"Column {_letter(i)} repeats column {_letter(seen[col.key])} ({col.header}).",
                )
            )
        seen[col.key] = i
        positions.append(col)
    if not seen:
        raise Unprocessable(
            "The first row must name the columns (see the template); none of this row's cells is a column name.",
            code="header_missing",
            field="header",
        )
    if duplicate:
        raise Unprocessable("A column appears twice.", code="duplicate_column", details=duplicate)
    if unknown:
        raise Unprocessable("The file has columns this template does not.", code="unknown_column", details=unknown)
    missing = [
        ErrorDetail(
            field=f"header.{c.key}", code="missing_column", message=f"The column '{c.header}' ({c.key}) is required."
        )
        for c in layout.columns
        if c.required and c.key not in seen
    ]
    if missing:
        raise Unprocessable("A required column is missing.", code="missing_column", details=missing)
    return positions


def _row_values(row: int, positions: list[Column | None], header: Sequence[str], values: list[Cell]) -> dict[str, Any]:
    """The row's converted values by key (blank cells left out); a bad cell raises
    :class:`_RowError`."""
    out: dict[str, Any] = {}
    for i, cell in enumerate(values):
        col = positions[i] if i < len(positions) else None
        if col is None:
            if cell.value is not None and str(cell.value).strip():
                raise _RowError(
                    row, "unknown_column", f"Column {_letter(i)} has a value but no header.", f"row[{row}]", None
                )
            continue
        try:
            value = cells.convert(col, cell)
        except CellError as err:
            raise _RowError(row, err.code, err.message, f"row[{row}].{col.key}", header[i]) from None
        if value is not None:
            out[col.key] = value
    return out


class _RowError(Exception):
    def __init__(self, row: int, code: str, message: str, field: str, column: str | None) -> None:
        super().__init__(message)
        self.entry = Entry([row], None, code, message, field, column)


def _results_entries(layout: Layout, positions: list[Column | None], sheet: Sheet) -> list[Entry]:
    """A row is a single result; rows sharing a pool sample ID are one pool, one member per row,
    placed where its first row is."""
    out: list[Entry] = []
    pools: dict[str, Entry] = {}
    for row, values in sheet.rows:
        try:
            v = _row_values(row, positions, sheet.header, values)
        except _RowError as err:
            pool_id = _pool_id_of(positions, values)
            if pool_id is not None and pool_id in pools:
                _fail(pools[pool_id], err.entry, row)
            elif pool_id is not None:
                pools[pool_id] = err.entry
                out.append(err.entry)
            else:
                out.append(err.entry)
            continue
        ref = {k: v[k] for k in ("person_id", "national_id") if k in v}
        pool_id = v.get("pool_sample_id")
        if pool_id is None:
            item = {"type": "single", **{k: x for k, x in v.items() if k != "pool_sample_id"}}
            out.append(Entry([row], item))
            continue
        entry = pools.get(pool_id)
        if entry is None:
            entry = pools[pool_id] = Entry(
                [row],
                {
                    "type": "pool",
                    "pool_sample_id": pool_id,
                    "members": [ref],
                    **{k: v[k] for k in ("collected_at", "resulted_at", "result") if k in v},
                },
            )
            out.append(entry)
            if v.get("kind", "PCR") != "PCR":
                _fail(
                    entry,
                    Entry(
                        [row],
                        None,
                        "pool_not_pcr",
                        "A pooled sample is a PCR test (seeds/001).",
                        f"row[{row}].kind",
                        None,
                    ),
                    row,
                )
            continue
        entry.rows.append(row)
        if entry.raw is None:
            continue  # already refused: the other rows only join it
        first = entry.raw
        for key in ("collected_at", "resulted_at", "result"):
            if v.get(key) != first.get(key):
                _fail(
                    entry,
                    Entry(
                        [row],
                        None,
                        "pool_rows_disagree",
                        f"Every row of a pool has the same {key}.",
                        f"row[{row}].{key}",
                        None,
                    ),
                    row,
                )
                break
        else:
            if v.get("kind", "PCR") != "PCR":
                _fail(
                    entry,
                    Entry(
                        [row],
                        None,
                        "pool_not_pcr",
                        "A pooled sample is a PCR test (seeds/001).",
                        f"row[{row}].kind",
                        None,
                    ),
                    row,
                )
            else:
                first["members"].append(ref)
    return out


def _pool_id_of(positions: list[Column | None], values: list[Cell]) -> str | None:
    for i, col in enumerate(positions):
        if col is not None and col.key == "pool_sample_id" and i < len(values):
            text = cell_text(values[i])
            return text
    return None


def _fail(entry: Entry, err: Entry, row: int) -> None:
    """A pool with one bad row is refused whole (its first refusal kept)."""
    if row not in entry.rows:
        entry.rows.append(row)
    if entry.raw is not None or entry.code is None:
        entry.raw = None
        entry.code, entry.message, entry.field, entry.column = err.code, err.message, err.field, err.column


def _roster_entries(layout: Layout, positions: list[Column | None], sheet: Sheet) -> list[Entry]:
    """A row is a person; a blank cell is "not sent" (an update changes only what is filled)."""
    out: list[Entry] = []
    for row, values in sheet.rows:
        try:
            out.append(Entry([row], _row_values(row, positions, sheet.header, values)))
        except _RowError as err:
            out.append(err.entry)
    return out


def to_entries(layout: Layout, sheet: Sheet) -> list[Entry]:
    return layout.to_entries(layout, resolve_header(layout, sheet.header), sheet)


_KIND = cells.words(
    {
        "PCR": ("RT-PCR", "RT PCR", "xét nghiệm PCR"),
        "RAPID_ANTIGEN": ("test nhanh", "rapid antigen", "kháng nguyên", "test nhanh kháng nguyên", "antigen", "rapid"),
    }
)
_RESULT = cells.words(
    {
        "NEGATIVE": ("âm tính", "âm", "negative", "neg", "-"),
        "POSITIVE": ("dương tính", "dương", "positive", "pos", "+"),
        "INVALID": ("không xác định", "không hợp lệ", "invalid", "inconclusive"),
    }
)

RESULTS = Layout(
    "results",
    "ket_qua",
    (
        Column(
            "sample_id",
            "Mã mẫu",
            ("sample id", "ma mau xet nghiem"),
            cells.to_text,
            note="The lab's sample ID (unique per lab). Empty on the rows of a pool.",
            example="BG-0915-0001",
        ),
        Column(
            "national_id",
            "Số CCCD/CMND",
            ("national id", "cccd", "cmnd", "so dinh danh"),
            cells.to_national_id,
            note="12 digits (or 9): the column must be text, leading zeros kept. Or person_id.",
            example="024190001234",
        ),
        Column(
            "person_id",
            "Mã người lao động (QR)",
            ("person id", "qr"),
            cells.to_text,
            note="The person's ID from the app's QR code, instead of the national ID.",
        ),
        Column(
            "kind",
            "Loại xét nghiệm",
            ("test kind", "test type", "loai"),
            _KIND,
            note="PCR or Test nhanh (RAPID_ANTIGEN).",
            example="PCR",
        ),
        Column(
            "collected_at",
            "Thời gian lấy mẫu",
            ("collected at", "ngay lay mau"),
            cells.to_instant,
            required=True,
            note="dd/mm/yyyy HH:MM, Vietnam time.",
            example="15/09/2021 07:30",
        ),
        Column(
            "resulted_at",
            "Thời gian có kết quả",
            ("resulted at", "ngay tra ket qua"),
            cells.to_instant,
            required=True,
            note="dd/mm/yyyy HH:MM, Vietnam time.",
            example="15/09/2021 18:00",
        ),
        Column(
            "result",
            "Kết quả",
            ("result", "ket qua xet nghiem"),
            _RESULT,
            required=True,
            note="Âm tính, Dương tính or Không xác định.",
            example="Âm tính",
        ),
        Column(
            "pool_sample_id",
            "Mã mẫu gộp",
            ("pool sample id", "pool id", "mau gop"),
            cells.to_text,
            note="Rows with the same pooled sample ID are one pool (PCR, 10 or 20 people), one row per person.",
        ),
    ),
    _results_entries,
)

_SEX = cells.words({"male": ("nam",), "female": ("nữ", "nu"), "other": ("khác",)})
_ROLE = cells.words(
    {
        "worker": ("công nhân", "người lao động", "lao động"),
        "manager": ("quản lý",),
        "expert": ("chuyên gia",),
        "driver": ("lái xe", "phụ xe", "tài xế"),
    }
)
_STATUS = cells.words({"active": ("đang làm", "đang làm việc"), "left": ("đã nghỉ", "nghỉ việc", "đã nghỉ việc")})

ROSTER = Layout(
    "roster",
    "danh_sach",
    (
        Column(
            "employee_code",
            "Mã nhân viên",
            ("employee code", "ma nv"),
            cells.to_text,
            required=True,
            note="Matches the person within the enterprise.",
            example="VY-00123",
        ),
        Column(
            "national_id",
            "Số CCCD/CMND",
            ("national id", "cccd", "cmnd", "so dinh danh"),
            cells.to_national_id,
            note="12 digits (or 9): the column must be text, leading zeros kept.",
            example="024190001234",
        ),
        Column("full_name", "Họ và tên", ("full name", "name", "ho ten"), cells.to_text, example="Nguyễn Thị Hoa"),
        Column(
            "date_of_birth",
            "Ngày sinh",
            ("date of birth", "dob"),
            cells.to_date,
            note="dd/mm/yyyy.",
            example="08/03/1995",
        ),
        Column("sex", "Giới tính", ("sex", "gender"), _SEX, note="Nam, Nữ or Khác.", example="Nữ"),
        Column("phone", "Số điện thoại", ("phone", "mobile", "sdt"), cells.to_text, example="0912345678"),
        Column("home_province", "Quê quán", ("home province", "tinh"), cells.to_text, example="Bắc Giang"),
        Column(
            "job_role",
            "Vị trí công việc",
            ("job role", "vi tri", "chuc vu"),
            _ROLE,
            note="Công nhân, Quản lý, Chuyên gia or Lái xe.",
            example="Công nhân",
        ),
        Column("hire_date", "Ngày vào làm", ("hire date",), cells.to_date, note="dd/mm/yyyy.", example="01/06/2019"),
        Column(
            "arrived_from_province",
            "Đến từ tỉnh",
            ("arrived from province",),
            cells.to_text,
            note="New hires from another province (seeds/000 §2.2).",
        ),
        Column("arrived_at", "Thời điểm đến", ("arrived at",), cells.to_instant, note="dd/mm/yyyy HH:MM."),
        Column(
            "accommodation_id",
            "Mã nơi ở",
            ("accommodation id",),
            cells.to_text,
            note="The boarding house's ID in Safework.",
        ),
        Column("high_risk", "Nguy cơ cao", ("high risk",), cells.to_bool, note="Có / Không."),
        Column("high_risk_reason", "Lý do nguy cơ cao", ("high risk reason",), cells.to_text),
        Column("high_risk_until", "Nguy cơ cao đến", ("high risk until",), cells.to_instant, note="dd/mm/yyyy HH:MM."),
        Column("status", "Trạng thái", ("status",), _STATUS, note="Đang làm or Đã nghỉ.", example="Đang làm"),
        Column("left_at", "Thời điểm nghỉ việc", ("left at",), cells.to_instant, note="dd/mm/yyyy HH:MM."),
    ),
    _roster_entries,
)

LAYOUTS: dict[str, Layout] = {"results": RESULTS, "roster": ROSTER}


def template_csv(layout: Layout) -> bytes:
    """The header row only (UTF-8 with a BOM, so Excel opens the Vietnamese headers right)."""
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\r\n").writerow([c.header for c in layout.columns])
    return b"\xef\xbb\xbf" + buf.getvalue().encode()


def template_xlsx(layout: Layout) -> bytes:
    """The header row on the layout's sheet, its ID columns formatted as text (so Excel keeps
    leading zeros), and a second sheet describing every column."""
    from openpyxl import Workbook
    from openpyxl.styles import Font

    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.title = layout.sheet
    sheet.append([c.header for c in layout.columns])
    for i, col in enumerate(layout.columns, start=1):
        sheet.cell(row=1, column=i).font = Font(bold=True)
        letter = _letter(i - 1)
        sheet.column_dimensions[letter].width = max(14, len(col.header) + 4)
        if col.key in ("national_id", "employee_code", "sample_id", "pool_sample_id", "phone"):
            for r in range(2, 2002):
                sheet.cell(row=r, column=i).number_format = "@"
    guide = book.create_sheet("huong_dan")
    guide.append(["Cột (tiêu đề)", "English name", "Bắt buộc / required", "Ghi chú / notes", "Ví dụ / example"])
    for col in layout.columns:
        guide.append([col.header, col.key, "x" if col.required else "", col.note, col.example])
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


_ROW_FIELD = re.compile(r"^row\[[0-9]+\]\.(\w+)")


def name_columns(outcomes: Sequence[Any], layout: Layout) -> None:
    """A file's outcomes (dicts or models) also name the column (the template's header) of a
    refused field."""
    headers = {c.key: c.header for c in layout.columns}
    for o in outcomes:
        is_dict = isinstance(o, dict)
        m = _ROW_FIELD.match((o.get("field") if is_dict else o.field) or "")
        if m and m.group(1) in headers:
            if is_dict:
                o["column"] = headers[m.group(1)]
            else:
                o.column = headers[m.group(1)]
