"""Uploads (issue 16): lab results and rosters as CSV and XLSX through the gateway's own batch
routes, with the JSON batch's rules, scope and ``Idempotency-Key``. Each row's outcome names its
row; whatever a file does wrong as a whole is one 4xx envelope and nothing is written."""

from __future__ import annotations

import io
import zipfile
from collections.abc import Awaitable, Callable
from typing import Any

import asyncpg
import pytest
from openpyxl import Workbook, load_workbook

from safework_common.settings import plain_pg_url
from tests.gateway.conftest import Stack, bearer
from tests.gateway.world import DISTRICT_A, enterprise, lab, national_id, ok
from tests.hardening.conftest import Snapshot

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
RESULT_HEADER = [
    "Mã mẫu",
    "Số CCCD/CMND",
    "Loại xét nghiệm",
    "Thời gian lấy mẫu",
    "Thời gian có kết quả",
    "Kết quả",
    "Mã mẫu gộp",
]


def csv_bytes(rows: list[list[str]], sep: str = ";", bom: bool = True) -> bytes:
    text = "\r\n".join(sep.join(r) for r in rows) + "\r\n"
    return (b"\xef\xbb\xbf" if bom else b"") + text.encode()


def xlsx_bytes(rows: list[list[Any]], title: str = "ket_qua", before: list[str] = ()) -> bytes:  # type: ignore[assignment]
    book = Workbook()
    first = book.active
    assert first is not None
    if before:
        first.title = before[0]
        first.append(["ghi chú"])
        sheet = book.create_sheet(title)
    else:
        first.title = title
        sheet = first
    for r in rows:
        sheet.append(r)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


async def count(url: str, table: str) -> int:
    conn = await asyncpg.connect(plain_pg_url(url))
    try:
        n: int = await conn.fetchval(f"SELECT count(*) FROM {table}")  # noqa: S608 - fixed names
        return n
    finally:
        await conn.close()


async def test_templates_have_vietnamese_headers_and_keep_leading_zeros(stack: Stack) -> None:
    lab_token = bearer(stack.token("lab", lab_id=await lab(stack)))
    r = await stack.http.get("/api/v1/templates/results.csv", headers=lab_token)
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    assert r.content.startswith(b"\xef\xbb\xbf")
    assert r.content.decode("utf-8-sig").splitlines()[0].split(",") == [
        "Mã mẫu",
        "Số CCCD/CMND",
        "Mã người lao động (QR)",
        "Loại xét nghiệm",
        "Thời gian lấy mẫu",
        "Thời gian có kết quả",
        "Kết quả",
        "Mã mẫu gộp",
    ]
    r = await stack.http.get("/api/v1/templates/roster.xlsx", headers=stack.province())
    assert r.status_code == 200 and r.headers["content-type"] == XLSX
    book = load_workbook(io.BytesIO(r.content))
    assert book.sheetnames == ["danh_sach", "huong_dan"]
    header = [c.value for c in book["danh_sach"][1]]
    assert header[:3] == ["Mã nhân viên", "Số CCCD/CMND", "Họ và tên"]
    assert book["danh_sach"]["B2"].number_format == "@"  # the national ID column is text
    r = await stack.http.get("/api/v1/templates/people.csv", headers=stack.province())
    assert r.status_code == 422


async def test_a_results_csv_is_judged_row_by_row(stack: Stack, db: str) -> None:
    """BOM, ';', dd/mm/yyyy HH:MM (local time), English and Vietnamese headers mixed, a pool of
    two rows; a lost leading zero, a formula and an unknown result are their rows' refusals."""
    tenant = await enterprise(stack, DISTRICT_A, people=3)
    lab_id = await lab(stack)
    a, b, c = tenant.national_ids
    rows = [
        ["sample_id", "Số CCCD/CMND", "kind", "Thời gian lấy mẫu", "resulted_at", "Kết quả", "Mã mẫu gộp"],
        ["S-1", a, "PCR", "15/09/2021 07:30", "15/09/2021 18:00", "Âm tính", ""],
        ["S-2", b.lstrip("0"), "PCR", "15/09/2021 07:30", "15/09/2021 18:00", "Âm tính", ""],
        ["S-3", c, "Test nhanh", "15/09/2021 07:30", "15/09/2021 08:00", "=1+1", ""],
        ["S-4", c, "PCR", "15/09/2021 07:30", "15/09/2021 18:00", "maybe", ""],
        ["", b, "PCR", "16/09/2021 07:30", "16/09/2021 18:00", "Âm tính", "P-1"],
        ["", c, "PCR", "16/09/2021 07:30", "16/09/2021 18:00", "Âm tính", "P-1"],
        ["S-5", c, "PCR", "2021-09-15 07:30", "15/09/2021 18:00", "negative", ""],
    ]
    headers = {**bearer(stack.token("lab", lab_id=lab_id)), "content-type": "text/csv"}
    r = await stack.http.post(f"/api/v1/labs/{lab_id}/results", content=csv_bytes(rows), headers=headers)
    body = await ok(r)
    got = {o["row"]: (o["status"], o.get("code"), o.get("field"), o.get("column")) for o in body["items"]}
    assert got[2] == ("accepted", None, None, None)
    assert got[3] == ("rejected", "national_id_leading_zeros_lost", "row[3].national_id", "Số CCCD/CMND")
    assert got[4] == ("rejected", "formula_not_allowed", "row[4].result", "Kết quả")
    assert got[5] == ("rejected", "literal_error", "row[5].result", "Kết quả")
    assert got[6] == ("accepted", None, None, None)
    assert got[8] == ("accepted", None, None, None)
    pool = next(o for o in body["items"] if o["row"] == 6)
    assert pool["rows"] == [6, 7] and pool["sample_id"] == "P-1"
    assert (body["accepted"], body["rejected"]) == (3, 3)
    # S-1, S-5 and the pool's two members' negatives.
    assert await count(db, "test_result") == 4


