"""A batch route's body, whatever form it came in: the JSON batch (``{"items": [...]}``), a CSV
or XLSX file sent raw (``Content-Type: text/csv`` or the XLSX type) or as the ``file`` part of a
``multipart/form-data`` form, or (lab results) a FHIR ``Bundle`` of ``Observation``\\ s. Each
becomes the same list of items, judged one by one by the route's service; a file's items carry
their row numbers.

Only a body that is not a batch is refused whole (one error in the envelope, nothing written):
not JSON, not an object with ``items`` alone, ``items`` not a list, a file that cannot be read
or whose header is wrong, an unsupported type (415), more items than a batch holds (413)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

import orjson
from fastapi import Request
from pydantic import BaseModel
from starlette.datastructures import UploadFile

from safework_common.errors import BadRequest, ErrorDetail, PayloadTooLarge, SafeworkError, Unprocessable
from safework_registry.files import reader
from safework_registry.files.layouts import Entry, Layout, to_entries

Format = Literal["json", "csv", "xlsx", "fhir"]
FHIR_TYPES = frozenset({"application/fhir+json"})


@dataclass(slots=True)
class Upload:
    format: Format
    entries: list[Entry]
    # A multipart form's file: what a retry of the same upload repeats (the body does not).
    file: bytes | None = None

    @property
    def from_file(self) -> bool:
        return self.format in ("csv", "xlsx")


def media_type(value: str | None) -> str:
    return (value or "").split(";", 1)[0].strip().lower()


def _too_many(n: int, max_items: int) -> None:
    if n > max_items:
        raise PayloadTooLarge(
            f"A batch holds at most {max_items} items; split it.", code="batch_too_large", field="body.items"
        )


def json_items(body: bytes, max_items: int) -> list[Entry]:
    """``{"items": [...]}`` -> one entry per item (validated later, one by one)."""
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        if "depth" in str(exc).lower() or "recursion" in str(exc).lower():
            raise BadRequest("The JSON body is nested too deeply.", code="bad_request") from None
        raise BadRequest("The request body is not valid JSON.", code="malformed_json", field="body") from None
    if not isinstance(data, dict):
        raise Unprocessable(
            details=[
                ErrorDetail(field="body", code="model_attributes_type", message="The batch is an object with items.")
            ]
        )
    extra = [k for k in data if k != "items"]
    if extra:
        raise Unprocessable(
            details=[
                ErrorDetail(field=f"body.{k}", code="extra_forbidden", message="Extra inputs are not permitted")
                for k in extra
            ]
        )
    if "items" not in data:
        raise Unprocessable(details=[ErrorDetail(field="body.items", code="missing", message="Field required")])
    items = data["items"]
    if not isinstance(items, list):
        raise Unprocessable(
            details=[ErrorDetail(field="body.items", code="list_type", message="Input should be a valid list")]
        )
    _too_many(len(items), max_items)
    return [Entry([], item) for item in items]


def _file_format(content_type: str, filename: str | None) -> Literal["csv", "xlsx"] | None:
    name = (filename or "").lower()
    if name.endswith(".xlsx"):
        return "xlsx"
    if name.endswith((".csv", ".txt")):
        return "csv"
    if content_type == reader.XLSX_TYPE:
        return "xlsx"
    if content_type in reader.CSV_TYPES:
        return "csv"
    return None


def file_entries(data: bytes, fmt: Literal["csv", "xlsx"], layout: Layout, max_items: int) -> list[Entry]:
    if not data:
        raise Unprocessable("The file is empty.", code="header_missing", field="body")
    if fmt == "xlsx" or (fmt == "csv" and data[:4] == b"PK\x03\x04"):
        sheet = reader.read_xlsx(data, max_items, layout.sheet)
        return to_entries(layout, sheet)
    sheet = reader.read_csv(data, max_items)
    return to_entries(layout, sheet)


async def _form_file(request: Request) -> tuple[bytes, Literal["csv", "xlsx"]]:
    try:
        form = await request.form(max_files=1, max_fields=10)
    except SafeworkError:
        raise
    except Exception:  # python-multipart's and Starlette's parse errors
        raise BadRequest("The multipart body cannot be read.", code="invalid_multipart", field="body") from None
    try:
        part = form.get("file")
        if not isinstance(part, UploadFile):
            raise Unprocessable("Send the file as the form's 'file' part.", code="file_missing", field="body.file")
        fmt = _file_format(media_type(part.content_type), part.filename)
        if fmt is None:
            raise SafeworkError(
                "The file must be CSV or XLSX.", code="unsupported_media_type", status_code=415, field="body.file"
            )
        return await part.read(), fmt
    finally:
        await form.close()


async def read_upload(request: Request, layout: Layout, max_items: int, *, fhir: bool = False) -> Upload:
    """The body as entries (``request.body()`` is read once and cached)."""
    content_type = media_type(request.headers.get("content-type"))
    if content_type in ("", "application/json"):
        return Upload("json", json_items(await request.body(), max_items))
    if fhir and content_type in FHIR_TYPES:
        from safework_registry.fhir.bundle import bundle_entries

        return Upload("fhir", bundle_entries(await request.body(), max_items))
    if content_type == "multipart/form-data":
        data, part_format = await _form_file(request)
        return Upload(part_format, file_entries(data, part_format, layout, max_items), file=data)
    fmt = _file_format(content_type, None)
    if fmt is None:
        accepted = "application/json, text/csv, " + reader.XLSX_TYPE + ", multipart/form-data"
        if fhir:
            accepted += ", application/fhir+json"
        raise SafeworkError(
            f"Send {accepted}.", code="unsupported_media_type", status_code=415, field="header.Content-Type"
        )
    return Upload(fmt, file_entries(await request.body(), fmt, layout, max_items))


def request_body_openapi(
    json_schema: dict[str, Any], *, fhir: bool = False, examples: dict[str, Any] | None = None
) -> dict[str, Any]:
    """The route's ``requestBody`` for OpenAPI: the JSON batch, and the files it also takes."""
    file_schema = {"type": "string", "format": "binary"}
    json_content: dict[str, Any] = {"schema": json_schema}
    if examples:
        json_content["examples"] = examples
    content: dict[str, Any] = {
        "application/json": json_content,
        "text/csv": {"schema": {"type": "string"}},
        reader.XLSX_TYPE: {"schema": file_schema},
        "multipart/form-data": {
            "schema": {"type": "object", "properties": {"file": file_schema}, "required": ["file"]}
        },
    }
    if fhir:
        content["application/fhir+json"] = {
            "schema": {"type": "object", "description": "A FHIR R4 Bundle of Observations."}
        }
    return {"required": True, "content": content}


def inline_schema(model: type[BaseModel]) -> dict[str, Any]:
    """A model's JSON schema with its ``$defs`` written in place (the route declares its body by
    hand, so no component would hold them)."""
    schema = model.model_json_schema()
    defs = schema.pop("$defs", {})

    def inline(node: Any) -> Any:
        if isinstance(node, dict):
            ref = node.get("$ref")
            if isinstance(ref, str) and ref.startswith("#/$defs/"):
                return inline(defs[ref.removeprefix("#/$defs/")])
            return {k: inline(v) for k, v in node.items()}
        if isinstance(node, list):
            return [inline(v) for v in node]
        return node

    out: dict[str, Any] = inline(schema)
    return out
