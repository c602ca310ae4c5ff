"""The downloadable templates: the kind's columns with their Vietnamese headers and one example
row, as CSV (UTF-8 with a BOM, so Excel opens the accents right) or XLSX (the ID and code
columns formatted as text, so Excel keeps their leading zeros)."""

from __future__ import annotations

import csv
import io
from typing import Any

from fastapi import Response

from safework_common.contract.files import COLUMNS, CSV_MEDIA_TYPE, XLSX_MEDIA_TYPE, FileKind

_TEXT_KINDS = frozenset({"text", "national_id", "uuid"})


def template_csv(kind: FileKind) -> bytes:
    columns = COLUMNS[kind]
    out = io.StringIO(newline="")
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow([c.header for c in columns])
    writer.writerow([c.example for c in columns])
    return b"\xef\xbb\xbf" + out.getvalue().encode()


def template_xlsx(kind: FileKind) -> bytes:
    import openpyxl

    columns = COLUMNS[kind]
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    sheet.title = "Kết quả" if kind == "results" else "Danh sách"
    sheet.append([c.header for c in columns])
    sheet.append([c.example or None for c in columns])
    for position, column in enumerate(columns, start=1):
        letter = openpyxl.utils.get_column_letter(position)
        sheet.column_dimensions[letter].width = max(14, len(column.header) + 4)
        if column.kind in _TEXT_KINDS:
            sheet.column_dimensions[letter].number_format = "@"
            for cell in sheet[letter]:
                cell.number_format = "@"
    guide = workbook.create_sheet("Hướng dẫn")  # read by people, never by the upload (it takes the first sheet)
    guide.append(["Cột (column)", "Trường (field)", "Bắt buộc (required)", "Giá trị nhận (accepted values)"])
    for column in columns:
        guide.append(
            [
                column.header,
                column.field,
                "có" if column.required else "",
                ", ".join(sorted(set(column.values))) if column.values else "",
            ]
        )
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()


def template_response(kind: FileKind, form: str) -> Response:
    name = "ket-qua-xet-nghiem" if kind == "results" else "danh-sach-lao-dong"
    if form == "csv":
        body, media = template_csv(kind), f"{CSV_MEDIA_TYPE}; charset=utf-8"
    else:
        body, media = template_xlsx(kind), XLSX_MEDIA_TYPE
    headers = {"Content-Disposition": f'attachment; filename="{name}.{form}"', "Cache-Control": "max-age=3600"}
    return Response(body, media_type=media, headers=headers)


def template_openapi(form: str) -> dict[int | str, dict[str, Any]]:
    media = CSV_MEDIA_TYPE if form == "csv" else XLSX_MEDIA_TYPE
    binary = {"type": "string", "format": "binary"}
    return {200: {"description": "The template", "content": {media: {"schema": binary}}}}