async def test_a_results_xlsx_reads_serials_dates_and_refuses_numbers_and_formulas(stack: Stack, db: str) -> None:
    from datetime import datetime

    tenant = await enterprise(stack, DISTRICT_A, people=2)
    lab_id = await lab(stack)
    a, b = tenant.national_ids
    rows: list[list[Any]] = [
        RESULT_HEADER,
        ["X-1", a, "PCR", datetime(2021, 9, 15, 7, 30), datetime(2021, 9, 15, 18, 0), "Âm tính", None],
        ["X-2", int(b), "PCR", 44454.3125, 44454.75, "Âm tính", None],  # the ID lost its zero
        ["X-3", a, "PCR", 44454.3125, 44454.75, '=IF(1,"Âm tính")', None],
        ["X-4", a, "PCR", 44454.3125, 44454.75, "Dương tính", None],
    ]
    headers = {**bearer(stack.token("lab", lab_id=lab_id)), "content-type": XLSX}
    r = await stack.http.post(f"/api/v1/labs/{lab_id}/results", content=xlsx_bytes(rows), headers=headers)
    body = await ok(r)
    got = {o["row"]: (o["status"], o.get("code")) for o in body["items"]}
    assert got == {
        2: ("accepted", None),
        3: ("rejected", "national_id_leading_zeros_lost"),
        4: ("rejected", "formula_not_allowed"),
        5: ("accepted", None),
    }
    conn = await asyncpg.connect(plain_pg_url(db))
    try:
        stored = await conn.fetch("SELECT sample_id, collected_at FROM test_result ORDER BY sample_id")
    finally:
        await conn.close()
    # 44454.3125 is 15/09/2021 07:30 in Vietnam (UTC+7): 00:30 UTC.
    assert [(s["sample_id"], s["collected_at"].isoformat()) for s in stored] == [
        ("X-1", "2021-09-15T00:30:00+00:00"),
        ("X-4", "2021-09-15T00:30:00+00:00"),
    ]


async def test_a_multipart_upload_with_an_idempotency_key_replays(stack: Stack, db: str) -> None:
    tenant = await enterprise(stack, DISTRICT_A, people=1)
    lab_id = await lab(stack)
    rows = [
        RESULT_HEADER,
        ["M-1", tenant.national_ids[0], "PCR", "15/09/2021 07:30", "15/09/2021 18:00", "Âm tính", ""],
    ]
    headers = {**bearer(stack.token("lab", lab_id=lab_id)), "Idempotency-Key": "upload-1"}
    files = {"file": ("ket_qua.csv", csv_bytes(rows, sep=","), "text/csv")}
    first = await stack.http.post(f"/api/v1/labs/{lab_id}/results", files=files, headers=headers)
    again = await stack.http.post(f"/api/v1/labs/{lab_id}/results", files=files, headers=headers)
    assert (await ok(first))["accepted"] == 1
    assert again.status_code == 200 and again.headers.get("idempotent-replayed") == "true"
    assert again.json() == first.json()
    assert await count(db, "test_result") == 1


