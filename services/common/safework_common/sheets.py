"""Exports as files: CSV and XLSX written row by row from an async source, with flat memory.

CSV is streamed as it is written (UTF-8 with a BOM, so Excel opens Vietnamese text right, ``,``
separated, CRLF). XLSX is written by openpyxl's write-only workbook, which keeps each row in a
temporary file, not in memory; the finished workbook is then streamed from disk and deleted.

Every text cell is neutralised against formula injection (OWASP "CSV injection"): a value
starting with ``=``, ``+``, ``-``, ``@``, tab or carriage return gets a leading ``'`` so a
spreadsheet shows it as text and never runs it; XLSX text cells are also typed as strings."""

from __future__ import annotations

import asyncio
import csv
import io
import os
import tempfile
from collections.abc import AsyncIterable, AsyncIterator, Iterable, Sequence
from datetime import date, datetime
from typing import Any, Literal
from uuid import UUID

from starlette.responses import StreamingResponse

Format = Literal["csv", "xlsx"]
XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
MEDIA = {"csv": "text/csv; charset=utf-8", "xlsx": XLSX_TYPE}
_RISKY = ("=", "+", "-", "@", "\t", "\r")
_CHUNK_ROWS = 2000
_READ_CHUNK = 256 * 1024


def neutral(value: str) -> str:
    """A text cell that cannot be taken for a formula."""
    return "'" + value if value.startswith(_RISKY) else value


def cell(value: Any) -> Any:
    """A value as written to a cell: text neutralised, instants ISO 8601 with their offset,
    lists joined with spaces, None empty."""
    if value is None:
        return ""
    if isinstance(value, str):
        return neutral(value)
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, UUID):
        return str(value)
    if isinstance(value, list | tuple):
        return neutral(" ".join(str(v) for v in value))
    return value


async def csv_stream(header: Sequence[str], rows: AsyncIterable[Iterable[Sequence[Any]]]) -> AsyncIterator[bytes]:
    """``rows`` yields batches of rows (an enterprise's, a page's): each batch is one chunk."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\r\n")
    writer.writerow([neutral(h) for h in header])
    yield b"\xef\xbb\xbf" + buf.getvalue().encode()
    async for batch in rows:
        buf.seek(0)
        buf.truncate()
        for n, row in enumerate(batch, start=1):
            writer.writerow([cell(v) for v in row])
            if n % _CHUNK_ROWS == 0:
                yield buf.getvalue().encode()
                buf.seek(0)
                buf.truncate()
        if buf.tell():
            yield buf.getvalue().encode()


async def xlsx_stream(
    header: Sequence[str], rows: AsyncIterable[Iterable[Sequence[Any]]], sheet: str = "export"
) -> AsyncIterator[bytes]:
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.styles import Font

    book = Workbook(write_only=True)
    ws = book.create_sheet(sheet[:31])
    bold = Font(bold=True)
    head = []
    for h in header:
        c = WriteOnlyCell(ws, value=neutral(h))
        c.font = bold
        head.append(c)
    ws.append(head)

    def text_cell(value: str) -> Any:
        c = WriteOnlyCell(ws, value=value)
        c.data_type = "s"  # never a formula, whatever the text
        return c

    async for batch in rows:
        for row in batch:
            ws.append([text_cell(v) if isinstance(v := cell(x), str) else v for x in row])
        await asyncio.sleep(0)  # let other requests run between batches
    fd, path = tempfile.mkstemp(prefix="safework-export-", suffix=".xlsx")
    os.close(fd)
    try:
        await asyncio.to_thread(book.save, path)
        with open(path, "rb") as f:  # noqa: ASYNC230 - local temporary file, read in chunks
            while chunk := f.read(_READ_CHUNK):
                yield chunk
    finally:
        os.unlink(path)


def file_response(
    fmt: Format, header: Sequence[str], rows: AsyncIterable[Iterable[Sequence[Any]]], filename: str
) -> StreamingResponse:
    body = csv_stream(header, rows) if fmt == "csv" else xlsx_stream(header, rows, filename.split(".")[0])
    return StreamingResponse(
        body,
        media_type=MEDIA[fmt],
        headers={"Content-Disposition": f'attachment; filename="{filename}.{fmt}"', "Cache-Control": "no-store"},
    )


def file_responses() -> dict[int | str, dict[str, Any]]:
    """OpenAPI: a 200 that is a CSV or XLSX file."""
    return {
        200: {
            "description": "The export as a file (streamed)",
            "content": {"text/csv": {"schema": {"type": "string"}}, XLSX_TYPE: {"schema": {"type": "string"}}},
        }
    }
