"""A batch route's body, whatever its form: JSON (as before), a CSV or XLSX file sent raw, or
one sent as ``multipart/form-data`` (field ``file``). Every form ends as the same list of raw
items, judged by the same models and rules; a file's rows also carry their row numbers.

Why here, in the registry, not in the gateway: the registry is where the body is read and
validated (the gateway passes the bytes through unparsed, its handlers stay cheap); parsing in
the gateway would mean parsing a 10,000-row file, writing it as JSON, and parsing that again.
The gateway's scope rules still hold: a file's rows carry no tenant (an unknown column such as
a lab or an enterprise is refused), the lab or enterprise is the path's, which the gateway
checks against the token before forwarding, as for JSON."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from fastapi import Request
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.constants import REF_TEMPLATE
from pydantic import BaseModel, ConfigDict, ValidationError
from pydantic.json_schema import models_json_schema
from starlette.datastructures import UploadFile
from starlette.exceptions import HTTPException

from safework_common.contract.files import CSV_MEDIA_TYPE, XLSX_MEDIA_TYPE, FileKind
from safework_common.contract.persons import RosterUpsert
from safework_common.contract.results import ResultsBatchIn
from safework_common.errors import BadRequest, Unprocessable
from safework_registry.idempotency.service import HEADER
from safework_registry.uploads import rows as row_items
from safework_registry.uploads import tables

_CSV_TYPES = frozenset({CSV_MEDIA_TYPE, "application/csv", "text/plain", "text/comma-separated-values"})
_OLE2_MAGIC = b"\xd0\xcf\x11\xe0"  # the binary .xls of Excel 97-2003
ACCEPTED = f"application/json, {CSV_MEDIA_TYPE}, {XLSX_MEDIA_TYPE}, or multipart/form-data with a 'file' part"


class RawBatch(BaseModel):
    """The shape of every batch: ``{"items": [...]}``; each item is validated on its own."""

    model_config = ConfigDict(extra="forbid")

    items: list[Any]


@dataclass
class Batch:
    items: list[Any]
    # What Idempotency-Key compares: the JSON body, or the file's bytes (a multipart body's
    # boundary changes on every retry; the file does not).
    fingerprint: bytes
    file: row_items.FileItems | None = None


def _media(value: str | None) -> str:
    return (value or "").split(";", 1)[0].strip().lower()


async def _json(request: Request, body: bytes) -> Any:
    """As FastAPI reads a JSON body: the same errors for the same bytes."""
    if not body:
        raise RequestValidationError([{"type": "missing", "loc": ("body",), "msg": "Field required", "input": None}])
    try:
        return json.loads(body)
    except json.JSONDecodeError as exc:
        error = {"type": "json_invalid", "loc": ("body", exc.pos), "msg": "JSON decode error", "input": {}}
        raise RequestValidationError([{**error, "ctx": {"error": exc.msg}}], body=exc.doc) from exc
    except Exception as exc:  # nesting too deep, bytes that are not text: FastAPI's answer
        raise HTTPException(status_code=400, detail="There was an error parsing the body") from exc


def _file_kind(media: str, filename: str, data: bytes) -> str:
    """``csv`` or ``xlsx``, from the name's extension, the media type, or the bytes."""
    name = filename.lower()
    if name.endswith(".xls") or data.startswith(_OLE2_MAGIC):
        raise BadRequest(
            "The old Excel format (.xls) is not accepted; save the workbook as .xlsx or CSV UTF-8.",
            code="unsupported_media_type",
            status_code=415,
        )
    if name.endswith(".xlsx") or media == XLSX_MEDIA_TYPE:
        return "xlsx"
    if name.endswith((".csv", ".txt")) or media in _CSV_TYPES:
        return "csv"
    return "xlsx" if tables.is_xlsx(data) else "csv"


async def _multipart(request: Request) -> tuple[str, bytes]:
    form = await request.form(max_files=1, max_fields=8)
    try:
        upload = form.get("file")
        if not isinstance(upload, UploadFile):
            raise Unprocessable(
                "Send the spreadsheet as the form's 'file' part.", code="file_missing", field="body.file"
            )
        data = await upload.read()
        return _file_kind(_media(upload.content_type), upload.filename or "", data), data
    finally:
        await form.close()


async def read_batch(request: Request, kind: FileKind, max_items: int) -> Batch:
    media = _media(request.headers.get("content-type"))
    if media in ("", "application/json") or media.endswith("+json"):
        body = await request.body()
        raw = await _json(request, body)
        try:
            batch = RawBatch.model_validate(raw, from_attributes=True)
        except ValidationError as exc:
            errors = exc.errors(include_url=False)
            raise RequestValidationError([{**e, "loc": ("body", *e["loc"])} for e in errors], body=raw) from None
        return Batch(batch.items, body)
    if media == "multipart/form-data":
        form, data = await _multipart(request)
    elif media in _CSV_TYPES or media in (XLSX_MEDIA_TYPE, "application/octet-stream", "application/vnd.ms-excel"):
        data = await request.body()
        form = _file_kind(media, "", data)
    else:
        raise BadRequest(
            f"Send the batch as {ACCEPTED}.",
            code="unsupported_media_type",
            status_code=415,
            field="header.Content-Type",
        )
    if not data:
        raise Unprocessable("The file is empty.", code="header_row_missing", field="body")
    table = tables.read_xlsx(data, max_items) if form == "xlsx" else tables.read_csv(data, max_items)
    items = row_items.to_items(table, kind)
    return Batch(items.items, kind.encode() + b"\0" + data, items)


_MODELS: dict[str, type[BaseModel]] = {"ResultsBatchIn": ResultsBatchIn, "RosterUpsert": RosterUpsert}
_MODEL_KEY = "x-safework-model"


def upload_openapi(model: str, *, idempotent: bool = False, examples: dict[str, Any] | None = None) -> dict[str, Any]:
    """The request body's documentation: the JSON batch (the contract's ``model``: the handler
    reads the body itself, so FastAPI does not see it; :func:`document_bodies` puts it in, with
    ``examples`` as OpenAPI's named examples), or a file (raw or multipart)."""
    binary = {"type": "string", "format": "binary"}
    extra: dict[str, Any] = {
        "requestBody": {
            "required": True,
            "content": {
                "application/json": {"schema": {_MODEL_KEY: model}, **({"examples": examples} if examples else {})},
                CSV_MEDIA_TYPE: {"schema": binary},
                XLSX_MEDIA_TYPE: {"schema": binary},
                "multipart/form-data": {
                    "schema": {"type": "object", "properties": {"file": binary}, "required": ["file"]}
                },
            },
        }
    }
    if idempotent:
        extra["parameters"] = [{"name": HEADER, "in": "header", "required": False, "schema": {"type": "string"}}]
    return extra


def document_bodies(schema: dict[str, Any]) -> None:
    """Replace each upload route's body placeholder with its contract model's schema (named as
    FastAPI names its own)."""
    slots = [
        (media, _MODELS[media["schema"][_MODEL_KEY]])
        for item in schema.get("paths", {}).values()
        for op in item.values()
        if isinstance(op, dict)
        and _MODEL_KEY
        in (media := op.get("requestBody", {}).get("content", {}).get("application/json", {})).get("schema", {})
    ]
    if not slots:
        return
    refs, defs = models_json_schema([(m, "validation") for m in _MODELS.values()], ref_template=REF_TEMPLATE)
    components = schema.setdefault("components", {}).setdefault("schemas", {})
    for name, definition in defs.get("$defs", {}).items():
        components.setdefault(name, definition)
    for media, model in slots:
        media["schema"] = refs[(model, "validation")]
