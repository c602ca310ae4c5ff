"""Uploads (issue 16): lab results and rosters as CSV or XLSX files, through the public gateway
with real tokens and real PostgreSQL.

A file is the JSON batch spelled as a spreadsheet: each data row is judged as that item would be,
and its outcome names its spreadsheet row (header = row 1) and column. What only a spreadsheet
gets wrong is refused per row with its own code (a national ID that lost its leading zeros, a
date without a time, a formula, a merged cell); what makes the file no batch at all is refused
whole in the error envelope, and then **no row of any table changes** (the hardening snapshot).
The tenant is the path's, checked by the gateway as for JSON: a lab uploads only for itself, an
enterprise only its own roster."""

from __future__ import annotations

import io
import unicodedata
import uuid
import zipfile
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import asyncpg
import openpyxl
import pytest

from safework_common.settings import plain_pg_url
from safework_common.timezone import LOCAL_TZ
from tests.gateway.conftest import Stack, bearer
from tests.gateway.world import DISTRICT_A, Tenant, enterprise, lab, national_id, ok
from tests.hardening.conftest import Snapshot
from tests.hardening.test_bad_input import assert_envelope, changed

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
HEADER = ["Mã mẫu", "Số CCCD/CMND", "Loại xét nghiệm", "Thời điểm lấy mẫu", "Thời điểm có kết quả", "Kết quả"]
Take = Callable[[], Awaitable[Snapshot]]


@dataclass
class World:
    tenant: Tenant
    other: Tenant
    lab_id: str
    other_lab: str
    lab: dict[str, str]


@pytest.fixture(scope="module")
async def world(module_stack: Stack) -> World:
    stack = module_stack
    tenant = await enterprise(stack, DISTRICT_A, people=3)
    other = await enterprise(stack, DISTRICT_A, people=1)
    lab_id, other_lab = await lab(stack), await lab(stack)
    return World(tenant, other, lab_id, other_lab, bearer(stack.token("lab", lab_id=lab_id)))


def sid() -> str:
    return f"F-{uuid.uuid4().hex[:10]}"


def csv_bytes(rows: list[list[str]], *, delimiter: str = ",", bom: bool = True) -> bytes:
    text = "\r\n".join(delimiter.join(cells) for cells in rows) + "\r\n"
    return (b"\xef\xbb\xbf" if bom else b"") + text.encode()


def xlsx_bytes(rows: list[list[Any]], edit: Callable[[Any], None] | None = None) -> bytes:
    book = openpyxl.Workbook()
    sheet = book.active
    for row in rows:
        sheet.append(row)
    if edit is not None:
        edit(sheet)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


async def results(stack: Stack, world: World, content: bytes, media: str, **kw: Any) -> Any:
    headers = {**world.lab, "Content-Type": media, **kw.pop("headers", {})}
    return await stack.http.post(f"/api/v1/labs/{world.lab_id}/results", content=content, headers=headers, **kw)


async def stored(database_url: str, sample_id: str) -> Any:
    conn = await asyncpg.connect(plain_pg_url(database_url))
    try:
        return await conn.fetchrow(
            "SELECT person_id, kind, collected_at, resulted_at, result FROM test_result WHERE sample_id = $1",
            sample_id,
        )
    finally:
        await conn.close()


