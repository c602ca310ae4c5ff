"""Issuing passes, revoking them when the verdict turns, the signed revocation list, the health card."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import secrets
import time
import uuid
from collections.abc import Awaitable, Callable, Iterable
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import jwt
from cryptography.hazmat.primitives.asymmetric import ec
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from safework_common.contract.passes import PassOut, PassVerdictOut, RevocationListOut
from safework_common.errors import Conflict, ErrorDetail, NotFound, SafeworkError
from safework_common.internal_auth import SYSTEM_CALLER, Caller
from safework_common.locks import try_engine_lock
from safework_common.metrics import JOB_RUNS
from safework_common.passes.verifier import ISSUER, PASS_TYP, REVOCATIONS_TYP, REVOKED, PassCheck, PassVerifier
from safework_common.timezone import now_local
from safework_gateway.keys.service import ALGORITHM, KeyRing
from safework_gateway.passes import health_card, repository, rules
from safework_gateway.passes.facts import FactFeed
from safework_gateway.passes.recorder import PassRecorder
from safework_gateway.upstream import Upstream

log = logging.getLogger("safework.gateway.passes")

# The subject the gateway asks upstreams as when it re-checks passes itself (hooks, the sweep):
# never a public caller's token, always the pass's own enterprise.
PASSES_SUBJECT = "gateway:passes"


class PassService:
    def __init__(
        self,
        ring: Callable[[], KeyRing],
        sessionmaker: async_sessionmaker[AsyncSession],
        writer: asyncpg.Pool,
        registry: Upstream,
        scheduler: Upstream,
        *,
        subject_key: bytes,
        max_ttl: timedelta,
        list_ttl: timedelta,
        health_card_issuer: str,
    ) -> None:
        self._ring = ring
        self._sessionmaker = sessionmaker
        self._writer = writer  # asyncpg, autocommit, no ping: single idempotent statements
        self.recorder = PassRecorder(functools.partial(repository.add_many, writer))
        self.facts = FactFeed(registry, writer, lookback=max_ttl)
        self._registry = registry
        self._scheduler = scheduler
        self._subject_key = subject_key
        self.max_ttl = max_ttl
        self._list_ttl = list_ttl
        self.health_card_issuer = health_card_issuer
        self._tasks: list[asyncio.Task[None]] = []

    # -- issuing -------------------------------------------------------------------------------

    async def issue(self, caller: Caller, person_id: str, enterprise_id: str) -> PassOut:
        """A pass only on a "cleared" verdict (else 409 with the verdict's reasons)."""
        now = now_local()
        # One upstream call, as a status read makes: the scheduler's verdict with what the pass
        # is signed with (employer, status, masked name, the next window's end), read from the
        # primary (a pass must not be signed on a lagging replica's verdict).
        answer = await self._scheduler.json(
            "GET", f"/v1/persons/{person_id}/pass-verdict", caller, params={"as_of": now.isoformat()}
        )
        verdict = PassVerdictOut.model_validate(answer)
        if not verdict.cleared_to_work:
            reasons = [str(r) for r in verdict.not_cleared]
            raise Conflict(
                "Not cleared to work: no pass is issued.",
                code="not_cleared_to_work",
                details=[ErrorDetail(field=None, code=r, message=r) for r in reasons],
            )
        on_roster = {"status": verdict.status, "enterprise_id": verdict.enterprise_id}
        if rules.revocation_reason(on_roster, None, enterprise_id) is not None:
            raise Conflict("Not on this enterprise's roster: no pass.", code="not_cleared_to_work")
        expires = rules.pass_expiry(now, verdict.next_window_end, self.max_ttl)
        pass_id = secrets.token_urlsafe(16)
        kid, key = self._ring().signing_key_for("pass")
        claims = rules.pass_claims(
            issuer=ISSUER,
            pass_id=pass_id,
            enterprise_id=enterprise_id,
            subject=rules.pseudonym(self._subject_key, person_id, enterprise_id),
            masked_name=verdict.masked_name,
            issued_at=now,
            expires_at=expires,
        )
        token = jwt.encode(claims, key, algorithm=ALGORITHM, headers={"kid": kid, "typ": PASS_TYP})
        issued_at = datetime.fromtimestamp(claims["iat"], UTC)
        expires_at = datetime.fromtimestamp(claims["exp"], UTC)
        issued = repository.IssuedPass(
            pass_id, uuid.UUID(person_id), uuid.UUID(enterprise_id), kid, token, issued_at, expires_at
        )
        # Committed before the 201: with the passes issued at the same moment, one autocommit
        # INSERT on the asyncpg pool (no ping, no BEGIN/COMMIT), so a pass costs no more than a
        # status read.
        await self.recorder.record(issued)
        return PassOut(
            pass_id=pass_id,
            enterprise_id=issued.enterprise_id,
            issued_at=issued_at,
            expires_at=expires_at,
            kid=kid,
            token=token,
        )

    async def own_pass(self, person_id: str, pass_id: str) -> dict[str, Any]:
        async with self._sessionmaker() as session:
            row = await repository.get(session, pass_id)
        if row is None or str(row["person_id"]) != person_id:
            raise NotFound("No such pass.", code="pass_not_found")
        return row

    # -- revocation ----------------------------------------------------------------------------

    async def revoke_enterprise(self, enterprise_id: uuid.UUID, reason: str) -> int:
        now = datetime.now(UTC)
        async with self._sessionmaker() as session, session.begin():
            live = await repository.live(session, now, enterprise_id=enterprise_id)
            return await repository.revoke(session, [p for p, _, _ in live], reason=reason, now=now)

    async def recheck(
        self, *, person_ids: Iterable[uuid.UUID] | None = None, enterprise_id: uuid.UUID | None = None
    ) -> int:
        """Re-check the verdict of every live pass of these people (or this enterprise, or all)
        and revoke those it no longer clears; returns how many were revoked."""
        now = datetime.now(UTC)
        async with self._sessionmaker() as session:
            live = await repository.live(session, now, person_ids=person_ids, enterprise_id=enterprise_id)
        if not live:
            return 0
        by_person: dict[tuple[uuid.UUID, uuid.UUID], list[str]] = {}
        for pass_id, pid, ent in live:
            by_person.setdefault((pid, ent), []).append(pass_id)
        revoked = 0
        semaphore = asyncio.Semaphore(16)

        async def one(pid: uuid.UUID, ent: uuid.UUID, ids: list[str]) -> tuple[list[str], str | None]:
            async with semaphore:
                return ids, await self._reason(str(pid), str(ent))

        outcomes = await asyncio.gather(*(one(pid, ent, ids) for (pid, ent), ids in by_person.items()))
        async with self._sessionmaker() as session, session.begin():
            for ids, reason in outcomes:
                if reason is not None:
                    revoked += await repository.revoke(session, ids, reason=reason, now=now)
        if revoked:
            log.info("revoked %d gate passes", revoked)
        return revoked

    async def recheck_one(self, row: dict[str, Any], caller: Caller, person: dict[str, Any]) -> str | None:
        """The online check's live look at the verdict (a contact traced a minute ago): a pass it
        no longer clears is revoked at once."""
        enterprise_id = str(row["enterprise_id"])
        reason = rules.revocation_reason(person, None, enterprise_id)
        if reason is None:
            verdict = await self._verdict(str(row["person_id"]), caller)
            reason = rules.revocation_reason(person, verdict.model_dump(mode="json"), enterprise_id)
        if reason is not None:
            async with self._sessionmaker() as session, session.begin():
                await repository.revoke(session, [str(row["pass_id"])], reason=reason, now=datetime.now(UTC))
        return reason

    async def _reason(self, person_id: str, enterprise_id: str) -> str | None:
        """Asked as the pass's enterprise (never as a caller who sees national IDs): a person no
        longer on its roster is a 404, which is leaving too."""
        caller = Caller(subject=PASSES_SUBJECT, role="enterprise", enterprise_id=enterprise_id)
        try:
            verdict = await self._verdict(person_id, caller)
        except SafeworkError as exc:
            if exc.status_code == 404:
                return "left_enterprise"
            raise
        answer = verdict.model_dump(mode="json")
        return rules.revocation_reason(answer, answer, enterprise_id)

    async def _verdict(self, person_id: str, caller: Caller) -> PassVerdictOut:
        """The scheduler's pass verdict (employer, status and verdict in one answer, read from the
        primary): issuing, the sweep and the online check judge a pass by the same read, and a
        revocation never waits on a lagging replica."""
        answer = await self._scheduler.json(
            "GET", f"/v1/persons/{person_id}/pass-verdict", caller, params={"as_of": now_local().isoformat()}
        )
        return PassVerdictOut.model_validate(answer)

    async def resolve_national_ids(self, national_ids: Iterable[str]) -> list[uuid.UUID]:
        out = []
        for nid in national_ids:
            with contextlib.suppress(SafeworkError):
                person = await self._registry.json(
                    "POST", "/v1/persons/lookup", SYSTEM_CALLER, json={"national_id": nid}
                )
                out.append(uuid.UUID(str(person["id"])))
        return out

    async def catch_up(self) -> int:
        """The registry's revoking facts since the last read, applied (``passes/facts.py``)."""
        return await self.facts.catch_up()

    async def revocation_list(self, enterprise_id: uuid.UUID | None) -> RevocationListOut:
        """Signed after reading the registry's latest facts, so a contact traced a moment ago is
        listed; if the registry cannot be read the list is signed from what the gateway holds
        (the fact poll and the sweep catch up; a gate without any list fails closed)."""
        try:
            await self.catch_up()
        except Exception as exc:
            log.warning("reading the registry's facts before a revocation list failed: %s", type(exc).__name__)
        now = datetime.now(UTC)
        async with self._sessionmaker() as session:
            ids = await repository.revoked_ids(session, now, enterprise_id=enterprise_id)
        kid, key = self._ring().signing_key_for("pass")
        iat = int(now.timestamp())
        exp = iat + int(self._list_ttl.total_seconds())
        claims: dict[str, Any] = {"iss": ISSUER, "iat": iat, "exp": exp, "revoked": ids}
        if enterprise_id is not None:
            claims["ent"] = str(enterprise_id)
        token = jwt.encode(claims, key, algorithm=ALGORITHM, headers={"kid": kid, "typ": REVOCATIONS_TYP})
        return RevocationListOut(
            issued_at=datetime.fromtimestamp(iat, UTC),
            expires_at=datetime.fromtimestamp(exp, UTC),
            count=len(ids),
            token=token,
        )

    # -- online verification -------------------------------------------------------------------

    async def check(self, token: str) -> tuple[PassCheck, dict[str, Any] | None]:
        """The offline check with the gateway's own keys and its revocations as they stand now."""
        verifier = PassVerifier(self._ring().jwks, max_list_age_seconds=None)
        check = verifier.verify(token)
        if check.pass_id is None:
            return check, None
        async with self._sessionmaker() as session:
            row = await repository.get(session, check.pass_id)
        if check.valid and row is not None and row["revoked_at"] is not None:
            check = check._replace(valid=False, code=REVOKED)  # an outcome, not an error
        return check, row

    # -- health card ---------------------------------------------------------------------------

    async def health_card(self, caller: Caller, person_id: str) -> str:
        person, doses = await asyncio.gather(
            self._registry.json("GET", f"/v1/persons/{person_id}", caller),
            self._registry.json("GET", f"/v1/persons/{person_id}/doses", caller),
        )
        items = doses.get("items", doses) if isinstance(doses, dict) else doses
        bundle = health_card.fhir_bundle(str(person["full_name"]), str(person["date_of_birth"]), list(items))
        kid, key = self._ring().signing_key_for("health_card")
        assert isinstance(key, ec.EllipticCurvePrivateKey)
        return health_card.sign(health_card.credential(self.health_card_issuer, int(time.time()), bundle), kid, key)

    # -- the sweep -----------------------------------------------------------------------------

    def start_sweep(self, every_seconds: float, facts_every_seconds: float | None = None) -> None:
        self._tasks.append(
            asyncio.create_task(self._loop(every_seconds, self._sweep_once, "pass sweep"), name="gateway-pass-sweep")
        )
        if facts_every_seconds is not None:
            self._tasks.append(
                asyncio.create_task(
                    self._loop(facts_every_seconds, self.catch_up, "reading the registry's facts"),
                    name="gateway-pass-facts",
                )
            )

    async def stop(self) -> None:
        await self.recorder.stop()
        for task in self._tasks:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks = []

    async def _loop(self, every_seconds: float, work: Callable[[], Awaitable[int]], what: str) -> None:
        """Now and then: every live pass re-checked (the sweep: what no gateway route saw, a
        verdict turned by time), or the registry's new facts read (a contact traced by any path)."""
        while True:
            await asyncio.sleep(every_seconds)
            try:
                await work()
            except Exception as exc:  # keep the gateway serving; the next period tries again
                log.warning("%s failed: %s", what, type(exc).__name__)

    async def _sweep_once(self) -> int:
        """One round of the sweep. With several gateway processes, one sweeps at a time (an
        advisory lock); the others skip that round."""
        engine = self._sessionmaker.kw["bind"]
        try:
            async with try_engine_lock(engine, "gateway-pass-sweep") as mine:
                if not mine:
                    JOB_RUNS.labels("pass_sweep", "skipped").inc()
                    return 0
                revoked = await self.recheck()
        except Exception:
            JOB_RUNS.labels("pass_sweep", "failed").inc()
            raise
        JOB_RUNS.labels("pass_sweep", "done").inc()
        return revoked
