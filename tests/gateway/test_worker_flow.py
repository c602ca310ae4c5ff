"""The worker's app end to end: an enterprise issues a one-time code, the sanctioned app trades it
for a device token, reads the worker's own status, posts declarations, travels and check-ins,
syncs, refreshes; only the sanctioned app may activate or sync (seeds/000 §2.4)."""

from __future__ import annotations

import re
import uuid

import asyncpg
import jwt

from safework_common.settings import plain_pg_url
from tests.gateway.conftest import Stack, bearer
from tests.gateway.world import DISTRICT_A, DISTRICT_B, app_info, enterprise, new_device_id, ok


async def _query(db: str, sql: str, *args: object) -> list[asyncpg.Record]:
    conn = await asyncpg.connect(plain_pg_url(db))
    try:
        return list(await conn.fetch(sql, *args))
    finally:
        await conn.close()


async def issue(stack: Stack, tenant_id: str, token: str, *person_ids: str) -> list[str]:
    r = await stack.http.post(
        f"/api/v1/enterprises/{tenant_id}/activation-codes",
        json={"person_ids": list(person_ids)},
        headers=bearer(token),
    )
    body = await ok(r, 201)
    assert r.headers["cache-control"].startswith("no-store")
    return [item["code"] for item in body["items"]]


async def activate(stack: Stack, code: str, device_id: str, app_id: str = "vn.gov.bluezone") -> dict[str, object]:
    r = await stack.http.post("/api/v1/app/activate", json={"code": code, "device_id": device_id, **app_info(app_id)})
    return {"status": r.status_code, "body": r.json()}


async def test_activation_then_own_status_and_records(stack: Stack, db: str) -> None:
    tenant = await enterprise(stack, DISTRICT_A)
    pid = tenant.people[0]
    (code,) = await issue(stack, tenant.enterprise_id, tenant.token, pid)
    assert re.fullmatch(r"[0-9A-HJKMNP-TV-Z]{5}-[0-9A-HJKMNP-TV-Z]{5}", code)
    stored = await _query(db, "SELECT code_hash FROM gateway_activation_code")
    assert len(stored) == 1 and code.encode() not in bytes(stored[0]["code_hash"])

    # Typed by hand: lower case, no dash.
    device_id = new_device_id()
    result = await activate(stack, code.replace("-", "").lower(), device_id)
    assert result["status"] == 200, result
    tokens = result["body"]
    assert isinstance(tokens, dict)
    assert tokens["person_id"] == pid and tokens["enterprise_id"] == tenant.enterprise_id
    claims = jwt.decode(str(tokens["access_token"]), options={"verify_signature": False})
    assert (claims["role"], claims["typ"], claims["person_id"], claims["device_id"]) == (
        "worker",
        "device",
        pid,
        device_id,
    )
    me = bearer(str(tokens["access_token"]))

    record = await ok(await stack.http.get("/api/v1/me", headers=me))
    assert record["id"] == pid and record["national_id"].startswith("*")

    status = await ok(await stack.http.get("/api/v1/me/status", headers=me))
    assert status["person_id"] == pid
    assert isinstance(status["cleared_to_work"], bool)
    assert isinstance(status["reasons"], list)
    assert "doses" in status and "results" in status and "next_due_test" in status

    declared = await stack.http.post(
        "/api/v1/me/declarations",
        json={"declared_at": "2021-09-15T06:45:00+07:00", "symptoms": ["fever"]},
        headers=me,
    )
    assert declared.status_code == 201, declared.text
    mine = await ok(await stack.http.get("/api/v1/me/declarations", headers=me))
    assert [d["person_id"] for d in mine["items"]] == [pid]
    # The enterprise sees its worker's declaration; the other district's enterprise does not.
    seen = await ok(await stack.http.get(f"/api/v1/persons/{pid}/declarations", headers=tenant.headers))
    assert len(seen["items"]) == 1
    other = await enterprise(stack, DISTRICT_B, people=0)
    r = await stack.http.get(f"/api/v1/persons/{pid}/declarations", headers=other.headers)
    assert r.status_code == 404

    trip = await stack.http.post(
        "/api/v1/me/travels",
        json={"left_at": "2021-09-10T17:00:00+07:00", "destination_province": "Hà Nội"},
        headers=me,
    )
    assert trip.status_code == 201, trip.text
    back = await stack.http.patch(
        f"/api/v1/me/travels/{trip.json()['id']}",
        json={"returned_at": "2021-09-14T19:00:00+07:00", "returned_to_boarding_house": True},
        headers=me,
    )
    assert back.status_code == 200, back.text

    venue = await ok(
        await stack.http.post(
            f"/api/v1/enterprises/{tenant.enterprise_id}/venues",
            json={"name": "Cổng số 1", "kind": "gate"},
            headers=tenant.headers,
        ),
        201,
    )
    checkin = await stack.http.post(
        "/api/v1/me/checkins",
        json={"qr_code": venue["qr_code"], "checked_in_at": "2021-09-15T07:02:00+07:00"},
        headers=me,
    )
    assert checkin.status_code == 201, checkin.text


