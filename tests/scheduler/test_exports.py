"""Exports (issue 16) against real PostgreSQL: the CSV and XLSX of a list hold exactly the JSON
route's rows under the same filters and ``as_of``, whole; roles and tenant scope are the JSON
route's; bad input is a 4xx in the error envelope before any byte is sent."""

from __future__ import annotations

import csv
import io
import re
import uuid
import zipfile
from dataclasses import replace

import httpx

from safework_common.export import BOM
from safework_common.internal_auth import InternalTokenMinter
from safework_scheduler.exports.due_rows import DUE_PEOPLE_COLUMNS
from tests.callers import PROVINCE, As, district_authority, enterprise, lab, worker
from tests.scheduler.factories import registry
from tests.scheduler.test_due_api import VIET_YEN, YEN_DUNG, Park, vaccinated

AS_OF = "2021-09-13T10:00:00+07:00"


def read_csv(r: httpx.Response) -> list[dict[str, str]]:
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("text/csv")
    assert r.content.startswith(BOM), "Excel needs the byte-order mark to read UTF-8"
    return list(csv.DictReader(io.StringIO(r.content[len(BOM) :].decode())))


def xlsx_text(r: httpx.Response) -> str:
    """Every cell's text of the workbook's sheets (strings shared or inline)."""
    assert r.status_code == 200, r.text
    book = zipfile.ZipFile(io.BytesIO(r.content))
    parts = [n for n in book.namelist() if n.startswith("xl/worksheets/") or n == "xl/sharedStrings.xml"]
    return " ".join(book.read(n).decode() for n in parts)


async def all_pages(as_: As, url: str, params: dict[str, str]) -> list[dict[str, object]]:
    items: list[dict[str, object]] = []
    cursor = None
    while True:
        r = await as_(PROVINCE).get(url, params={**params, "limit": "2", **({"cursor": cursor} if cursor else {})})
        assert r.status_code == 200, r.text
        items += r.json()["items"]
        cursor = r.json()["next_cursor"]
        if cursor is None:
            return items


async def test_the_due_list_export_is_every_page_of_the_json_list(
    db: str, scheduler: httpx.AsyncClient, minter: InternalTokenMinter
) -> None:
    """seeds/000 §2.2: the same verdicts as ``GET /v1/due/people``, in the same order, whole."""
    park = Park()
    async with registry(db) as reg:
        await park.build(reg)
        other = await reg.enterprise(district=YEN_DUNG, zone_type="CCN")
        await vaccinated(reg, other, employee_code="Z")  # named "Nguyễn Thị <n>"
    as_ = As(scheduler, minter)
    for status in ("due", "overdue", "not_cleared"):
        params = {"as_of": AS_OF, "status": status}
        pages = await all_pages(as_, "/v1/due/people", params)
        rows = read_csv(await as_(PROVINCE).get("/v1/due/people/export", params=params))
        assert [r["person_id"] for r in rows] == [str(i["person_id"]) for i in pages], status
        for row, item in zip(rows, pages, strict=True):
            assert row["enterprise_id"] == item["enterprise_id"]
            assert row["due_at"] == (item["due_at"] or "")
            assert row["reasons"] == ";".join(item["reasons"])  # type: ignore[arg-type]
            assert row["cleared_to_work"] == str(item["cleared_to_work"]).lower()
    everyone = read_csv(await as_(PROVINCE).get("/v1/due/people/export", params={"as_of": AS_OF, "status": "all"}))
    assert list(everyone[0]) == list(DUE_PEOPLE_COLUMNS)
    assert len(everyone) == 7  # six active in the park (G left) and one elsewhere
    assert all(r["full_name"].startswith("Nguyễn Thị ") for r in everyone)
    # Filters as the JSON route: a zone, a district; a district authority its own only.
    ccn = read_csv(
        await as_(PROVINCE).get("/v1/due/people/export", params={"as_of": AS_OF, "status": "all", "zone_type": "CCN"})
    )
    assert {r["enterprise_id"] for r in ccn} == {str(other)}
    own = read_csv(
        await as_(district_authority(VIET_YEN)).get("/v1/due/people/export", params={"as_of": AS_OF, "status": "all"})
    )
    assert {r["enterprise_id"] for r in own} == {str(park.id)}
    # XLSX: the same people, names intact.
    text = xlsx_text(
        await as_(PROVINCE).get("/v1/due/people/export", params={"as_of": AS_OF, "status": "all", "format": "xlsx"})
    )
    assert "Nguyễn Thị" in text and all(r["person_id"] in text for r in everyone)


