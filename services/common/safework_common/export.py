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
from collections.abc import AsyncIterator, Callable, Iterable, Sequence
from dataclasses import dataclass
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
# CSV text sent at once: about 1 MiB (fewer, larger writes to the socket).
CSV_CHUNK_BYTES: Final = 1 << 20
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


@dataclass(frozen=True)
class Prepared:
    """Rows whose values are already cells (:func:`cell` applied), a batch (list) at a time:
    an export that makes its rows in batches hands them over so, and nothing is converted twice."""

    batches: AsyncIterator[list[Sequence[Any]]]


@dataclass(frozen=True)
class Encoded:
    """Rows made elsewhere (worker processes) and handed over already written, a chunk at a time:
    ``csv()`` gives the CSV lines (:func:`write_csv`, no header), ``cells()`` the same rows as
    cells for an XLSX sheet. Only the one the answer's format needs is called."""

    csv: Callable[[], AsyncIterator[bytes]]
    cells: Callable[[], AsyncIterator[list[Sequence[Any]]]]


Source = AsyncIterator[Sequence[Any]] | Prepared | Encoded


def write_csv(rows: Iterable[Sequence[Any]]) -> bytes:
    """Rows of cells as CSV lines, as :func:`csv_bytes` writes them (without the header)."""
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\r\n").writerows(rows)
    return buffer.getvalue().encode()


async def cell_batches(rows: Source) -> AsyncIterator[list[Sequence[Any]]]:
    """The rows as cells, a batch at a time."""
    if isinstance(rows, Prepared):
        async for prepared in rows.batches:
            yield prepared
        return
    if isinstance(rows, Encoded):
        async for cells in rows.cells():
            yield cells
        return
    batch: list[Sequence[Any]] = []
    async for row in rows:
        batch.append([cell(v) for v in row])
        if len(batch) == CSV_CHUNK_ROWS:
            yield batch
            batch = []
    if batch:
        yield batch


async def csv_bytes(columns: Sequence[str], rows: Source) -> AsyncIterator[bytes]:
    """The BOM and header, then the rows, in chunks of about ``CSV_CHUNK_BYTES``."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(columns)
    yield BOM + buffer.getvalue().encode()
    buffer.seek(0)
    buffer.truncate()
    if isinstance(rows, Encoded):
        async for written in rows.csv():
            yield written
        return
    async for batch in cell_batches(rows):
        writer.writerows(batch)
        if buffer.tell() >= CSV_CHUNK_BYTES:
            yield buffer.getvalue().encode()
            buffer.seek(0)
            buffer.truncate()
    if buffer.tell():
        yield buffer.getvalue().encode()


async def _write_xlsx(path: str, sheet: str, columns: Sequence[str], rows: Source) -> None:
    import xlsxwriter  # imported here: only exports need it

    workbook = xlsxwriter.Workbook(
        path, {"constant_memory": True, "tmpdir": os.path.dirname(path), "strings_to_numbers": False}
    )
    try:
        bold = workbook.add_format({"bold": True})
        number = 0
        ws = None
        r = XLSX_MAX_ROWS
        async for batch in cell_batches(rows):
            for row in batch:
                if r == XLSX_MAX_ROWS:
                    number += 1
                    ws = workbook.add_worksheet(sheet if number == 1 else f"{sheet} ({number})")
                    ws.write_row(0, 0, columns, bold)
                    ws.freeze_panes(1, 0)
                    r = 1
                assert ws is not None
                ws.write_row(r, 0, row)
                r += 1
        if ws is None:
            ws = workbook.add_worksheet(sheet)
            ws.write_row(0, 0, columns, bold)
    finally:
        # Zipping the sheets is CPU work of its own: off the event loop.
        await asyncio.to_thread(workbook.close)


async def xlsx_bytes(columns: Sequence[str], rows: Source, sheet: str = "export") -> AsyncIterator[bytes]:
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
    rows: Source,
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