async def test_a_worker_token_cannot_name_another_person(stack: Stack) -> None:
    tenant = await enterprise(stack, DISTRICT_A)
    token = stack.token("worker", person_id=tenant.people[0], enterprise_id=tenant.enterprise_id)
    r = await stack.http.get(f"/api/v1/persons/{tenant.people[1]}", headers=bearer(token))
    assert r.status_code == 403 and r.json()["error"]["code"] == "role_not_allowed"


async def test_codes_only_for_people_on_the_callers_active_roster(stack: Stack, db: str) -> None:
    ours = await enterprise(stack, DISTRICT_A)
    theirs = await enterprise(stack, DISTRICT_B)
    r = await stack.http.post(
        f"/api/v1/enterprises/{ours.enterprise_id}/activation-codes",
        json={"person_ids": [ours.people[0], theirs.people[0], str(uuid.uuid4())]},
        headers=ours.headers,
    )
    assert r.status_code == 422, r.text
    details = {d["field"]: d["code"] for d in r.json()["error"]["details"]}
    assert details == {"body.person_ids[1]": "person_not_found", "body.person_ids[2]": "person_not_found"}
    assert await _query(db, "SELECT 1 FROM gateway_activation_code") == []  # bad input changes nothing

    # The province sees the other person, who is not on this roster.
    r = await stack.http.post(
        f"/api/v1/enterprises/{ours.enterprise_id}/activation-codes",
        json={"person_ids": [theirs.people[0]]},
        headers=stack.province(),
    )
    assert r.status_code == 422
    assert r.json()["error"]["details"][0]["code"] == "person_not_on_roster"

    # Another enterprise's path: 404 as if it did not exist.
    r = await stack.http.post(
        f"/api/v1/enterprises/{theirs.enterprise_id}/activation-codes",
        json={"person_ids": [theirs.people[0]]},
        headers=ours.headers,
    )
    assert r.status_code == 404 and r.json()["error"]["code"] == "enterprise_not_found"


async def test_codes_are_one_time_and_expire(stack: Stack, db: str) -> None:
    tenant = await enterprise(stack, DISTRICT_A)
    first, second = await issue(stack, tenant.enterprise_id, tenant.token, *tenant.people)
    assert (await activate(stack, first, new_device_id()))["status"] == 200

    used = await activate(stack, first, new_device_id())
    assert used["status"] == 409 and used["body"]["error"]["code"] == "activation_code_used"  # type: ignore[index]
    wrong = await activate(stack, "ZZZZZ-ZZZZZ", new_device_id())
    assert wrong["status"] == 400 and wrong["body"]["error"]["code"] == "activation_code_invalid"  # type: ignore[index]
    assert wrong["body"]["error"]["details"][0]["field"] == "body.code"  # type: ignore[index]

    await _query(
        db, "UPDATE gateway_activation_code SET expires_at = now() - interval '1 minute' WHERE used_at IS NULL"
    )
    expired = await activate(stack, second, new_device_id())
    assert expired["status"] == 400 and expired["body"]["error"]["code"] == "activation_code_expired"  # type: ignore[index]


async def test_a_new_code_replaces_the_unused_one(stack: Stack) -> None:
    tenant = await enterprise(stack, DISTRICT_A, people=1)
    (old,) = await issue(stack, tenant.enterprise_id, tenant.token, tenant.people[0])
    (new,) = await issue(stack, tenant.enterprise_id, tenant.token, tenant.people[0])
    assert (await activate(stack, old, new_device_id()))["status"] == 400
    assert (await activate(stack, new, new_device_id()))["status"] == 200


async def test_unsanctioned_app_is_refused_recorded_and_spends_no_code(stack: Stack, db: str) -> None:
    tenant = await enterprise(stack, DISTRICT_A, people=1)
    (code,) = await issue(stack, tenant.enterprise_id, tenant.token, tenant.people[0])
    device_id = new_device_id()
    refused = await activate(stack, code, device_id, app_id="com.example.other-tracer")
    assert refused["status"] == 403
    error = refused["body"]["error"]  # type: ignore[index]
    assert error["code"] == "unsanctioned_app" and error["details"][0]["field"] == "body.app_id"

    (row,) = await _query(db, "SELECT * FROM gateway_unsanctioned_attempt")
    assert row["app_id"] == "com.example.other-tracer" and row["device_id"] == device_id
    assert row["endpoint"] == "POST /api/v1/app/activate" and row["client_ip"] == "127.0.0.1"
    assert code not in str(dict(row)) and code.replace("-", "") not in str(dict(row))

    assert (await activate(stack, code, device_id))["status"] == 200  # the code was not spent