async def test_an_enterprise_exports_its_own_list_only(
    db: str, scheduler: httpx.AsyncClient, minter: InternalTokenMinter
) -> None:
    park = Park()
    async with registry(db) as reg:
        await park.build(reg)
        other = await reg.enterprise(district=YEN_DUNG)
    as_ = As(scheduler, minter)
    url = f"/v1/enterprises/{park.id}/due/export"
    listed = (await as_(enterprise(park.id)).get(f"/v1/enterprises/{park.id}/due", params={"as_of": AS_OF})).json()
    rows = read_csv(await as_(enterprise(park.id)).get(url, params={"as_of": AS_OF}))
    assert [r["person_id"] for r in rows] == [p["person_id"] for p in listed["people"]]
    assert [r["employee_code"] for r in rows] == [p["employee_code"] for p in listed["people"]]
    assert rows and all(r["enterprise_id"] == str(park.id) for r in rows)
    for caller in (enterprise(other), district_authority(YEN_DUNG)):
        r = await as_(caller).get(url, params={"as_of": AS_OF})
        assert r.status_code == 404 and r.json()["error"]["code"] == "enterprise_not_found", caller
    for caller in (lab(uuid.uuid4()), worker(park.due_a, park.id)):
        r = await as_(caller).get(url, params={"as_of": AS_OF})
        assert r.status_code == 403 and r.json()["error"]["code"] == "role_not_allowed", caller
    # The province-wide export is the authority's alone.
    r = await as_(enterprise(park.id)).get("/v1/due/people/export", params={"as_of": AS_OF})
    assert r.status_code == 403 and r.json()["error"]["code"] == "role_not_allowed"


async def test_bad_input_is_refused_before_anything_is_sent(
    db: str, scheduler: httpx.AsyncClient, minter: InternalTokenMinter
) -> None:
    park = Park()
    async with registry(db) as reg:
        await park.build(reg)
    as_ = As(scheduler, minter)
    cases = [
        ("/v1/due/people/export", {"format": "pdf"}, 422, "query.format"),
        ("/v1/due/people/export", {"as_of": "2021-09-13T10:00:00"}, 422, "query.as_of"),
        ("/v1/due/people/export", {"status": "everyone"}, 422, "query.status"),
        ("/v1/due/people/export", {"district": "Atlantis"}, 422, "query.district"),
        ("/v1/due/people/export", {"as_of": "2020-01-01T00:00:00+07:00"}, 404, None),  # no policy in force
        ("/v1/compliance/violations/export", {"status": "fine"}, 422, "query.status"),
        ("/v1/coverage/export", {"by": "street"}, 422, "query.by"),
        ("/v1/vaccines/queue/export", {"enterprise_id": str(uuid.uuid4())}, 404, "query.enterprise_id"),
        ("/v1/vaccines/queue/export", {"tier": "0"}, 422, "query.tier"),
    ]
    for url, params, status, field in cases:
        r = await as_(PROVINCE).get(url, params=params)
        assert r.status_code == status, (url, params, r.text)
        error = r.json()["error"]
        fields = {error.get("field"), *(d["field"] for d in error.get("details", []))}
        assert error["code"] and (field is None or field in fields), (url, params, error)
    r = await as_(district_authority(VIET_YEN)).get("/v1/due/people/export", params={"district": YEN_DUNG})
    assert r.status_code == 404 and r.json()["error"]["code"] == "district_not_found"
    r = await as_(PROVINCE).post("/v1/vaccines/plan/export", json={"daily_capacity": "many"})
    assert r.status_code == 422 and r.json()["error"]["details"][0]["field"].startswith("body.daily_capacity")