async def test_a_roster_file_creates_and_updates_people_with_row_outcomes(stack: Stack, db: str) -> None:
    tenant = await enterprise(stack, DISTRICT_A, people=0)
    nid1, nid2 = national_id(), national_id()
    rows = [
        ["Mã nhân viên", "Số CCCD/CMND", "Họ và tên", "Ngày sinh", "Giới tính", "Vị trí công việc", "Ngày vào làm"],
        ["NV-1", nid1, "Nguyễn Thị Hoa", "08/03/1995", "Nữ", "Công nhân", "01/06/2019"],
        ["NV-2", nid2[1:], "Trần Văn Nam", "20/11/1998", "Nam", "Công nhân", "44440"],
        ["NV-3", national_id(), "Lê Văn C", "31/02/1990", "Nam", "Công nhân", ""],
    ]
    headers = {**tenant.headers, "content-type": "text/csv"}
    url = f"/api/v1/enterprises/{tenant.enterprise_id}/roster"
    body = await ok(await stack.http.put(url, content=csv_bytes(rows), headers=headers))
    got = {o["row"]: (o["outcome"], o.get("code"), o.get("field")) for o in body["items"]}
    assert got[2] == ("created", None, None)
    assert got[3] == ("rejected", "national_id_leading_zeros_lost", "row[3].national_id")
    assert got[4] == ("rejected", "invalid_date", "row[4].date_of_birth")
    assert body["counts"] == {"created": 1, "updated": 0, "unchanged": 0, "rejected": 2}
    # An XLSX update with English headers: the name changes, the blank phone is not sent.
    update = xlsx_bytes(
        [
            ["employee_code", "national_id", "full_name", "date_of_birth", "sex", "phone"],
            ["NV-1", nid1, "Nguyễn Thị Hoa Mai", "08/03/1995", "female", None],
        ],
        "danh_sach",
    )
    again = await ok(await stack.http.put(url, content=update, headers={**tenant.headers, "content-type": XLSX}))
    assert [(o["row"], o["outcome"]) for o in again["items"]] == [(2, "updated")]
    people = await ok(await stack.http.get(url, headers=tenant.headers))
    assert [(p["full_name"], p["national_id"]) for p in people["items"]] == [
        ("Nguyễn Thị Hoa Mai", "********" + nid1[-4:])
    ]


def _bomb() -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("[Content_Types].xml", "<Types/>")
        z.writestr("xl/workbook.xml", "<workbook/>")
        z.writestr("xl/worksheets/sheet1.xml", b"<" + b" " * (200 * 1024 * 1024) + b"/>")
    return out.getvalue()


