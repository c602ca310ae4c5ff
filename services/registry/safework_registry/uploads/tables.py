"""A spreadsheet's cells, read by well-kept libraries: :mod:`csv` (C) for CSV, openpyxl (its XML
through defusedxml) for XLSX.

Refused whole, before any row is judged, in the error envelope: an encoding that is not UTF-8
or UTF-16 with a BOM (``file_encoding``), a file that is not what it says (``file_unreadable``),
an XLSX whose zip directory declares more than :data:`MAX_XLSX_UNCOMPRESSED` bytes or
:data:`MAX_XLSX_ENTRIES` entries (``file_too_large``: a zip bomb is refused before anything is
inflated; the directory's sizes bound what zipfile inflates, a member longer than declared fails
its CRC). Refused per row: a formula (``formula_not_allowed``) and a merged cell
(``merged_cell``), each naming its column."""

from __future__ import annotations

import csv
import io
import zipfile
from dataclasses import dataclass, field
from datetime import date, datetime, time
from typing import Any

from safework_common.errors import PayloadTooLarge, Unprocessable

Cell = str | int | float | bool | datetime | date | time | None

# Not in the source (policy parameters of this service). A 10,000-row roster of every column is
# about 12 MB of sheet XML and shared strings; the limits leave room and bound the memory a
# workbook may take to load.
MAX_XLSX_UNCOMPRESSED = 48 * 1024 * 1024
MAX_XLSX_ENTRIES = 256
_ZIP_MAGIC = b"PK\x03\x04"
_DELIMITERS = (",", ";", "\t")


@dataclass
class Table:
    """The header row's cells and the data rows, each with its spreadsheet row number (the
    header is row 1). ``flaws`` holds, per row number, cells refused where they stand:
    ``(column index, code, message)``."""

    header: list[Cell]
    rows: list[tuple[int, list[Cell]]]
    flaws: dict[int, list[tuple[int, str, str]]] = field(default_factory=dict)


def is_xlsx(data: bytes) -> bool:
    return data.startswith(_ZIP_MAGIC)


def _decode(data: bytes) -> str:
    """UTF-8 (Excel's "CSV UTF-8" writes a BOM) or UTF-16 with its BOM (Excel's "Unicode text");
    nothing is guessed: Windows-1258 or TCVN3 bytes are refused with what to do instead."""
    try:
        if data.startswith((b"\xff\xfe", b"\xfe\xff")):
            return data.decode("utf-16")
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise Unprocessable(
            "The file is not UTF-8 text. Save it as 'CSV UTF-8 (Comma delimited)' (or upload the .xlsx).",
            code="file_encoding",
            field="body",
        ) from None


def _delimiter(first_line: str) -> str:
    """``,`` or ``;`` (Excel in a locale whose decimal mark is a comma) or a tab: whichever the
    header line has most of."""
    return max(_DELIMITERS, key=first_line.count)


def read_csv(data: bytes, max_rows: int) -> Table:
    text = _decode(data)
    if "\x00" in text:
        raise Unprocessable("The file is not CSV text.", code="file_unreadable", field="body")
    newline = text.find("\n")
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=_delimiter(text[: newline if newline >= 0 else None]))
    try:
        header = next(reader, None)
        if header is None:
            raise Unprocessable("The file is empty.", code="header_row_missing", field="body")
        rows: list[tuple[int, list[Cell]]] = []
        for number, cells in enumerate(reader, start=2):
            if not any(cells):
                continue  # a blank line; spreadsheets leave them at the end
            rows.append((number, list(cells)))
            if len(rows) > max_rows:
                raise _too_many(max_rows)
    except csv.Error as exc:
        raise Unprocessable(f"The CSV cannot be read: {exc}.", code="file_unreadable", field="body") from None
    return Table(list(header), rows)


def _too_many(max_rows: int) -> PayloadTooLarge:
    return PayloadTooLarge(
        f"A file holds at most {max_rows} data rows; split it.", code="batch_too_large", field="body.items"
    )


def _check_zip(data: bytes) -> None:
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            entries = archive.infolist()
    except (zipfile.BadZipFile, ValueError, EOFError):
        raise Unprocessable("The file is not a readable XLSX workbook.", code="file_unreadable", field="body") from None
    if len(entries) > MAX_XLSX_ENTRIES or sum(e.file_size for e in entries) > MAX_XLSX_UNCOMPRESSED:
        raise PayloadTooLarge(
            f"The workbook unpacks to more than {MAX_XLSX_UNCOMPRESSED // (1024 * 1024)} MB; it is refused unread.",
            code="file_too_large",
            field="body",
        )


def read_xlsx(data: bytes, max_rows: int) -> Table:
    """The first worksheet. Cell values as openpyxl types them (a date-formatted cell is a
    ``datetime``); a formula is refused, not evaluated, and so is a merged cell."""
    import openpyxl
    from openpyxl.utils.exceptions import InvalidFileException

    _check_zip(data)
    try:
        workbook = openpyxl.load_workbook(io.BytesIO(data), read_only=False, data_only=False)
    except (InvalidFileException, zipfile.BadZipFile, KeyError, ValueError, TypeError, OSError, SyntaxError):
        # defusedxml refuses entity declarations with its own errors (ValueError subclasses)
        raise Unprocessable("The file is not a readable XLSX workbook.", code="file_unreadable", field="body") from None
    except Exception as exc:  # openpyxl raises many kinds on malformed parts
        if type(exc).__module__.startswith(("openpyxl", "defusedxml", "xml")):
            raise Unprocessable(
                "The file is not a readable XLSX workbook.", code="file_unreadable", field="body"
            ) from None
        raise
    try:
        sheet = workbook.worksheets[0]
        if sheet.max_row - 1 > max_rows and _data_rows(sheet) > max_rows:
            raise _too_many(max_rows)
        merged: dict[tuple[int, int], str] = {}
        for span in sheet.merged_cells.ranges:
            for row in range(span.min_row, span.max_row + 1):
                for col in range(span.min_col, span.max_col + 1):
                    merged[(row, col)] = str(span.coord)
        header: list[Cell] = []
        rows: list[tuple[int, list[Cell]]] = []
        flaws: dict[int, list[tuple[int, str, str]]] = {}
        for number, cells in enumerate(sheet.iter_rows(), start=1):
            values: list[Cell] = []
            row_flaws: list[tuple[int, str, str]] = []
            for col, cell in enumerate(cells):
                value = cell.value
                if cell.data_type == "f":
                    row_flaws.append((col, "formula_not_allowed", "A formula is not accepted; paste its value."))
                    value = None
                elif (number, col + 1) in merged:
                    row_flaws.append(
                        (col, "merged_cell", f"Merged cells ({merged[(number, col + 1)]}) are not accepted; unmerge.")
                    )
                values.append(value)
            if number == 1:
                if row_flaws:
                    raise Unprocessable(
                        "The header row has merged cells or formulas; write one plain header per column.",
                        code="header_row_missing",
                        field="body",
                    )
                header = values
                continue
            if all(v is None or v == "" for v in values) and not row_flaws:
                continue
            rows.append((number, values))
            if row_flaws:
                flaws[number] = row_flaws
            if len(rows) > max_rows:
                raise _too_many(max_rows)
    finally:
        workbook.close()
    if not header:
        raise Unprocessable("The workbook's first sheet is empty.", code="header_row_missing", field="body")
    return Table(header, rows, flaws)


def _data_rows(sheet: Any) -> int:
    return sum(1 for row in sheet.iter_rows(min_row=2, values_only=True) if any(v not in (None, "") for v in row))