async def test_violations_coverage_queue_and_plan_exports(
    db: str, scheduler: httpx.AsyncClient, minter: InternalTokenMinter
) -> None:
    park = Park()
    async with registry(db) as reg:
        await park.build(reg)
        other = await reg.enterprise(district=YEN_DUNG, zone_type="OUTSIDE")
        await reg.person(other, employee_code="U")
    as_ = As(scheduler, minter)
    params = {"as_of": AS_OF}
    for status in ("violation", "warning"):
        json_items = (await as_(PROVINCE).get("/v1/compliance/violations", params={**params, "status": status})).json()
        url = "/v1/compliance/violations/export"
        rows = read_csv(await as_(PROVINCE).get(url, params={**params, "status": status}))
        assert [r["enterprise_id"] for r in rows] == [i["enterprise_id"] for i in json_items["items"]]
        assert [r["reasons"] for r in rows] == [";".join(i["reasons"]) for i in json_items["items"]]

    counts = (await as_(PROVINCE).get("/v1/due", params=params)).json()
    rows = read_csv(await as_(PROVINCE).get("/v1/coverage/export", params=params))
    by_id = {r["enterprise_id"]: r for r in rows}
    for e in counts["enterprises"]:
        row = by_id[e["enterprise_id"]]
        assert [int(row[k]) for k in ("people", "due", "overdue", "not_cleared")] == [
            e[k] for k in ("people", "due", "overdue", "not_cleared")
        ]
    assert int(by_id[str(park.id)]["dose1"]) == 5  # vaccinated in the park: A B C D H (F is not; G left)
    grouped = read_csv(await as_(PROVINCE).get("/v1/coverage/export", params={**params, "by": "district_zone"}))
    assert {(r["district"], r["zone_type"]) for r in grouped} == {(VIET_YEN, "KCN"), (YEN_DUNG, "OUTSIDE")}
    assert sum(int(r["people"]) for r in grouped) == counts["totals"]["people"]

    queue = await all_pages(as_, "/v1/vaccines/queue", params)
    rows = read_csv(await as_(PROVINCE).get("/v1/vaccines/queue/export", params=params))
    assert [(r["person_id"], r["dose"]) for r in rows] == [(i["person_id"], str(i["dose"])) for i in queue]
    assert queue  # someone is waiting
    own = read_csv(await as_(enterprise(other)).get("/v1/vaccines/queue/export", params=params))
    assert {r["enterprise_id"] for r in own} == {str(other)}

    body = {"daily_capacity": 10, "start": "2021-09-13"}
    plan = (await as_(PROVINCE).post("/v1/vaccines/plan", json=body)).json()
    rows = read_csv(await as_(PROVINCE).post("/v1/vaccines/plan/export", json=body))
    assert len(rows) == len(plan["groups"]) + len(plan["totals"])
    assert [int(r["people"]) for r in rows if r["row"] == "total"] == [t["people"] for t in plan["totals"]]
    text = xlsx_text(await as_(PROVINCE).post("/v1/vaccines/plan/export", params={"format": "xlsx"}, json=body))
    assert re.search(r"projected_completion", text)


async def test_the_province_due_list_made_in_worker_processes_is_the_same_list(db: str) -> None:
    """A province-sized due list is made in shares of person ids by the worker processes, each
    reading the request's snapshot (``exports.parallel``), and sent enterprise by enterprise:
    the same bytes, in the same order, as made in one process; the XLSX cells too."""
    from datetime import datetime

    from safework_common.db import make_engine, make_sessionmaker
    from safework_common.export import csv_bytes, write_csv
    from safework_scheduler.exports import service
    from safework_scheduler.policy.repository import PolicyStore

    park = Park()
    async with registry(db) as reg:
        await park.build(reg)
        for district in (VIET_YEN, YEN_DUNG, YEN_DUNG):
            other = await reg.enterprise(district=district)
            for n in range(3):
                await vaccinated(reg, other, employee_code=f"Z{n}")
    engine = make_engine(db, pool_size=2, read_only=True)
    maker = make_sessionmaker(engine)
    try:
        async with maker() as session:
            base = await service.due_people(
                session, PolicyStore(), PROVINCE, datetime.fromisoformat(AS_OF), None, None, "all"
            )

        async def made(workers: int) -> tuple[bytes, list[list[object]]]:
            export = replace(base, workers=workers)
            text = b"".join([c async for c in csv_bytes(DUE_PEOPLE_COLUMNS, export.encoded(maker))])
            cells = [list(r) async for r in export.rows(maker)]
            return text, cells

        here = await made(1)
        assert here[0] == BOM + write_csv([DUE_PEOPLE_COLUMNS, *here[1]]), "the text is what csv.writer writes"
        assert here[0].count(b"\r\n") == 1 + 6 + 9 and len(here[1]) == 15
        assert [(r[0], r[4]) for r in here[1]] == sorted((r[0], r[4]) for r in here[1]), "by enterprise then person"
        for workers in (2, 3, 5):  # shares of person ids: each enterprise's people split among them
            assert await made(workers) == here, workers
    finally:
        await engine.dispose()