async def test_sync_by_the_app_and_refusal_of_other_apps(stack: Stack, db: str) -> None:
    tenant = await enterprise(stack, DISTRICT_A, people=1)
    (code,) = await issue(stack, tenant.enterprise_id, tenant.token, tenant.people[0])
    device_id = new_device_id()
    tokens = (await activate(stack, code, device_id))["body"]
    me = bearer(str(tokens["access_token"]))  # type: ignore[index]

    r = await stack.http.post("/api/v1/me/sync", json=app_info(platform="android"), headers=me)
    assert r.status_code == 200, r.text
    assert r.json()["device_id"] == device_id and r.json()["person_id"] == tenant.people[0]

    r = await stack.http.post("/api/v1/me/sync", json=app_info("com.example.clone"), headers=me)
    assert r.status_code == 403 and r.json()["error"]["code"] == "unsanctioned_app"
    (row,) = await _query(db, "SELECT * FROM gateway_unsanctioned_attempt")
    assert row["endpoint"] == "POST /api/v1/me/sync" and row["subject"] == f"device:{device_id}"


async def test_an_enterprise_account_syncs_from_the_app(stack: Stack) -> None:
    tenant = await enterprise(stack, DISTRICT_A, people=0)
    body = {"device_id": new_device_id(), **app_info(platform="web")}
    r = await stack.http.post(f"/api/v1/enterprises/{tenant.enterprise_id}/app/sync", json=body, headers=tenant.headers)
    assert r.status_code in (200, 201), r.text
    assert r.json()["enterprise_id"] == tenant.enterprise_id
    r = await stack.http.post(
        f"/api/v1/enterprises/{tenant.enterprise_id}/app/sync",
        json={**body, "app_id": "com.example.clone"},
        headers=tenant.headers,
    )
    assert r.status_code == 403 and r.json()["error"]["code"] == "unsanctioned_app"


async def test_refresh_rotates_and_a_reused_refresh_token_revokes_the_device(stack: Stack) -> None:
    tenant = await enterprise(stack, DISTRICT_A, people=1)
    (code,) = await issue(stack, tenant.enterprise_id, tenant.token, tenant.people[0])
    first = (await activate(stack, code, new_device_id()))["body"]
    assert isinstance(first, dict)

    r = await stack.http.post("/api/v1/app/refresh", json={"refresh_token": first["refresh_token"]})
    second = await ok(r)
    assert second["refresh_token"] != first["refresh_token"] and second["access_token"] != first["access_token"]
    assert (await stack.http.get("/api/v1/me", headers=bearer(second["access_token"]))).status_code == 200

    # The first refresh token comes back: somebody kept a copy. The device is revoked.
    r = await stack.http.post("/api/v1/app/refresh", json={"refresh_token": first["refresh_token"]})
    assert r.status_code == 401 and r.json()["error"]["code"] == "refresh_token_reused"
    for access in (first["access_token"], second["access_token"]):
        r = await stack.http.get("/api/v1/me", headers=bearer(access))
        assert r.status_code == 401 and r.json()["error"]["code"] == "device_revoked"
    r = await stack.http.post("/api/v1/app/refresh", json={"refresh_token": second["refresh_token"]})
    assert r.status_code == 401 and r.json()["error"]["code"] == "device_revoked"

    r = await stack.http.post("/api/v1/app/refresh", json={"refresh_token": "x" * 43})
    assert r.status_code == 401 and r.json()["error"]["code"] == "invalid_refresh_token"


async def test_an_enterprise_revokes_its_workers_device(stack: Stack) -> None:
    tenant = await enterprise(stack, DISTRICT_A, people=1)
    other = await enterprise(stack, DISTRICT_B, people=0)
    (code,) = await issue(stack, tenant.enterprise_id, tenant.token, tenant.people[0])
    device_id = new_device_id()
    tokens = (await activate(stack, code, device_id))["body"]
    me = bearer(str(tokens["access_token"]))  # type: ignore[index]

    r = await stack.http.post(f"/api/v1/devices/{device_id}/revoke", headers=other.headers)
    assert r.status_code == 404  # another tenant's device does not exist for it
    assert (await stack.http.get("/api/v1/me", headers=me)).status_code == 200

    r = await stack.http.post(f"/api/v1/devices/{device_id}/revoke", headers=tenant.headers)
    assert r.status_code == 200, r.text
    assert r.json() == {"device_id": device_id, "revoked_sessions": 1}
    r = await stack.http.get("/api/v1/me", headers=me)
    assert r.status_code == 401 and r.json()["error"]["code"] == "device_revoked"


async def test_a_worker_who_left_the_roster_gets_no_new_token(stack: Stack) -> None:
    tenant = await enterprise(stack, DISTRICT_A, people=1)
    (code,) = await issue(stack, tenant.enterprise_id, tenant.token, tenant.people[0])
    tokens = (await activate(stack, code, new_device_id()))["body"]
    assert isinstance(tokens, dict)
    left = await stack.http.patch(
        f"/api/v1/persons/{tenant.people[0]}", json={"status": "left"}, headers=tenant.headers
    )
    assert left.status_code == 200, left.text
    r = await stack.http.post("/api/v1/app/refresh", json={"refresh_token": tokens["refresh_token"]})
    assert r.status_code == 401 and r.json()["error"]["code"] == "worker_not_on_roster"
    r = await stack.http.get("/api/v1/me/status", headers=bearer(str(tokens["access_token"])))
    assert r.status_code == 401 and r.json()["error"]["code"] == "device_revoked"