async def test_a_csv_is_judged_row_by_row_with_row_numbers(
    module_stack: Stack, world: World, database_url: str
) -> None:
    """Excel's CSV in a comma-decimal locale: a BOM, ``;``, day-first dates, an Excel serial,
    Vietnamese words for the enums; a blank line is skipped, not a row."""
    nid = world.tenant.national_ids
    ids = [sid() for _ in range(6)]
    rows: list[list[Any]] = [
        HEADER,
        [ids[0], nid[0], "PCR", "13/09/2021 07:30", "13/09/2021 18:00", "Âm tính"],
        [ids[1], nid[1], "Test nhanh", "44452.3125", "44452.5", "âm tính"],  # 2021-09-13 07:30 and 12:00
        [ids[2], nid[2][1:], "PCR", "13/09/2021 07:30", "13/09/2021 18:00", "Âm tính"],  # a zero lost
        [ids[3], nid[2], "PCR", "13/09/2021", "13/09/2021 18:00", "Âm tính"],  # no time of day
        [ids[4], nid[2], "ELISA", "13/09/2021 07:30", "13/09/2021 18:00", "Âm tính"],
        [],
        [ids[5], nid[2], "PCR", "2021-09-13T07:30:00+07:00", "2021-09-13T18:00:00+07:00", "NEGATIVE"],
    ]
    r = await results(module_stack, world, csv_bytes(rows, delimiter=";"), "text/csv")
    body = await ok(r)
    got = [(o["row"], o["status"], o.get("code"), o.get("column")) for o in body["items"]]
    assert got == [
        (2, "accepted", None, None),
        (3, "accepted", None, None),
        (4, "rejected", "national_id_lost_zeros", "Số CCCD/CMND"),
        (5, "rejected", "time_missing", "Thời điểm lấy mẫu"),
        (6, "rejected", "literal_error", "Loại xét nghiệm"),
        (8, "accepted", None, None),
    ]
    assert [o["index"] for o in body["items"]] == list(range(6))
    assert (body["accepted"], body["rejected"]) == (3, 3)
    first = await stored(database_url, ids[0])
    # A spreadsheet's time without an offset is Asia/Ho_Chi_Minh (a choice for files only).
    assert first["collected_at"] == datetime(2021, 9, 13, 7, 30, tzinfo=LOCAL_TZ)
    assert (first["kind"], first["result"]) == ("PCR", "NEGATIVE")
    serial = await stored(database_url, ids[1])
    assert serial["kind"] == "RAPID_ANTIGEN"
    assert serial["collected_at"] == datetime(2021, 9, 13, 7, 30, tzinfo=LOCAL_TZ)
    assert serial["resulted_at"] == datetime(2021, 9, 13, 12, 0, tzinfo=LOCAL_TZ)
    for rejected in ids[2:5]:
        assert await stored(database_url, rejected) is None


async def test_an_xlsx_refuses_formulas_merged_cells_and_numeric_ids_per_row(
    module_stack: Stack, world: World, database_url: str
) -> None:
    nid = world.tenant.national_ids
    ids = [sid() for _ in range(5)]
    when, later = datetime(2021, 9, 14, 7, 30), datetime(2021, 9, 14, 18, 0)

    def edit(sheet: Any) -> None:
        sheet["F3"] = '=IF(1=1,"Âm tính","Dương tính")'
        sheet.merge_cells("C5:C6")

    rows: list[list[Any]] = [
        HEADER,
        [ids[0], nid[0], "PCR", when, later, "Âm tính"],  # date cells: openpyxl datetimes
        [ids[1], nid[1], "PCR", when, later, None],  # F3: a formula
        [ids[2], int(nid[2]), "PCR", when, later, "Âm tính"],  # an ID typed as a number
        [ids[3], nid[1], "PCR", when, later, "Âm tính"],  # C5:C6 merged
        [ids[4], nid[2], None, when, later, "Âm tính"],
    ]
    r = await results(module_stack, world, xlsx_bytes(rows, edit), XLSX)
    body = await ok(r)
    got = [(o["row"], o["status"], o.get("code"), o.get("column")) for o in body["items"]]
    assert got == [
        (2, "accepted", None, None),
        (3, "rejected", "formula_not_allowed", "Kết quả"),
        (4, "rejected", "national_id_lost_zeros", "Số CCCD/CMND"),
        (5, "rejected", "merged_cell", "Loại xét nghiệm"),
        (6, "rejected", "merged_cell", "Loại xét nghiệm"),
    ]
    assert (await stored(database_url, ids[0]))["collected_at"] == when.replace(tzinfo=LOCAL_TZ)
    for rejected in ids[1:]:
        assert await stored(database_url, rejected) is None