def _truncated() -> bytes:
    whole = xlsx_bytes([RESULT_HEADER])
    return whole[: len(whole) // 2]


def _rows(n: int) -> bytes:
    line = ["S-{}", "024190001234", "PCR", "15/09/2021 07:30", "15/09/2021 18:00", "Âm tính", ""]
    return csv_bytes([RESULT_HEADER] + [[line[0].format(k), *line[1:]] for k in range(n)])


BAD_FILES: list[tuple[str, str, Callable[[], bytes], int, str]] = [
    (
        "Windows-1258 bytes, not UTF-8",
        "text/csv",
        lambda: b"M\xe3 m\xe2u;K\xeat qu\xe1\r\nS-1;\xc2m t\xednh\r\n",
        422,
        "invalid_encoding",
    ),
    ("an empty file", "text/csv", lambda: b"", 422, "header_missing"),
    (
        "no header row: the first row is data",
        "text/csv",
        lambda: csv_bytes([["S-1", "024190001234", "PCR", "15/09/2021 07:30", "15/09/2021 18:00", "Âm tính"]]),
        422,
        "header_missing",
    ),
    ("an unknown column", "text/csv", lambda: csv_bytes([[*RESULT_HEADER, "Ghi chú"]]), 422, "unknown_column"),
    ("a column twice", "text/csv", lambda: csv_bytes([[*RESULT_HEADER, "result"]]), 422, "duplicate_column"),
    ("a required column missing", "text/csv", lambda: csv_bytes([RESULT_HEADER[:5]]), 422, "missing_column"),
    ("a quote left open", "text/csv", lambda: csv_bytes([RESULT_HEADER]) + b'"S-1;024\r\n', 422, "invalid_csv"),
    ("10,001 rows", "text/csv", lambda: _rows(10_001), 413, "batch_too_large"),
    ("a truncated XLSX", XLSX, _truncated, 422, "invalid_xlsx"),
    ("an XLSX that is not a zip", XLSX, lambda: b"PK\x03\x04 not really a zip", 422, "invalid_xlsx"),
    ("a zip that is no workbook", XLSX, lambda: _zip({"a.txt": b"hello"}), 422, "invalid_xlsx"),
    ("a zip bomb", XLSX, _bomb, 413, "xlsx_too_large"),
    (
        "the wrong sheet first, no header on it",
        XLSX,
        lambda: xlsx_bytes([["x"]], title="Sheet2", before=["Ghi chú"]),
        422,
        "header_missing",
    ),
    ("an XML body", "application/xml", lambda: b"<items/>", 415, "unsupported_media_type"),
]


def _zip(files: dict[str, bytes]) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as z:
        for name, data in files.items():
            z.writestr(name, data)
    return out.getvalue()


@pytest.mark.parametrize(("rule", "media", "make", "status", "code"), BAD_FILES, ids=[r[0] for r in BAD_FILES])
async def test_a_bad_file_is_refused_whole_and_writes_nothing(
    stack: Stack,
    snapshot: Callable[[], Awaitable[Snapshot]],
    rule: str,
    media: str,
    make: Callable[[], bytes],
    status: int,
    code: str,
) -> None:
    tenant = await enterprise(stack, DISTRICT_A, people=1)
    lab_id = await lab(stack)
    before = await snapshot()
    headers = {**bearer(stack.token("lab", lab_id=lab_id)), "content-type": media}
    r = await stack.http.post(f"/api/v1/labs/{lab_id}/results", content=make(), headers=headers)
    assert r.status_code == status, (rule, r.text[:300])
    error = r.json()["error"]
    assert error["code"] == code, (rule, error)
    assert error["details"] and all(d["field"] for d in error["details"]), rule
    assert await snapshot() == before, rule
    roster = await stack.http.put(
        f"/api/v1/enterprises/{tenant.enterprise_id}/roster",
        content=make(),
        headers={**tenant.headers, "content-type": media},
    )
    assert 400 <= roster.status_code < 500, (rule, roster.text[:300])
    assert await snapshot() == before, rule


async def test_merged_cells_huge_cells_and_a_second_sheet(stack: Stack, db: str) -> None:
    """A merged cell reads as its top-left value and blanks; a cell over 1,000 characters is that
    row's refusal; the template's sheet is read even when it is not the first."""
    tenant = await enterprise(stack, DISTRICT_A, people=2)
    lab_id = await lab(stack)
    a, b = tenant.national_ids
    book = Workbook()
    notes = book.active
    assert notes is not None
    notes.title = "Ghi chú"
    notes.append(["a note sheet first"])
    sheet = book.create_sheet("ket_qua")
    sheet.append(RESULT_HEADER)
    sheet.append(["H-1", a, "PCR", "15/09/2021 07:30", "15/09/2021 18:00", "Âm tính", None])
    sheet.append(["H-2", b, "PCR", "15/09/2021 07:30", "15/09/2021 18:00", "Âm tính", "x" * 5000])
    sheet.append(["H-3", a, "PCR", "15/09/2021 07:30", "15/09/2021 18:00", "Âm tính", None])
    sheet.merge_cells("C4:D4")  # row 4: kind merged over collected_at, which reads blank
    out = io.BytesIO()
    book.save(out)
    headers = {**bearer(stack.token("lab", lab_id=lab_id)), "content-type": XLSX}
    body = await ok(await stack.http.post(f"/api/v1/labs/{lab_id}/results", content=out.getvalue(), headers=headers))
    got = {o["row"]: (o["status"], o.get("code"), o.get("field")) for o in body["items"]}
    assert got[2] == ("accepted", None, None)
    assert got[3] == ("rejected", "cell_too_long", "row[3].pool_sample_id")
    assert got[4][0] == "rejected" and got[4][2] == "row[4].collected_at"
    assert await count(db, "test_result") == 1


async def test_a_json_batch_rejects_the_bad_item_only_through_the_gateway(stack: Stack, db: str) -> None:
    tenant = await enterprise(stack, DISTRICT_A, people=1)
    lab_id = await lab(stack)
    good = {
        "sample_id": "J-1",
        "national_id": tenant.national_ids[0],
        "kind": "PCR",
        "result": "NEGATIVE",
        "collected_at": "2021-09-15T07:30:00+07:00",
        "resulted_at": "2021-09-15T18:00:00+07:00",
    }
    naive = {**good, "sample_id": "J-2", "collected_at": "2021-09-15T07:30:00"}
    r = await stack.http.post(
        f"/api/v1/labs/{lab_id}/results",
        json={"items": [good, naive]},
        headers=bearer(stack.token("lab", lab_id=lab_id)),
    )
    body = await ok(r)
    assert [(o["status"], o.get("field")) for o in body["items"]] == [
        ("accepted", None),
        ("rejected", "body.items[1].collected_at"),
    ]
    assert await count(db, "test_result") == 1
