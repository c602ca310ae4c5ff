"""``GET /v1/templates/{name}``: the files labs and HR offices fill in, to download."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter
from fastapi.responses import Response

from safework_registry.deps import CallerDep
from safework_registry.files import reader
from safework_registry.files.layouts import LAYOUTS, template_csv, template_xlsx

router = APIRouter(tags=["files"])

TemplateName = Literal["results.csv", "results.xlsx", "roster.csv", "roster.xlsx"]


@router.get(
    "/templates/{name}",
    summary="A blank upload template (lab results or roster; CSV or XLSX)",
    response_class=Response,
    responses={
        200: {
            "description": "The template",
            "content": {"text/csv": {"schema": {"type": "string"}}, reader.XLSX_TYPE: {"schema": {"type": "string"}}},
        }
    },
)
async def get_template(name: TemplateName, caller: CallerDep) -> Response:
    """The header row with the Vietnamese column names (English names are accepted too). The
    XLSX has its ID columns formatted as text, so leading zeros survive, and a second sheet
    (``huong_dan``) describing each column. Any signed-in client; no data in it."""
    kind, fmt = name.split(".")
    layout = LAYOUTS[kind]
    if fmt == "csv":
        body, media = template_csv(layout), "text/csv; charset=utf-8"
    else:
        body, media = template_xlsx(layout), reader.XLSX_TYPE
    return Response(
        body,
        media_type=media,
        headers={"Content-Disposition": f'attachment; filename="safework-{kind}-template.{fmt}"'},
    )