async def test_a_pooled_sample_is_one_row_per_member(module_stack: Stack, world: World, database_url: str) -> None:
    """seeds/001 (pools of 10 or 20): a pool's rows share "Mã mẫu gộp" and are one pool item; a
    negative pool gives each member a pooled negative PCR (``<pool>#<position>``). A pool whose
    rows disagree, or with a member row that cannot be read, is refused whole, at the row at
    fault; the other rows go ahead."""
    nid = world.tenant.national_ids
    header = [*HEADER[:2], "Mã mẫu gộp", *HEADER[2:]]
    good, split, broken, single = (f"P-{uuid.uuid4().hex[:8]}" for _ in range(4))
    t1, t2 = "14/09/2021 07:30", "14/09/2021 18:00"
    rows = [
        header,
        ["", nid[0], good, "PCR", t1, t2, "Âm tính"],  # row 2
        [single, nid[2], "", "Test nhanh", t1, t2, "Âm tính"],  # row 3: a single result between
        ["", nid[1], good, "", t1, t2, "Âm tính"],  # row 4: kind left empty, PCR by default
        ["", nid[0], split, "PCR", t1, t2, "Âm tính"],  # row 5
        ["", nid[1], split, "PCR", t1, t2, "Dương tính"],  # row 6: disagrees
        ["", nid[0], broken, "PCR", t1, t2, "Âm tính"],  # row 7
        ["", nid[1][1:], broken, "PCR", t1, t2, "Âm tính"],  # row 8: a lost zero
    ]
    body = await ok(await results(module_stack, world, csv_bytes(rows), "text/csv"))
    got = [(o["row"], o.get("rows"), o["sample_id"], o["status"], o.get("code"), o.get("column"))
           for o in body["items"]]  # fmt: skip
    assert got == [
        (2, [2, 4], good, "accepted", None, None),
        (3, None, single, "accepted", None, None),
        (5, [5, 6], split, "rejected", "pool_rows_disagree", "Kết quả"),
        (8, [7, 8], broken, "rejected", "national_id_lost_zeros", "Số CCCD/CMND"),
    ]
    conn = await asyncpg.connect(plain_pg_url(database_url))
    try:
        members = await conn.fetch(
            "SELECT sample_id, pooled FROM test_result WHERE sample_id LIKE $1 ORDER BY sample_id", f"{good}#%"
        )
        assert [(m["sample_id"], m["pooled"]) for m in members] == [(f"{good}#1", True), (f"{good}#2", True)]
        assert await conn.fetchval("SELECT count(*) FROM pool WHERE pool_sample_id = ANY($1)", [split, broken]) == 0
    finally:
        await conn.close()


def _with_sheet_xml(source: bytes, change: Callable[[str], str]) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(source)) as old, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as new:
        for info in old.infolist():
            data = old.read(info.filename)
            new.writestr(info, change(data.decode()) if info.filename == "xl/worksheets/sheet1.xml" else data)
    return out.getvalue()


async def test_far_cells_and_huge_merges_cost_what_their_xml_costs(
    module_stack: Stack, world: World, database_url: str
) -> None:
    """A cell at XFD1048576 and a merge of C3:XFD1048576 are a few bytes of XML; reading them
    must not make a cell for every position they span (openpyxl's full mode would make 17
    billion). The far cell is outside the header's columns; the merge refuses the rows it covers."""
    nid = world.tenant.national_ids
    ids = [sid() for _ in range(3)]
    when, later = datetime(2021, 9, 14, 7, 30), datetime(2021, 9, 14, 18, 0)

    def far(sheet: Any) -> None:
        sheet.cell(row=1_048_576, column=16_384, value="x")

    rows: list[list[Any]] = [HEADER, *([ids[k], nid[k], "PCR", when, later, "Âm tính"] for k in range(3))]
    body = await ok(await results(module_stack, world, xlsx_bytes(rows, far), XLSX))
    got = [(o["row"], o["status"], o.get("code")) for o in body["items"]]
    assert got == [
        (2, "accepted", None),
        (3, "accepted", None),
        (4, "accepted", None),
        (1_048_576, "rejected", "cell_outside_columns"),
    ]
    rows = [HEADER, *([sid(), nid[k], "PCR", when, later, "Âm tính"] for k in range(3))]
    merged = _with_sheet_xml(
        xlsx_bytes(rows),
        lambda xml: xml.replace(
            "</sheetData>", '</sheetData><mergeCells count="1"><mergeCell ref="C3:XFD1048576"/></mergeCells>'
        ),
    )
    body = await ok(await results(module_stack, world, merged, XLSX))
    with_column = [(o["row"], o["status"], o.get("code"), o.get("column")) for o in body["items"]]
    assert with_column == [
        (2, "accepted", None, None),
        (3, "rejected", "merged_cell", "Loại xét nghiệm"),
        (4, "rejected", "merged_cell", "Loại xét nghiệm"),
    ]
    assert await stored(database_url, rows[2][0]) is None


