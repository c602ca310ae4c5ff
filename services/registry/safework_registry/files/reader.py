"""Reading the spreadsheets labs and HR offices send: CSV (any of ``,`` ``;`` or tab, UTF-8 with
or without a BOM, or UTF-16 with one, as Excel writes it) and XLSX (read with openpyxl, formulas
never evaluated), into a header and rows of text.

Whole-file problems are one error in the envelope and nothing is written: a file that is not
what it says (``invalid_csv``, ``invalid_xlsx``), an encoding we cannot read (``invalid_encoding``),
an XLSX that would unpack to more than :data:`MAX_UNPACKED_BYTES` or far more than it weighs (a
zip bomb: ``xlsx_too_large``), no header row (``header_missing``), more rows than a batch holds
(413 ``batch_too_large``). Problems of one cell (a formula, a cell longer than
:data:`MAX_CELL_CHARS`) are that row's, judged with the rest of the row by the caller.
"""

from __future__ import annotations

import csv
import io
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, time
from typing import Any

from safework_common.errors import PayloadTooLarge, Unprocessable

CSV_TYPES = frozenset({"text/csv", "application/csv", "text/plain", "application/vnd.ms-excel"})
XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
XLSX_TYPES = frozenset({XLSX_TYPE, "application/octet-stream"})
# An XLSX holds XML that compresses about 10-20 times; a bomb, thousands of times. A sheet of
# 10,000 rows of ~15 columns unpacks to well under 20 MB.
MAX_UNPACKED_BYTES = 64 * 1024 * 1024
MAX_RATIO = 200
MAX_CELL_CHARS = 1000
MAX_COLUMNS = 64
_FIELD = "body"


@dataclass(frozen=True, slots=True)
class Cell:
    """One cell as the file holds it: text (CSV, or an XLSX string), a number, a date, a
    boolean, or a formula (never evaluated: its text is kept only to refuse it)."""

    value: Any
    formula: bool = False


@dataclass(slots=True)
class Sheet:
    """The header row (as written) and the data rows, each with its row number in the file
    (the header is row ``header_row``; a spreadsheet's own numbering, 1-based)."""

    header: list[str]
    header_row: int
    rows: list[tuple[int, list[Cell]]]


def _refuse(code: str, message: str) -> Unprocessable:
    return Unprocessable(message, code=code, field=_FIELD)


def _decode(data: bytes) -> str:
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        try:
            return data.decode("utf-16")
        except UnicodeDecodeError:
            raise _refuse("invalid_encoding", "The file says UTF-16 but is not; save it as CSV UTF-8.") from None
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise _refuse(
            "invalid_encoding",
            "The file is not UTF-8 (Excel: Save As 'CSV UTF-8 (Comma delimited)').",
        ) from None
    if "\x00" in text:
        raise _refuse("invalid_encoding", "The file holds NUL characters: not a text CSV.")
    return text


def _delimiter(first_line: str) -> str:
    """Excel writes ``;`` where the decimal separator is a comma (Vietnamese settings do), ``,``
    elsewhere, tab for 'Unicode text': the one the header line holds most of."""
    counts = {d: first_line.count(d) for d in (",", ";", "\t")}
    best = max(counts, key=lambda d: counts[d])
    return best if counts[best] else ","


def _limit_rows(rows: Iterator[tuple[int, list[Cell]]], max_rows: int) -> list[tuple[int, list[Cell]]]:
    out: list[tuple[int, list[Cell]]] = []
    for number, cells in rows:
        if all(c.value is None or (isinstance(c.value, str) and not c.value.strip()) for c in cells):
            continue  # blank lines and the empty rows spreadsheets leave at the end
        if len(out) == max_rows:
            raise PayloadTooLarge(
                f"A file holds at most {max_rows} data rows; split it.", code="batch_too_large", field="body.items"
            )
        out.append((number, cells))
    return out


