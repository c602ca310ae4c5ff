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
# A header of more columns than this is not the template's (it has 17 at most).
MAX_COLUMNS = 64
MAX_MERGED_CELLS = 100_000
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
    ``datetime``); a formula is refused, not evaluated, and so is a merged cell.

    The sheet is streamed by openpyxl's own worksheet parser (what its read-only mode uses), so
    only the cells present are ever made and merges stay ranges: a workbook with one cell at
    XFD1048576, or a merge of A1:XFD1048576, costs what its XML costs, not 17 billion cells (the
    full mode would make one for every position of a merge, and ``iter_rows`` one for every
    blank position)."""
    import openpyxl
    from openpyxl.utils.exceptions import InvalidFileException
    from openpyxl.worksheet._reader import WorkSheetParser

    _check_zip(data)
    unreadable = Unprocessable("The file is not a readable XLSX workbook.", code="file_unreadable", field="body")
    try:
        workbook = openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=False)
        try:
            sheet = workbook.worksheets[0]
            with sheet._get_source() as source:
                parser = WorkSheetParser(
                    source,
                    sheet._shared_strings,
                    data_only=False,
                    epoch=workbook.epoch,
                    date_formats=workbook._date_formats,
                    timedelta_formats=workbook._timedelta_formats,
                )
                present: dict[int, dict[int, tuple[Any, str]]] = {}
                for number, cells in parser.parse():
                    values = {c["column"]: (c["value"], c["data_type"]) for c in cells if c["value"] not in (None, "")}
                    if values:
                        present[number] = values
                        if len(present) > max_rows + 1:
                            raise _too_many(max_rows)
                spans = list(parser.merged_cells.mergeCell) if parser.merged_cells is not None else []
        finally:
            workbook.close()
    except (PayloadTooLarge, Unprocessable):
        raise
    except (InvalidFileException, zipfile.BadZipFile, KeyError, IndexError, ValueError, TypeError, OSError):
        # defusedxml refuses entity declarations with its own errors (ValueError subclasses)
        raise unreadable from None
    except Exception as exc:  # the XML parser and openpyxl raise many kinds on malformed parts
        if type(exc).__module__.startswith(("openpyxl", "defusedxml", "xml")):
            raise unreadable from None
        raise
    return _sheet_table(present, spans, max_rows)


def _sheet_table(present: dict[int, dict[int, tuple[Any, str]]], spans: list[Any], max_rows: int) -> Table:
    """``present``: per row number, per column number, (value, openpyxl data type)."""
    header_cells = present.get(1, {})
    if not header_cells:
        raise Unprocessable("The workbook's first row is empty.", code="header_row_missing", field="body")
    width = max(header_cells)
    if width > MAX_COLUMNS:
        raise Unprocessable(
            f"The header row has {width} columns; the template has far fewer.", code="unknown_column", field="body"
        )
    data_rows = sorted(r for r in present if r > 1)
    if len(data_rows) > max_rows:
        raise _too_many(max_rows)
    merged = _merged(spans, width, data_rows[-1] if data_rows else 1)
    if any((1, col) in merged for col in range(1, width + 1)) or any(t == "f" for _, t in header_cells.values()):
        raise Unprocessable(
            "The header row has merged cells or formulas; write one plain header per column.",
            code="header_row_missing",
            field="body",
        )
    header: list[Cell] = [header_cells[c][0] if c in header_cells else None for c in range(1, width + 1)]
    rows: list[tuple[int, list[Cell]]] = []
    flaws: dict[int, list[tuple[int, str, str]]] = {}
    for number in sorted({*data_rows, *(r for r, _ in merged if r > 1)}):
        cells = present.get(number, {})
        values: list[Cell] = [None] * max(width, max(cells, default=0))
        row_flaws: list[tuple[int, str, str]] = []
        for col, (value, data_type) in cells.items():
            if data_type == "f":
                row_flaws.append((col - 1, "formula_not_allowed", "A formula is not accepted; paste its value."))
            else:
                values[col - 1] = value
        for col in range(1, width + 1):
            if (number, col) in merged:
                span = merged[(number, col)]
                row_flaws.append((col - 1, "merged_cell", f"Merged cells ({span}) are not accepted; unmerge them."))
        rows.append((number, values))
        if row_flaws:
            flaws[number] = row_flaws
    if len(rows) > max_rows:
        raise _too_many(max_rows)
    return Table(header, rows, flaws)


def _merged(spans: list[Any], width: int, last_row: int) -> dict[tuple[int, int], str]:
    """Each (row, column) a merge covers, clipped to the header's columns and the data's rows
    (a merge of A1:XFD1048576 is never expanded); merges covering more than
    :data:`MAX_MERGED_CELLS` cells in all refuse the file."""
    area = sum(
        max(0, min(s.max_row, last_row) - s.min_row + 1) * max(0, min(s.max_col, width) - s.min_col + 1) for s in spans
    )
    if area > MAX_MERGED_CELLS:
        raise Unprocessable("The sheet has too many merged cells; unmerge them.", code="merged_cell", field="body")
    covered: dict[tuple[int, int], str] = {}
    for span in spans:
        for row in range(span.min_row, min(span.max_row, last_row) + 1):
            for col in range(span.min_col, min(span.max_col, width) + 1):
                covered[(row, col)] = str(span.coord)
    return covered