def _zip_bomb() -> bytes:
    """A workbook-shaped zip whose sheet inflates to 64 MB of zeros (about 64 KB on the wire)."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
        archive.writestr("xl/worksheets/sheet1.xml", b"\0" * (64 * 1024 * 1024))
    return out.getvalue()


def _entity_bomb() -> bytes:
    """A real workbook whose sheet declares an entity expanding a billion times."""
    source = xlsx_bytes([HEADER, ["X-1", "024100000001", "PCR", "13/09/2021 07:30", "13/09/2021 18:00", "x"]])
    laughs = (
        '<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
        + "".join(f'<!ENTITY lol{k} "{("&lol" + (str(k - 1) if k > 1 else "") + ";") * 10}">' for k in range(1, 10))
        + ']><worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData>'
        '<row r="1"><c r="A1" t="inlineStr"><is><t>&lol9;</t></is></c></row></sheetData></worksheet>'
    )
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(source)) as old, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as new:
        for info in old.infolist():
            data = old.read(info.filename)
            new.writestr(info, laughs if info.filename == "xl/worksheets/sheet1.xml" else data)
    return out.getvalue()


def _windows_1258(text: str) -> bytes:
    """Vietnamese as Windows writes it (Windows-1258: precomposed vowels, combining tone marks)."""

    def fits(piece: str) -> bool:
        try:
            piece.encode("cp1258")
        except UnicodeEncodeError:
            return False
        return True

    out = []
    for ch in text:
        decomposed = unicodedata.normalize("NFD", ch)
        base, marks = decomposed[0], decomposed[1:]
        shape = "".join(m for m in marks if m in "\u0302\u0306\u031b")  # â ă ơ ư: precomposed
        tones = "".join(m for m in marks if m not in shape)  # combining tone marks
        out.append(ch if fits(ch) else unicodedata.normalize("NFC", base + shape) + tones)
    return "".join(out).encode("cp1258")


def _many_rows(n: int) -> bytes:
    row = ["S", "024100000001", "PCR", "13/09/2021 07:30", "13/09/2021 18:00", "Âm tính"]
    return csv_bytes([HEADER] + [[f"S-{k}", *row[1:]] for k in range(n)])


def _multipart_without_file() -> tuple[bytes, str]:
    boundary = "safeworkboundary"
    body = f'--{boundary}\r\nContent-Disposition: form-data; name="note"\r\n\r\nhello\r\n--{boundary}--\r\n'
    return body.encode(), f"multipart/form-data; boundary={boundary}"


@dataclass(frozen=True)
class FileRow:
    rule: str
    content: Callable[[], bytes]
    media: str
    status: int
    code: str
    field: str | None = None


_RIGHT = ["X-1", "024100000001", "PCR", "13/09/2021 07:30", "13/09/2021 18:00", "Âm tính"]
FILES = [
    FileRow("a wrong encoding (Windows-1258) is refused, never guessed", lambda: _windows_1258(";".join(HEADER)),
            "text/csv", 422, "file_encoding", "body"),
    FileRow("a file whose first row is data has no header row", lambda: csv_bytes([_RIGHT, _RIGHT]), "text/csv",
            422, "header_row_missing", "body"),
    FileRow("an unknown column refuses the file", lambda: csv_bytes([[*HEADER, "Ghi chú"], [*_RIGHT, "x"]]),
            "text/csv", 422, "unknown_column", "header[6]"),
    FileRow("a required column left out refuses the file", lambda: csv_bytes([HEADER[:5], _RIGHT[:5]]),
            "text/csv", 422, "column_missing", "header"),
    FileRow("10,001 rows are one too many (REGISTRY_MAX_BATCH_ITEMS)", lambda: _many_rows(10_001), "text/csv",
            413, "batch_too_large", "body.items"),
    FileRow("an XLSX that is really a zip bomb is refused before it is inflated", _zip_bomb, XLSX, 413,
            "file_too_large", "body"),
    FileRow("an XLSX whose XML declares entities (billion laughs) is unreadable", _entity_bomb, XLSX, 422,
            "file_unreadable", "body"),
    FileRow("bytes that are not a workbook, sent as XLSX", lambda: b"PK\x03\x04 not a zip at all", XLSX, 422,
            "file_unreadable", "body"),
    FileRow("a header with merged cells", lambda: xlsx_bytes([HEADER, _RIGHT], lambda s: s.merge_cells("A1:B1")),
            XLSX, 422, "header_row_missing", "body"),
    FileRow("the old binary .xls format", lambda: b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 512,
            "application/vnd.ms-excel", 415, "unsupported_media_type"),
    FileRow("a media type that is no batch", lambda: b"<items/>", "application/xml", 415, "unsupported_media_type",
            "header.Content-Type"),
    FileRow("a multipart form without the file part", lambda: _multipart_without_file()[0],
            _multipart_without_file()[1], 422, "file_missing", "body.file"),
    FileRow("a 50 MB file (the body limit is 16 MiB)", lambda: b"a" * (50 * 1024 * 1024), "text/csv", 413,
            "payload_too_large"),
]  # fmt: skip


@pytest.mark.parametrize("row", FILES, ids=[r.rule for r in FILES])
async def test_a_file_that_is_no_batch_is_refused_whole_and_changes_nothing(
    module_stack: Stack, world: World, snapshot: Take, row: FileRow
) -> None:
    before = await snapshot()
    r = await results(module_stack, world, row.content(), row.media)
    error = assert_envelope(r)
    assert (r.status_code, error["code"]) == (row.status, row.code), r.text[:500]
    if row.field is not None:
        assert error["details"][0]["field"] == row.field, r.text[:500]
    assert changed(before, await snapshot()) == {}


@pytest.mark.parametrize(
    ("rule", "path", "who"),
    [
        ("a lab uploads results only for itself", "/api/v1/labs/{other_lab}/results", "lab"),
        ("an enterprise uploads only its own roster", "/api/v1/enterprises/{other}/roster", "enterprise"),
    ],
)
async def test_a_file_for_another_tenant_is_not_found(
    module_stack: Stack, world: World, snapshot: Take, rule: str, path: str, who: str
) -> None:
    before = await snapshot()
    url = path.format(other_lab=world.other_lab, other=world.other.enterprise_id)
    headers = world.lab if who == "lab" else world.tenant.headers
    content = csv_bytes([HEADER, [sid(), *_RIGHT[1:]]])
    method = "POST" if who == "lab" else "PUT"
    r = await module_stack.http.request(method, url, content=content, headers={**headers, "Content-Type": "text/csv"})
    assert r.status_code == 404, rule
    assert changed(before, await snapshot()) == {}, rule


async def test_a_multipart_retry_with_the_same_key_replays_the_first_answer(
    module_stack: Stack, world: World, database_url: str
) -> None:
    """curl's ``-F file=@...`` makes a new boundary each time: the key compares the file, not
    the body's bytes, so an honest retry replays and writes nothing twice."""
    sample = sid()
    content = csv_bytes([HEADER, [sample, world.tenant.national_ids[0], *_RIGHT[2:]]])
    headers = {**world.lab, "Idempotency-Key": f"upload-{uuid.uuid4()}"}
    url = f"/api/v1/labs/{world.lab_id}/results"
    first = await module_stack.http.post(url, files={"file": ("ket-qua.csv", content, "text/csv")}, headers=headers)
    again = await module_stack.http.post(url, files={"file": ("ket-qua.csv", content, "text/csv")}, headers=headers)
    assert first.status_code == again.status_code == 200, again.text
    assert first.json()["items"][0]["status"] == "accepted"
    assert again.json() == first.json()
    assert again.headers.get("idempotent-replayed") == "true"
    conn = await asyncpg.connect(plain_pg_url(database_url))
    try:
        assert await conn.fetchval("SELECT count(*) FROM test_result WHERE sample_id = $1", sample) == 1
    finally:
        await conn.close()