def read_csv(data: bytes, max_rows: int) -> Sheet:
    text = _decode(data)
    first = text.split("\n", 1)[0]
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=_delimiter(first), strict=True)
    csv.field_size_limit(max(MAX_CELL_CHARS * 100, 131072))
    try:
        header_row = 0
        header: list[str] | None = None
        for cells in reader:
            header_row = reader.line_num
            if any(c.strip() for c in cells):
                header = cells
                break
        if header is None:
            raise _refuse("header_missing", "The file is empty: the first row must name the columns.")

        def rows() -> Iterator[tuple[int, list[Cell]]]:
            row_number = header_row
            for cells in reader:
                row_number += 1
                yield row_number, [Cell(c, formula=c.startswith("=")) for c in cells]

        body = _limit_rows(rows(), max_rows)
    except csv.Error as exc:
        raise _refuse("invalid_csv", f"The CSV cannot be read at line {reader.line_num}: {exc}.") from None
    return Sheet([h.strip() for h in header], header_row, body)


def _check_zip(data: bytes) -> None:
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except (zipfile.BadZipFile, ValueError, EOFError):
        raise _refuse("invalid_xlsx", "The file is not an XLSX workbook (not a zip archive).") from None
    with archive:
        infos = archive.infolist()
        unpacked = sum(i.file_size for i in infos)
        packed = sum(i.compress_size for i in infos) or 1
        if unpacked > MAX_UNPACKED_BYTES or unpacked / packed > MAX_RATIO:
            raise PayloadTooLarge(
                "The workbook unpacks to far more than it weighs; it is refused.", code="xlsx_too_large", field=_FIELD
            )
        names = {i.filename for i in infos}
        if "xl/workbook.xml" not in names:
            raise _refuse("invalid_xlsx", "The archive is not an XLSX workbook (no xl/workbook.xml).")


def _cell(value: Any) -> Cell:
    if isinstance(value, str) and value.startswith("="):
        return Cell(value, formula=True)
    return Cell(value)


def read_xlsx(data: bytes, max_rows: int, sheet_name: str | None = None) -> Sheet:
    """The sheet named ``sheet_name`` when the workbook has one, else the first sheet. Merged
    cells read as their top-left value and blanks; a formula is read as its text (never its
    cached or computed value) so the row holding it is refused."""
    _check_zip(data)
    import openpyxl  # imported here: only uploads and exports need it
    from openpyxl.utils.exceptions import InvalidFileException

    try:
        book = openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=False, keep_links=False)
    except (InvalidFileException, zipfile.BadZipFile, KeyError, ValueError, TypeError, OSError) as exc:
        raise _refuse("invalid_xlsx", f"The workbook cannot be read ({type(exc).__name__}).") from None
    except Exception as exc:  # XML errors of a damaged part, whatever the parser raises
        raise _refuse("invalid_xlsx", f"The workbook cannot be read ({type(exc).__name__}).") from None
    try:
        if not book.sheetnames:
            raise _refuse("invalid_xlsx", "The workbook has no sheet.")
        sheet = book[sheet_name] if sheet_name in book.sheetnames else book[book.sheetnames[0]]
        try:
            rows = sheet.iter_rows(values_only=True, max_col=MAX_COLUMNS)
            header: list[str] | None = None
            header_row = 0
            for number, values in enumerate(rows, start=1):
                if any(v is not None and str(v).strip() for v in values):
                    header = ["" if v is None else str(v).strip() for v in values]
                    header_row = number
                    break
            if header is None:
                raise _refuse("header_missing", "The sheet is empty: the first row must name the columns.")
            while header and not header[-1]:
                header.pop()

            def data_rows() -> Iterator[tuple[int, list[Cell]]]:
                for number, values in enumerate(rows, start=header_row + 1):
                    yield number, [_cell(v) for v in values]

            body = _limit_rows(data_rows(), max_rows)
        except (Unprocessable, PayloadTooLarge):
            raise
        except Exception as exc:  # a damaged sheet part
            raise _refuse("invalid_xlsx", f"The sheet cannot be read ({type(exc).__name__}).") from None
    finally:
        book.close()
    return Sheet(header, header_row, body)


def cell_text(cell: Cell) -> str | None:
    """A cell as text ('' and blanks: None). Numbers keep their digits (``24190001234``, not
    ``2.419e10``); dates are ISO."""
    value = cell.value
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e15:
        return str(int(value))
    if isinstance(value, datetime | date | time):
        return value.isoformat()
    text = str(value).strip()
    return text or None
