"""The audit trail, readable (issue 18): the province authority reads who did what to which
record when, with filters and keyset pages; one person's trail names who looked them up by
national ID. `safework audit export` writes the same rows as JSON lines or CSV."""

from __future__ import annotations

import asyncio
import csv
import io
import json
import uuid

import pytest
from typer.testing import CliRunner

from safework_cli.main import app as cli
from tests.gateway.conftest import Stack, bearer
from tests.gateway.world import DISTRICT_A, enterprise, ok


async def test_the_province_reads_the_audit_log_with_filters_and_keyset_pages(stack: Stack) -> None:
    tenant = await enterprise(stack, DISTRICT_A, people=3)
    province = stack.province()
    lookup_client = f"authority-lookup-{uuid.uuid4().hex[:6]}"
    who = bearer(stack.token("authority", client_id=lookup_client))
    for nid in tenant.national_ids:
        await ok(await stack.http.post("/api/v1/persons/lookup", json={"national_id": nid}, headers=who))

    everything = await ok(await stack.http.get("/api/v1/audit", headers=province))
    actions = [e["action"] for e in everything["items"]]
    assert actions[:3] == ["person.lookup"] * 3  # newest first
    assert "enterprise.create" in actions and actions.count("person.create") == 3
    ids = [e["id"] for e in everything["items"]]
    assert ids == sorted(ids, reverse=True)
    first = everything["items"][0]
    assert first["at"].endswith("+07:00") and first["client_id"] == lookup_client and first["role"] == "authority"
    assert first["entity"] == "person" and first["entity_id"] == tenant.people[-1]
    # No national ID anywhere in the trail (only who looked, never the number).
    text = json.dumps(everything)
    assert not any(nid in text for nid in tenant.national_ids)

    # Filters, and keyset pages that neither repeat nor skip.
    lookups: dict[str, str | int] = {"action": "person.lookup", "client_id": lookup_client}
    pages, cursor = [], None
    while True:
        params = {**lookups, "limit": 2} | ({"cursor": cursor} if cursor else {})
        page = await ok(await stack.http.get("/api/v1/audit", params=params, headers=province))
        pages.append([e["entity_id"] for e in page["items"]])
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert [len(p) for p in pages] == [2, 1]
    assert sorted(e for page in pages for e in page) == sorted(tenant.people)
    since = first["at"]
    recent = await ok(await stack.http.get("/api/v1/audit", params={"since": since}, headers=province))
    assert all(e["at"] >= since for e in recent["items"]) and recent["items"]
    old = {"until": "2000-01-01T00:00:00+07:00"}
    none = await ok(await stack.http.get("/api/v1/audit", params=old, headers=province))
    assert none["items"] == [] and none["next_cursor"] is None

    # One person's trail: created, then looked up by that client.
    trail = await ok(await stack.http.get(f"/api/v1/persons/{tenant.people[0]}/audit", headers=province))
    newest = trail["items"][0]
    assert (newest["action"], newest["client_id"]) == ("person.lookup", lookup_client)
    assert {e["action"] for e in trail["items"]} == {"person.lookup", "person.create"}
    assert all(e["entity_id"] == tenant.people[0] for e in trail["items"])


@pytest.mark.parametrize(
    ("role", "claims", "status", "code"),
    [
        ("authority", {"district": DISTRICT_A}, 403, "province_only"),  # a district authority
        ("enterprise", {}, 403, "role_not_allowed"),
        ("lab", {}, 403, "role_not_allowed"),
    ],
)
async def test_only_the_province_reads_the_audit_log(
    stack: Stack, role: str, claims: dict[str, str], status: int, code: str
) -> None:
    if role == "enterprise":
        claims = {"enterprise_id": str(uuid.uuid4())}
    if role == "lab":
        claims = {"lab_id": str(uuid.uuid4())}
    headers = bearer(stack.token(role, **claims))
    for path in ("/api/v1/audit", f"/api/v1/persons/{uuid.uuid4()}/audit"):
        r = await stack.http.get(path, headers=headers)
        assert (r.status_code, r.json()["error"]["code"]) == (status, code), r.text


@pytest.mark.parametrize(
    ("path", "params", "status", "code"),
    [
        ("/api/v1/audit", {"cursor": "not-a-cursor"}, 422, "invalid_cursor"),
        ("/api/v1/audit", {"since": "2021-09-15T08:00"}, 422, None),  # no time zone
        ("/api/v1/audit", {"limit": "0"}, 422, None),
        ("/api/v1/audit", {"person": "x"}, 422, "unknown_query_parameter"),
        (f"/api/v1/persons/{uuid.UUID(int=1)}/audit", {}, 404, "person_not_found"),
        ("/api/v1/persons/not-a-uuid/audit", {}, 422, "invalid_uuid"),
    ],
)
async def test_bad_audit_queries_are_refused(
    stack: Stack, path: str, params: dict[str, str], status: int, code: str | None
) -> None:
    r = await stack.http.get(path, params=params, headers=stack.province())
    assert r.status_code == status, r.text
    if code is not None:
        assert r.json()["error"]["code"] == code


async def test_safework_audit_export(stack: Stack, db: str, monkeypatch: pytest.MonkeyPatch) -> None:
    tenant = await enterprise(stack, DISTRICT_A, people=2)
    await ok(
        await stack.http.post(
            "/api/v1/persons/lookup", json={"national_id": tenant.national_ids[0]}, headers=stack.province()
        )
    )
    monkeypatch.setenv("DATABASE_URL", db)
    runner = CliRunner()
    out = await asyncio.to_thread(runner.invoke, cli, ["audit", "export", "--action", "person.lookup"])
    assert out.exit_code == 0, out.output
    rows = [json.loads(line) for line in out.stdout.splitlines()]
    assert [(r["action"], r["entity_id"]) for r in rows] == [("person.lookup", tenant.people[0])]
    assert rows[0]["at"].endswith("+07:00")

    out = await asyncio.to_thread(runner.invoke, cli, ["audit", "export", "--format", "csv", "--entity", "person"])
    assert out.exit_code == 0, out.output
    table = list(csv.DictReader(io.StringIO(out.stdout)))
    assert {r["action"] for r in table} == {"person.create", "person.lookup"}
    assert len(table) == 3 and set(table[0]) >= {"id", "at", "client_id", "role", "subject", "action", "entity"}

    out = await asyncio.to_thread(runner.invoke, cli, ["audit", "export", "--since", "tomorrow"])
    assert out.exit_code == 2 and "since" in out.output.lower()
