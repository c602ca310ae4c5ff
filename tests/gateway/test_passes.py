"""Gate passes (issue 17): issued only when cleared, verified offline with third-party code
(PyJWT, zxing-cpp) and with our verifier, refused after each revoking event, expired, signed by
another key, tampered or truncated; another enterprise's worker is 404 at the online route; the
vaccination card is a SMART Health Card a third-party JWS library verifies."""

from __future__ import annotations

import asyncio
import base64
import io
import json
import uuid
import zlib
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import jwt
import pytest
import zxingcpp
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from PIL import Image
from sqlalchemy import String, any_, bindparam, func, select
from sqlalchemy.dialects.postgresql import ARRAY

from safework_common.db import compiled, make_pool
from safework_common.fhir import CVX
from safework_common.passes.holder import mask_name
from safework_common.passes.verifier import PASS_TYP, PassVerifier
from safework_gateway.passes import health_card, repository
from safework_gateway.passes.models import GatePass
from safework_gateway.passes.recorder import PassRecorder
from safework_gateway.passes.rules import pass_expiry
from tests.gateway.conftest import Stack, bearer
from tests.gateway.world import ok
from tests.scheduler.factories import registry


async def cleared_worker(stack: Stack, db: str, *, name: str = "Nguyễn Thị Hoa") -> tuple[uuid.UUID, uuid.UUID, str]:
    """A worker tested negative yesterday (cleared now), with two doses; their device token."""
    now = datetime.now(UTC)
    async with registry(db) as reg:
        eid = await reg.enterprise(zone_type="KCN")
        pid = await reg.person(eid, hire_date=(now - timedelta(days=200)).date())
        await reg.conn.execute("UPDATE person SET full_name = $1 WHERE id = $2", name, pid)
        await reg.dose(pid, 1, now - timedelta(days=120), product="AZ")
        await reg.dose(pid, 2, now - timedelta(days=60), product="AZ")
        await reg.result(pid, now - timedelta(hours=20), kind="PCR")
    token = stack.token("worker", person_id=str(pid), enterprise_id=str(eid))
    return eid, pid, token


async def jwks(stack: Stack) -> dict[str, Any]:
    return dict((await stack.http.get("/.well-known/jwks.json")).json())


async def fresh_list(stack: Stack, headers: dict[str, str]) -> str:
    return str((await ok(await stack.http.get("/api/v1/passes/revocations", headers=headers)))["token"])


async def verifier(stack: Stack, headers: dict[str, str]) -> PassVerifier:
    v = PassVerifier(await jwks(stack))
    v.load_revocations(await fresh_list(stack, headers))
    return v


async def test_pass_issued_verified_by_pyjwt_qr_decoded_and_offline(stack: Stack, db: str) -> None:
    eid, pid, token = await cleared_worker(stack, db)
    status = await ok(await stack.http.get("/api/v1/me/status", headers=bearer(token)))
    assert status["cleared_to_work"] is True, status
    issued = await ok(await stack.http.post("/api/v1/me/pass", headers=bearer(token)), 201)
    keys = await jwks(stack)
    kids = [k["kid"] for k in keys["keys"]]
    assert issued["kid"] in kids and issued["kid"].startswith("pass-")
    assert len([k for k in kids if k.startswith("pass-")]) == 1 and len(kids) >= 2  # its own key beside the token key

    # Third-party verification: PyJWT with the JWKS entry.
    jwk = next(k for k in keys["keys"] if k["kid"] == issued["kid"])
    key = jwt.PyJWK(jwk).key
    assert jwt.get_unverified_header(issued["token"])["typ"] == PASS_TYP
    claims = jwt.decode(issued["token"], key, algorithms=["EdDSA"], issuer="safework")
    assert claims["ent"] == str(eid) and claims["name"] == "N***** T** H**"
    assert set(claims) == {"iss", "jti", "ent", "sub", "name", "iat", "nbf", "exp"}
    text = json.dumps(claims)
    assert str(pid) not in text and "Hoa" not in text  # pseudonymous, masked, no results
    assert claims["exp"] - claims["iat"] <= 24 * 3600

    # The QR (PNG) decodes, with a third-party decoder, to the very token; SVG renders.
    png = await stack.http.get(f"/api/v1/me/passes/{issued['pass_id']}/qr", headers=bearer(token))
    assert png.status_code == 200 and png.headers["content-type"] == "image/png"
    (read,) = zxingcpp.read_barcodes(Image.open(io.BytesIO(png.content)))
    assert read.text == issued["token"]
    svg = await stack.http.get(
        f"/api/v1/me/passes/{issued['pass_id']}/qr", params={"format": "svg"}, headers=bearer(token)
    )
    assert svg.status_code == 200 and svg.text.lstrip().startswith("<svg")
    other_worker = stack.token("worker", person_id=str(uuid.uuid4()), enterprise_id=str(eid))
    r = await stack.http.get(f"/api/v1/me/passes/{issued['pass_id']}/qr", headers=bearer(other_worker))
    assert r.status_code == 404 and r.json()["error"]["code"] == "pass_not_found"

    # Offline: our verifier with the JWKS and a revocation list.
    gate = bearer(stack.token("enterprise", enterprise_id=str(eid)))
    v = await verifier(stack, gate)
    check = v.verify(read.text)
    assert check.valid and check.code == "pass_valid" and check.enterprise_id == str(eid)

    # Online: the enterprise learns whose pass it is.
    online = await ok(await stack.http.post("/api/v1/passes/verify", json={"token": read.text}, headers=gate))
    assert online["valid"] is True and online["holder"]["person_id"] == str(pid)