async def test_a_roster_file_retried_with_the_same_key_replays_the_first_answer(module_stack: Stack) -> None:
    """The roster takes Idempotency-Key too (issue 16): a retried upload answers what the first
    did (``created``), not what a second upsert would (``unchanged``)."""
    tenant = await enterprise(module_stack, DISTRICT_A, people=0)
    header = ["Mã nhân viên", "Số CCCD/CMND", "Họ và tên", "Ngày sinh", "Giới tính"]
    content = csv_bytes([header, ["VY-1", national_id(), "Nguyễn Thị Hoa", "08/03/1995", "Nữ"]])
    url = f"/api/v1/enterprises/{tenant.enterprise_id}/roster"
    headers = {**tenant.headers, "Idempotency-Key": f"roster-{uuid.uuid4()}"}
    first = await module_stack.http.put(url, files={"file": ("ds.csv", content, "text/csv")}, headers=headers)
    again = await module_stack.http.put(url, files={"file": ("ds.csv", content, "text/csv")}, headers=headers)
    assert first.status_code == again.status_code == 200, again.text
    assert [o["outcome"] for o in again.json()["items"]] == ["created"]
    assert again.json() == first.json()
    assert again.headers.get("idempotent-replayed") == "true"
    fresh = await module_stack.http.put(url, files={"file": ("ds.csv", content, "text/csv")}, headers=tenant.headers)
    assert [o["outcome"] for o in fresh.json()["items"]] == ["unchanged"], "without the key: a second upsert"


