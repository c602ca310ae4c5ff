"""Streamed spreadsheet exports (CSV and XLSX) of the lists the JSON routes page through.

A route checks everything it can refuse (role, scope, filters, the policy in force) before the
first byte, then answers with :func:`export_response` over an async iterator of rows: nothing is
half-written for bad input. Rows are turned into bytes a batch at a time, so memory holds a
batch whatever the list's length.

- **CSV**: UTF-8 with a byte-order mark (Excel then reads Vietnamese names right), RFC 4180
  quoting, ``\\r\\n`` line ends, one header row. Streamed as the rows come.
- **XLSX**: written by XlsxWriter in ``constant_memory`` mode (each row is flushed to a
  temporary file as soon as the next starts), then the finished workbook is streamed from disk
  and deleted. The same columns and the same cell text as the CSV; numbers stay numbers.

A cell is written as: ``None`` empty, a bool ``true``/``false``, a datetime in ISO 8601 with its
offset (the services hand over local ``+07:00`` instants), a date ``YYYY-MM-DD``, a list its
items joined by ``;``, anything else ``str()``.
"""

from __future__ import annotations

import asyncio
import contextlib
import csv
import io
import os
import tempfile
from collections.abc import AsyncIterator, Iterable, Sequence
from datetime import date, datetime
from typing import Any, Final, Literal

from starlette.background import BackgroundTask
from starlette.responses import StreamingResponse

Format = Literal["csv", "xlsx"]
FORMATS: Final = ("csv", "xlsx")
MEDIA_TYPES: Final[dict[str, str]] = {
    "csv": "text/csv; charset=utf-8",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}
BOM: Final = "\ufeff".encode()
# Rows turned into bytes at once: large enough that the per-chunk cost vanishes, small enough
# that memory stays flat (a few hundred KiB of text).
CSV_CHUNK_ROWS: Final = 2000
FILE_CHUNK_BYTES: Final = 256 * 1024
# XLSX's own limit per sheet (1,048,576 rows, the header included); further rows go on to a new sheet.
XLSX_MAX_ROWS: Final = 1_048_576


def cell(value: Any) -> Any:
    """A value as CSV text (or, for XLSX, a number kept as a number)."""
    if value is None:
        return ""
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, (int, float)):
        return value
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    if isinstance(value, (list, tuple)):
        return ";".join(str(cell(v)) for v in value)
    return str(value)


async def csv_bytes(columns: Sequence[str], rows: AsyncIterator[Sequence[Any]]) -> AsyncIterator[bytes]:
    """The BOM and header, then the rows, a chunk of ``CSV_CHUNK_ROWS`` at a time."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(columns)
    yield BOM + buffer.getvalue().encode()
    buffer.seek(0)
    buffer.truncate()
    n = 0
    async for row in rows:
        writer.writerow([cell(v) for v in row])
        n += 1
        if n == CSV_CHUNK_ROWS:
            yield buffer.getvalue().encode()
            buffer.seek(0)
            buffer.truncate()
            n = 0
    if n:
        yield buffer.getvalue().encode()


async def _write_xlsx(path: str, sheet: str, columns: Sequence[str], rows: AsyncIterator[Sequence[Any]]) -> None:
    import xlsxwriter  # imported here: only exports need it

    workbook = xlsxwriter.Workbook(
        path, {"constant_memory": True, "tmpdir": os.path.dirname(path), "strings_to_numbers": False}
    )
    try:
        bold = workbook.add_format({"bold": True})
        number = 0
        ws = None
        r = XLSX_MAX_ROWS
        async for row in rows:
            if r == XLSX_MAX_ROWS:
                number += 1
                ws = workbook.add_worksheet(sheet if number == 1 else f"{sheet} ({number})")
                ws.write_row(0, 0, columns, bold)
                ws.freeze_panes(1, 0)
                r = 1
            assert ws is not None
            ws.write_row(r, 0, [cell(v) for v in row])
            r += 1
        if ws is None:
            ws = workbook.add_worksheet(sheet)
            ws.write_row(0, 0, columns, bold)
    finally:
        # Zipping the sheets is CPU work of its own: off the event loop.
        await asyncio.to_thread(workbook.close)


async def xlsx_bytes(
    columns: Sequence[str], rows: AsyncIterator[Sequence[Any]], sheet: str = "export"
) -> AsyncIterator[bytes]:
    """The finished workbook, streamed from a temporary file that is removed afterwards."""
    folder = tempfile.mkdtemp(prefix="safework-export-")
    path = os.path.join(folder, "export.xlsx")
    try:
        await _write_xlsx(path, sheet[:31], columns, rows)
        with open(path, "rb") as f:  # noqa: ASYNC230 - local temporary file, read in chunks
            while chunk := f.read(FILE_CHUNK_BYTES):
                yield chunk
    finally:
        with contextlib.suppress(OSError):
            for name in os.listdir(folder):
                os.unlink(os.path.join(folder, name))
            os.rmdir(folder)


def export_response(
    fmt: Format,
    name: str,
    columns: Sequence[str],
    rows: AsyncIterator[Sequence[Any]],
    *,
    background: BackgroundTask | None = None,
) -> StreamingResponse:
    """The streamed answer: ``name``.csv or .xlsx as an attachment."""
    body = csv_bytes(columns, rows) if fmt == "csv" else xlsx_bytes(columns, rows, sheet=name)
    return StreamingResponse(
        body,
        media_type=MEDIA_TYPES[fmt],
        headers={"content-disposition": f'attachment; filename="{name}.{fmt}"', "cache-control": "no-store"},
        background=background,
    )


async def from_iterable(rows: Iterable[Sequence[Any]]) -> AsyncIterator[Sequence[Any]]:
    """An in-memory list of rows (a small answer: a plan) as the async rows an export takes."""
    for row in rows:
        yield row