async def test_tampered_truncated_other_key_expired(stack: Stack, db: str) -> None:
    eid, _, token = await cleared_worker(stack, db)
    issued = await ok(await stack.http.post("/api/v1/me/pass", headers=bearer(token)), 201)
    gate = bearer(stack.token("enterprise", enterprise_id=str(eid)))
    v = await verifier(stack, gate)
    t = issued["token"]
    head, body, sig = t.split(".")
    claims = json.loads(base64.urlsafe_b64decode(body + "=="))
    claims["exp"] += 7 * 24 * 3600
    forged_body = base64.urlsafe_b64encode(json.dumps(claims).encode()).decode().rstrip("=")
    assert v.verify(f"{head}.{forged_body}.{sig}").code == "pass_invalid"
    assert v.verify(t[:-5]).code == "pass_invalid"
    assert v.verify(t[: len(t) // 2]).code == "pass_invalid"
    assert v.verify("").code == "pass_invalid"
    # Another key: a fresh Ed25519 key under the same kid, and the token key of the same JWKS.
    other = Ed25519PrivateKey.generate()
    fake = jwt.encode(claims, other, algorithm="EdDSA", headers={"kid": issued["kid"], "typ": PASS_TYP})
    assert v.verify(fake).code == "pass_invalid"
    kid, token_key = stack.app.state.auth.ring.signing_key()
    fake2 = jwt.encode(claims, token_key, algorithm="EdDSA", headers={"kid": kid, "typ": PASS_TYP})
    assert v.verify(fake2).code == "pass_unknown_key"
    r = await ok(await stack.http.post("/api/v1/passes/verify", json={"token": fake2}, headers=gate))
    assert r["valid"] is False and r["outcome"] == "pass_unknown_key" and r["holder"] is None
    # Expired: the verifier's clock a day and a minute later.
    late = PassVerifier(await jwks(stack), clock=lambda: datetime.now(UTC).timestamp() + 24 * 3600 + 60)
    assert late.verify(t).code == "pass_expired"
    # No list, or a stale one: fail closed.
    assert PassVerifier(await jwks(stack)).verify(t).code == "revocation_list_stale"


async def test_another_enterprises_worker_is_404_online(stack: Stack, db: str) -> None:
    _, _, token = await cleared_worker(stack, db)
    issued = await ok(await stack.http.post("/api/v1/me/pass", headers=bearer(token)), 201)
    async with registry(db) as reg:
        other = await reg.enterprise(zone_type="KCN")
    gate = bearer(stack.token("enterprise", enterprise_id=str(other)))
    r = await stack.http.post("/api/v1/passes/verify", json={"token": issued["token"]}, headers=gate)
    assert r.status_code == 404 and r.json()["error"]["code"] == "pass_not_found"
    # A worker may not verify passes at all.
    r = await stack.http.post("/api/v1/passes/verify", json={"token": issued["token"]}, headers=bearer(token))
    assert r.status_code == 403


async def test_not_cleared_is_409_with_the_verdicts_reasons(stack: Stack, db: str) -> None:
    async with registry(db) as reg:
        eid = await reg.enterprise(zone_type="KCN")
        pid = await reg.person(eid)
    token = stack.token("worker", person_id=str(pid), enterprise_id=str(eid))
    r = await stack.http.post("/api/v1/me/pass", headers=bearer(token))
    assert r.status_code == 409, r.text
    error = r.json()["error"]
    assert error["code"] == "not_cleared_to_work" and error["details"]
    status = await ok(await stack.http.get("/api/v1/me/status", headers=bearer(token)))
    assert [d["code"] for d in error["details"]] == status["reasons"]


async def _revoked_after(stack: Stack, db: str, event: str) -> None:
    eid, pid, token = await cleared_worker(stack, db)
    issued = await ok(await stack.http.post("/api/v1/me/pass", headers=bearer(token)), 201)
    gate = bearer(stack.token("enterprise", enterprise_id=str(eid)))
    province = stack.province()
    assert (await verifier(stack, gate)).verify(issued["token"]).valid
    if event == "positive":
        lab_body = {"name": "L", "licence_code": f"BG-{uuid.uuid4().hex[:8]}"}
        lab = await ok(await stack.http.post("/api/v1/labs", json=lab_body, headers=province), 201)
        now = datetime.now(UTC).isoformat()
        item = {"type": "single", "sample_id": f"S-{uuid.uuid4().hex[:8]}", "person_id": str(pid), "kind": "PCR",
                "collected_at": now, "resulted_at": now, "result": "POSITIVE"}  # fmt: skip
        lab_token = bearer(stack.token("lab", lab_id=lab["id"]))
        await ok(await stack.http.post(f"/api/v1/labs/{lab['id']}/results", json={"items": [item]}, headers=lab_token))
        reason = "positive_result"
    elif event == "positive_fhir":  # the same result as a FHIR Bundle (issue 16's lab route)
        lab_body = {"name": "L", "licence_code": f"BG-{uuid.uuid4().hex[:8]}"}
        lab = await ok(await stack.http.post("/api/v1/labs", json=lab_body, headers=province), 201)
        now = datetime.now(UTC).isoformat()
        observation = {
            "resourceType": "Observation",
            "status": "final",
            "identifier": [{"value": f"S-{uuid.uuid4().hex[:8]}"}],
            "code": {"coding": [{"system": "http://loinc.org", "code": "94500-6"}]},
            "subject": {"reference": f"Patient/{pid}"},
            "effectiveDateTime": now,
            "issued": now,
            "valueCodeableConcept": {"coding": [{"system": "http://snomed.info/sct", "code": "260373001"}]},
        }
        bundle = {"resourceType": "Bundle", "type": "collection", "entry": [{"resource": observation}]}
        lab_token = bearer(stack.token("lab", lab_id=lab["id"]))
        await ok(await stack.http.post(f"/api/v1/labs/{lab['id']}/results/fhir", json=bundle, headers=lab_token))
        reason = "positive_result"
    elif event == "suspended":
        change = {"status": "suspended", "reason": "F0 at the plant"}
        await ok(await stack.http.post(f"/api/v1/enterprises/{eid}/status", json=change, headers=province))
        reason = "enterprise_suspended"
    elif event == "left":
        await ok(await stack.http.patch(f"/api/v1/persons/{pid}", json={"status": "left"}, headers=gate))
        reason = "left_enterprise"
    else:  # a contact: whatever route records it, the sweep re-checks the verdict
        async with registry(db) as reg:
            await reg.result(pid, datetime.now(UTC), result="POSITIVE")
        assert await stack.app.state.passes.recheck() >= 1
        reason = "positive_result"
    v = await verifier(stack, gate)
    check = v.verify(issued["token"])
    assert check.code == "pass_revoked", (event, check)
    online = await stack.http.post("/api/v1/passes/verify", json={"token": issued["token"]}, headers=gate)
    if event == "left":  # no longer its worker: the enterprise may still read its own former roster
        assert online.status_code in (200, 404), online.text
        if online.status_code == 404:
            return
    assert online.json()["outcome"] == "pass_revoked" and online.json()["revoked_reason"] == reason, online.text


@pytest.mark.parametrize("event", ["positive", "positive_fhir", "suspended", "left", "sweep"])
async def test_each_revoking_event_revokes_at_once(stack: Stack, db: str, event: str) -> None:
    await _revoked_after(stack, db, event)


async def _canteen_checkins(db: str, enterprise_id: uuid.UUID, visits: list[tuple[uuid.UUID, datetime]]) -> None:
    async with registry(db) as reg:
        vid = uuid.uuid4()
        await reg.conn.execute(
            "INSERT INTO venue (id, enterprise_id, name, kind, qr_code) VALUES ($1, $2, $3, 'canteen', $4)",
            vid,
            enterprise_id,
            f"canteen {vid.hex[:4]}",
            f"QR-{vid.hex}",
        )
        for person_id, at in visits:
            await reg.conn.execute(
                "INSERT INTO checkin (person_id, venue_id, checked_in_at) VALUES ($1, $2, $3)", person_id, vid, at
            )


@pytest.mark.parametrize("made_by", ["authority_case", "lab_ingest"])
async def test_a_traced_contacts_pass_is_revoked_at_once(stack: Stack, db: str, made_by: str) -> None:
    """Issue 17: "becoming a contact ... revokes the person's live passes at once", for a contact
    the registry traces itself from check-ins (seeds/004 §II.3: the F0's contacts are traced at
    once), whether the case is the authority's (POST /cases) or made on ingest by the lab's
    individual positive PCR. No sweep runs: the refusal is there when the write is answered,
    online and in the next revocation list."""
    eid, contact, token = await cleared_worker(stack, db)
    issued = await ok(await stack.http.post("/api/v1/me/pass", headers=bearer(token)), 201)
    async with registry(db) as reg:
        f0 = await reg.person(eid, employee_code="F0")
        bystander = await reg.person(eid, employee_code="BYSTANDER")
    now = datetime.now(UTC)
    # Lunch together in the canteen three hours ago (within its dwell), the bystander long after.
    await _canteen_checkins(
        db, eid, [(f0, now - timedelta(hours=3)), (contact, now - timedelta(hours=3) + timedelta(minutes=20)),
                  (bystander, now - timedelta(minutes=5))]
    )  # fmt: skip
    gate = bearer(stack.token("enterprise", enterprise_id=str(eid)))
    assert (await verifier(stack, gate)).verify(issued["token"]).valid
    province = stack.province()
    collected = now - timedelta(hours=1)
    if made_by == "authority_case":
        async with registry(db) as reg:
            await reg.result(f0, collected, result="POSITIVE")
        await ok(await stack.http.post("/api/v1/cases", json={"person_id": str(f0)}, headers=province), 201)
    else:
        lab_body = {"name": "L", "licence_code": f"BG-{uuid.uuid4().hex[:8]}"}
        lab = await ok(await stack.http.post("/api/v1/labs", json=lab_body, headers=province), 201)
        item = {"type": "single", "sample_id": f"S-{uuid.uuid4().hex[:8]}", "person_id": str(f0), "kind": "PCR",
                "collected_at": collected.isoformat(), "resulted_at": now.isoformat(),
                "result": "POSITIVE"}  # fmt: skip
        lab_token = bearer(stack.token("lab", lab_id=lab["id"]))
        await ok(await stack.http.post(f"/api/v1/labs/{lab['id']}/results", json={"items": [item]}, headers=lab_token))
    # The gateway's record, as the write was answered (no sweep, no online check yet).
    _, row = await stack.app.state.passes.check(issued["token"])
    assert row is not None and row["revoked_reason"] == "contact", row
    assert (await verifier(stack, gate)).verify(issued["token"]).code == "pass_revoked"
    online = await ok(await stack.http.post("/api/v1/passes/verify", json={"token": issued["token"]}, headers=gate))
    assert (online["outcome"], online["revoked_reason"]) == ("pass_revoked", "contact"), online


async def test_registry_facts_revoke_only_passes_issued_before_them(stack: Stack, db: str) -> None:
    """A gateway process starting reads the facts of the last pass lifetime: one written before a
    pass was issued does not revoke it; one written after does, with its reason (a case: the
    positive result), whatever route wrote it."""
    from safework_gateway.passes.facts import FactFeed

    _, pid, token = await cleared_worker(stack, db)
    service = stack.app.state.passes
    fact = (
        "INSERT INTO outbox_event (kind, entity, entity_id, occurred_at, payload, created_at)"
        " VALUES ($1, $2, $3, $4, $5::jsonb, $6)"
    )
    long_ago = datetime.now(UTC) - timedelta(hours=3)
    async with registry(db) as reg:
        await reg.conn.execute(
            fact, "contact.traced", "contact", "1", long_ago, json.dumps({"person_id": str(pid)}), long_ago
        )
    issued = await ok(await stack.http.post("/api/v1/me/pass", headers=bearer(token)), 201)
    feed = FactFeed(stack.app.state.registry, service._writer, lookback=timedelta(hours=24))
    assert await feed.catch_up() == 0
    assert (await service.check(issued["token"]))[0].valid
    now = datetime.now(UTC) + timedelta(seconds=1)
    async with registry(db) as reg:
        await reg.conn.execute(
            fact, "case.confirmed", "outbreak_case", "2", now, json.dumps({"person_id": str(pid)}), now
        )
    assert await feed.catch_up() == 1
    check, row = await service.check(issued["token"])
    assert check.code == "pass_revoked" and row is not None and row["revoked_reason"] == "positive_result"
    assert await feed.catch_up() == 0  # read again: nothing more to revoke


async def test_a_failing_hook_never_fails_the_write_and_the_sweep_revokes_later(
    stack: Stack, db: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """RELIABILITY: the positive result is stored and answered as usual while revoking fails;
    the pass stays live until the sweep, which revokes it."""
    eid, pid, token = await cleared_worker(stack, db)
    issued = await ok(await stack.http.post("/api/v1/me/pass", headers=bearer(token)), 201)
    service = stack.app.state.passes
    real_recheck = service.recheck

    async def broken(**_: Any) -> int:
        raise ConnectionError("scheduler down")

    monkeypatch.setattr(service, "recheck", broken)
    monkeypatch.setattr(service, "catch_up", broken)
    province = stack.province()
    lab_body = {"name": "L", "licence_code": f"BG-{uuid.uuid4().hex[:8]}"}
    lab = await ok(await stack.http.post("/api/v1/labs", json=lab_body, headers=province), 201)
    now = datetime.now(UTC).isoformat()
    item = {"type": "single", "sample_id": f"S-{uuid.uuid4().hex[:8]}", "person_id": str(pid), "kind": "PCR",
            "collected_at": now, "resulted_at": now, "result": "POSITIVE"}  # fmt: skip
    lab_token = bearer(stack.token("lab", lab_id=lab["id"]))
    batch = await ok(
        await stack.http.post(f"/api/v1/labs/{lab['id']}/results", json={"items": [item]}, headers=lab_token)
    )
    assert batch["accepted"] == 1
    gate = bearer(stack.token("enterprise", enterprise_id=str(eid)))
    assert (await verifier(stack, gate)).verify(issued["token"]).valid  # the hook failed: still live
    monkeypatch.setattr(service, "recheck", real_recheck)
    assert await service.recheck() >= 1  # what the sweep does each period
    assert (await verifier(stack, gate)).verify(issued["token"]).code == "pass_revoked"


async def test_issuing_survives_dropped_database_connections(stack: Stack, db: str) -> None:
    """RELIABILITY: issuing writes on its own autocommit pool without the per-checkout ping; a
    connection the server dropped is replaced and the INSERT run once more, so a restart of
    PostgreSQL between two passes costs no failed request."""
    _, _, token = await cleared_worker(stack, db)
    await ok(await stack.http.post("/api/v1/me/pass", headers=bearer(token)), 201)  # the pool holds a connection
    async with registry(db) as reg:
        dropped = await reg.conn.fetchval(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
            " WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )
    assert dropped >= 1
    issued = await ok(await stack.http.post("/api/v1/me/pass", headers=bearer(token)), 201)
    check, row = await stack.app.state.passes.check(issued["token"])
    assert check.valid and row is not None and row["pass_id"] == issued["pass_id"]  # written, and live


async def test_a_pass_write_runs_again_on_another_connection_when_its_own_was_dropped(db: str) -> None:
    """RELIABILITY: the pass INSERT on the gateway's asyncpg pool (no ping): every connection of
    the pool terminated by the server, the next writes are still committed, each exactly once."""
    pool = await make_pool(db, size=2)
    count = compiled(select(func.count()).where(repository.T.c.pass_id == any_(bindparam("ids", type_=ARRAY(String)))))
    try:
        passes = _issued(6)
        await asyncio.gather(*(repository.add_many(pool, [p]) for p in passes[:2]))  # two connections
        async with registry(db) as reg:
            dropped = await reg.conn.fetchval(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
                " WHERE datname = current_database() AND pid <> pg_backend_pid()"
            )
            assert dropped >= 2
            for rest in (passes[2:4], passes[4:]):
                await asyncio.gather(*(repository.add_many(pool, [p]) for p in rest))
            assert await reg.conn.fetchval(count.sql, *count.args(ids=[p.pass_id for p in passes])) == 6
    finally:
        await pool.close()


def _issued(n: int) -> list[repository.IssuedPass]:
    now = datetime.now(UTC)
    return [
        repository.IssuedPass(
            f"test-pass-{uuid.uuid4().hex[:16]}", uuid.uuid4(), uuid.uuid4(), "pass-kid", f"token-{i}", now, now
        )
        for i in range(n)
    ]


def test_an_issued_pass_lists_the_tables_issuing_columns() -> None:
    """The batch INSERT's columns come from the table; the row type must list the same, in order."""
    columns = [c.name for c in GatePass.__table__.columns if not c.name.startswith("revoked_")]
    assert list(repository.IssuedPass._fields) == columns == list(repository.INSERT_COLUMNS)


async def test_passes_waiting_together_are_written_by_one_statement_each_committed_before_it_returns(
    db: str,
) -> None:
    """Group commit: the first pass is written at once; those that arrive meanwhile wait for its
    statement to finish and go together in the next; nobody returns before its row is committed."""
    pool = await make_pool(db, size=2)
    first_written, release = asyncio.Event(), asyncio.Event()
    batches: list[int] = []

    async def write(batch: Sequence[repository.IssuedPass]) -> None:
        batches.append(len(batch))
        await repository.add_many(pool, batch)
        if len(batches) == 1:
            first_written.set()
            await release.wait()  # committed, but the statement not yet returned

    count = compiled(select(func.count()).where(repository.T.c.pass_id == any_(bindparam("ids", type_=ARRAY(String)))))

    async def stored(ids: list[str]) -> int:
        async with registry(db) as reg:  # another connection: sees only what was committed
            n = await reg.conn.fetchval(count.sql, *count.args(ids=ids))
        return int(n or 0)

    try:
        recorder = PassRecorder(write)
        passes = _issued(4)
        first = asyncio.create_task(recorder.record(passes[0]))
        await first_written.wait()
        rest = [asyncio.create_task(recorder.record(p)) for p in passes[1:]]
        await asyncio.sleep(0.05)
        assert not first.done() and not any(t.done() for t in rest)  # not acknowledged before the statement ends
        release.set()
        await asyncio.gather(first, *rest)
        assert batches == [1, 3] and (recorder.statements, recorder.recorded) == (2, 4)
        ids = [p.pass_id for p in passes]
        assert await stored(ids) == 4
        await repository.add_many(pool, passes[:2])  # written again after a dropped connection: no change
        assert await stored(ids) == 4
    finally:
        await pool.close()


async def test_a_failed_statement_fails_its_own_passes_only() -> None:
    failing, release = asyncio.Event(), asyncio.Event()
    written: list[list[str]] = []

    async def write(batch: Sequence[repository.IssuedPass]) -> None:
        if not written and not failing.is_set():
            failing.set()
            await release.wait()
            raise ConnectionRefusedError("the database went away")
        written.append([p.pass_id for p in batch])

    recorder = PassRecorder(write)
    a, b, c = _issued(3)
    lost = asyncio.create_task(recorder.record(a))
    await failing.wait()
    kept = [asyncio.create_task(recorder.record(p)) for p in (b, c)]
    await asyncio.sleep(0)
    release.set()
    with pytest.raises(ConnectionRefusedError):
        await lost
    await asyncio.gather(*kept)
    assert written == [[b.pass_id, c.pass_id]] and recorder.recorded == 2


async def test_a_caller_gone_leaves_the_others_written() -> None:
    started, release = asyncio.Event(), asyncio.Event()
    written: list[str] = []

    async def write(batch: Sequence[repository.IssuedPass]) -> None:
        started.set()
        await release.wait()
        written.extend(p.pass_id for p in batch)

    recorder = PassRecorder(write)
    a, b = _issued(2)
    gone, waiting = asyncio.create_task(recorder.record(a)), asyncio.create_task(recorder.record(b))
    await started.wait()
    gone.cancel()
    release.set()
    await waiting
    assert gone.cancelled() and written == [a.pass_id, b.pass_id]  # written, unused
    await recorder.stop()


async def test_a_database_outage_while_recording_is_503_and_no_pass(
    stack: Stack, db: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    _, pid, token = await cleared_worker(stack, db)
    recorder: PassRecorder = stack.app.state.passes.recorder

    async def down(batch: Sequence[repository.IssuedPass]) -> None:
        raise ConnectionRefusedError("connection refused")

    monkeypatch.setattr(recorder, "_write", down)
    r = await stack.http.post("/api/v1/me/pass", headers=bearer(token))
    assert r.status_code == 503 and r.json()["error"]["code"] == "database_unavailable", r.text
    async with stack.app.state.sessionmaker() as session:
        assert await repository.live(session, datetime.now(UTC), person_ids=[pid]) == []


async def test_health_card_is_a_smart_health_card(stack: Stack, db: str) -> None:
    _, _, token = await cleared_worker(stack, db)
    card = await ok(await stack.http.get("/api/v1/me/health-card", headers=bearer(token)))
    (jws,) = card["verifiableCredential"]
    header = jwt.get_unverified_header(jws)
    assert header["alg"] == "ES256" and header["zip"] == "DEF"
    keys = (await stack.http.get("/health-cards/.well-known/jwks.json")).json()["keys"]
    jwk = next(k for k in keys if k["kid"] == header["kid"])
    assert jwk["kty"] == "EC" and jwk["crv"] == "P-256" and jwk["alg"] == "ES256" and jwk["use"] == "sig"
    assert "d" not in jwk
    # Third-party: PyJWS verifies the signature; the payload inflates with raw DEFLATE.
    raw = jwt.api_jws.PyJWS().decode(jws, jwt.PyJWK(jwk).key, algorithms=["ES256"])
    payload = json.loads(zlib.decompress(raw, wbits=-15))
    assert payload["iss"] == stack.app.state.settings.health_card_issuer
    assert "https://smarthealth.cards#health-card" in payload["vc"]["type"]
    bundle = payload["vc"]["credentialSubject"]["fhirBundle"]
    kinds = [e["resource"]["resourceType"] for e in bundle["entry"]]
    assert kinds == ["Patient", "Immunization", "Immunization"]
    assert bundle["entry"][1]["resource"]["vaccineCode"]["coding"][0] == {"system": CVX, "code": "210"}
    assert bundle["entry"][0]["resource"]["name"] == [{"family": "Nguyễn", "given": ["Thị", "Hoa"]}]
    # The shc:/ QR decodes to the numeric form of the same JWS.
    png = await stack.http.get("/api/v1/me/health-card/qr", headers=bearer(token))
    (read,) = zxingcpp.read_barcodes(Image.open(io.BytesIO(png.content)))
    assert read.text.startswith("shc:/") and health_card.from_numeric(read.text).split(".")[0] == jws.split(".")[0]


def test_rules() -> None:
    assert mask_name("Trần Văn Nam") == "T*** V** N**"
    now = datetime(2021, 9, 15, 10, tzinfo=UTC)
    window_end = datetime(2021, 9, 15, 17, tzinfo=UTC)
    assert pass_expiry(now, window_end, timedelta(hours=24)) == window_end  # the window ends first
    assert pass_expiry(now, None, timedelta(hours=24)) == now + timedelta(hours=24)  # nothing due
    assert pass_expiry(now, now + timedelta(days=3), timedelta(hours=24)) == now + timedelta(hours=24)
    assert pass_expiry(now, now - timedelta(hours=1), timedelta(hours=24)) == now + timedelta(hours=24)
    assert health_card.from_numeric(health_card.numeric("abc.DEF-_")) == "abc.DEF-_"
    assert health_card.numeric("-") == "shc:/00"


def test_a_long_revocation_list_verifies() -> None:
    """Bench finding: the pass's 2,048-character bound applied to the revocation list too, so a
    list of more than about sixty revoked passes never verified and every gate failed closed."""
    from safework_common.passes.verifier import REVOCATIONS_TYP

    key = Ed25519PrivateKey.generate()
    raw = key.public_key().public_bytes_raw()
    x = base64.urlsafe_b64encode(raw).decode().rstrip("=")
    keys = {"keys": [{"kty": "OKP", "crv": "Ed25519", "x": x, "kid": "pass-k", "alg": "EdDSA"}]}
    now = int(datetime.now(UTC).timestamp())
    ids = [uuid.uuid4().hex[:22] for _ in range(20_000)]
    listed = {"iss": "safework", "iat": now, "exp": now + 3600, "revoked": ids}
    token = jwt.encode(listed, key, algorithm="EdDSA", headers={"kid": "pass-k", "typ": REVOCATIONS_TYP})
    assert len(token) > 400_000
    v = PassVerifier(keys)
    assert v.load_revocations(token) == 20_000
    claims = {"iss": "safework", "jti": ids[-1], "iat": now, "nbf": now, "exp": now + 600}
    revoked = jwt.encode(claims, key, algorithm="EdDSA", headers={"kid": "pass-k", "typ": PASS_TYP})
    assert v.verify(revoked).code == "pass_revoked"
    assert v.verify(revoked + "A" * 3000).code == "pass_invalid"  # a pass keeps its own bound


def _cli(args: list[str], env: dict[str, str] | None = None) -> tuple[int, str]:
    from typer.testing import CliRunner

    from safework_cli.main import app

    result = CliRunner().invoke(app, args, env=env)
    return result.exit_code, result.output


async def test_safework_pass_verify_offline(
    stack: Stack, db: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`safework pass verify`: the QR's text or its PNG, the JWKS and the revocation list from
    files (or URLs); exit 0 only for a valid pass, 1 refused, 2 unreadable inputs."""
    eid, _, token = await cleared_worker(stack, db)
    issued = await ok(await stack.http.post("/api/v1/me/pass", headers=bearer(token)), 201)
    gate = bearer(stack.token("enterprise", enterprise_id=str(eid)))
    jwks_file, list_file, png_file = tmp_path / "jwks.json", tmp_path / "revocations.json", tmp_path / "pass.png"
    jwks_file.write_text(json.dumps(await jwks(stack)))
    list_file.write_text((await stack.http.get("/api/v1/passes/revocations", headers=gate)).text)
    png = await stack.http.get(f"/api/v1/me/passes/{issued['pass_id']}/qr", headers=bearer(token))
    png_file.write_bytes(png.content)
    files = ["--jwks", str(jwks_file), "--revocations", str(list_file)]

    code, out = await asyncio.to_thread(_cli, ["pass", "verify", issued["token"], *files])
    assert code == 0 and "VALID" in out and issued["pass_id"] in out and "N***" in out, out
    code, out = await asyncio.to_thread(_cli, ["pass", "verify", "--png", str(png_file), *files])
    assert code == 0 and issued["pass_id"] in out, out
    code, out = await asyncio.to_thread(_cli, ["pass", "verify", issued["token"][:-6], *files])
    assert code == 1 and "pass_invalid" in out, out
    blank = tmp_path / "blank.png"
    Image.new("L", (64, 64), 255).save(blank)
    code, out = await asyncio.to_thread(_cli, ["pass", "verify", "--png", str(blank), *files])
    assert code == 1 and "no QR code" in out, out
    # A stale list (older than the gate allows) refuses every pass.
    code, out = await asyncio.to_thread(_cli, ["pass", "verify", issued["token"], *files, "--max-list-age-hours", "0"])
    assert code == 1 and "revocation_list_stale" in out, out

    # Revoked: the enterprise suspended, the gate refreshes its list (a bare JWS works too).
    await stack.app.state.passes.revoke_enterprise(eid, "enterprise_suspended")
    fresh = (await ok(await stack.http.get("/api/v1/passes/revocations", headers=gate)))["token"]
    list_file.write_text(fresh)
    code, out = await asyncio.to_thread(_cli, ["pass", "verify", issued["token"], *files])
    assert code == 1 and "pass_revoked" in out, out

    # By URL: the JWKS and the list fetched now, the list with the gate's bearer token.
    served = {
        "/.well-known/jwks.json": jwks_file.read_text(),
        "/api/v1/passes/revocations": json.dumps({"token": fresh}),
    }
    seen: list[dict[str, str]] = []

    def fake_get(url: str, *, headers: dict[str, str], timeout: float) -> httpx.Response:
        seen.append(headers)
        return httpx.Response(200, text=served[httpx.URL(url).path])

    monkeypatch.setattr("safework_cli.gate_pass.httpx.get", fake_get)
    urls = ["--jwks", "https://gw.example/.well-known/jwks.json",
            "--revocations", "https://gw.example/api/v1/passes/revocations"]  # fmt: skip
    code, out = _cli(["pass", "verify", issued["token"], *urls], env={"SAFEWORK_TOKEN": "gate-token"})
    assert code == 1 and "pass_revoked" in out, out
    assert seen == [{}, {"Authorization": "Bearer gate-token"}]

    # Unreadable inputs: exit 2, never "valid".
    code, out = await asyncio.to_thread(_cli, ["pass", "verify", issued["token"], "--jwks", str(tmp_path / "none"),
                                               "--revocations", str(list_file)])  # fmt: skip
    assert code == 2, out
    list_file.write_text(issued["token"])  # a pass is not a revocation list
    code, out = await asyncio.to_thread(_cli, ["pass", "verify", issued["token"], *files])
    assert code == 2 and "revocation list" in out, out
    code, out = await asyncio.to_thread(_cli, ["pass", "verify", *files])
    assert code == 2, out