@pytest.mark.parametrize("form", ["csv", "xlsx"])
async def test_the_results_template_filled_in_is_accepted(module_stack: Stack, world: World, form: str) -> None:
    r = await module_stack.http.get(f"/api/v1/labs/{world.lab_id}/results/template.{form}", headers=world.lab)
    assert r.status_code == 200, r.text
    assert "attachment" in r.headers["content-disposition"]
    sample = sid()
    nid = world.tenant.national_ids[1]
    if form == "csv":
        assert r.content.startswith(b"\xef\xbb\xbf"), "a BOM, so Excel reads the accents as UTF-8"
        lines = r.content.decode("utf-8-sig").splitlines()
        assert lines[0].split(",")[0] == "Mã mẫu"
        cells = lines[1].split(",")
        cells[0], cells[1] = sample, nid
        filled = ("\r\n".join([lines[0], ",".join(cells)]) + "\r\n").encode()
        media = "text/csv"
    else:
        assert r.headers["content-type"] == XLSX
        book = openpyxl.load_workbook(io.BytesIO(r.content))
        sheet = book.worksheets[0]
        assert sheet["A1"].value == "Mã mẫu"
        assert sheet["B2"].number_format == "@", "the ID column is text: Excel keeps leading zeros"
        sheet["A2"], sheet["B2"] = sample, nid
        out = io.BytesIO()
        book.save(out)
        filled, media = out.getvalue(), XLSX
    body = await ok(await results(module_stack, world, filled, media))
    assert [(o["row"], o["status"]) for o in body["items"]] == [(2, "accepted")], body


async def test_another_labs_template_is_not_found(module_stack: Stack, world: World) -> None:
    r = await module_stack.http.get(f"/api/v1/labs/{world.other_lab}/results/template.csv", headers=world.lab)
    assert r.status_code == 404


async def test_a_roster_xlsx_with_vietnamese_values_is_upserted_row_by_row(
    module_stack: Stack, world: World, database_url: str
) -> None:
    tenant = await enterprise(module_stack, DISTRICT_A, people=0)
    header = ["Mã nhân viên", "Số CCCD/CMND", "Họ và tên", "Ngày sinh", "Giới tính", "Vị trí công việc",
              "Ngày vào làm", "Số điện thoại"]  # fmt: skip
    ids = [national_id() for _ in range(4)]
    rows: list[list[Any]] = [
        header,
        ["VY-1", ids[0], "Nguyễn Thị Hoa", "08/03/1995", "Nữ", "Công nhân", 43617, "0912 345 678"],
        ["VY-2", ids[1], "Trần Văn Nam", datetime(1998, 11, 20), "Nam", "Lái xe chở hàng", "01/06/2019", None],
        ["VY-3", int(ids[2]), "Lê Văn Ba", "01/01/1990", "Nam", "Công nhân", None, None],  # the ID as a number
        ["VY-4", ids[3], "Phạm Thị Tư", "31/02/1990", "Nữ", "Công nhân", None, None],  # no such day
        ["VY-5", national_id(), "Đỗ Văn Năm", "01/01/1990", "Không rõ", "Công nhân", None, None],
    ]
    url = f"/api/v1/enterprises/{tenant.enterprise_id}/roster"
    files = {"file": ("danh-sach.xlsx", xlsx_bytes(rows), XLSX)}
    body = await ok(await module_stack.http.put(url, files=files, headers=tenant.headers))
    got = [(o["row"], o["outcome"], o.get("code"), o.get("column")) for o in body["items"]]
    assert got == [
        (2, "created", None, None),
        (3, "created", None, None),
        (4, "rejected", "national_id_lost_zeros", "Số CCCD/CMND"),
        (5, "rejected", "invalid_date_format", "Ngày sinh"),
        (6, "rejected", "literal_error", "Giới tính"),
    ]
    conn = await asyncpg.connect(plain_pg_url(database_url))
    try:
        people = await conn.fetch(
            "SELECT employee_code, sex, job_role, date_of_birth::text, hire_date::text, phone FROM person "
            "WHERE enterprise_id = $1 ORDER BY employee_code",
            uuid.UUID(tenant.enterprise_id),
        )
    finally:
        await conn.close()
    assert [tuple(p) for p in people] == [
        ("VY-1", "female", "worker", "1995-03-08", "2019-06-01", "0912345678"),  # 43617: Excel's 2019-06-01
        ("VY-2", "male", "freight_driver", "1998-11-20", "2019-06-01", None),
    ]
