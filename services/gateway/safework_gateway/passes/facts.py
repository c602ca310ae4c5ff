"""Revocation at once from the registry's facts: a person who became a case or a contact, an
enterprise suspended, wherever the registry recorded it (a case the authority confirms, contacts
traced from check-ins and lodging, a lab batch whose individual positive PCR makes a case on
ingest, a retrace).

The registry writes each such fact once, in the transaction that makes it true (its outbox,
``outbox_event``); the gateway reads them through the registry's internal ``GET /v1/events``
(one call, however many contacts) and revokes the live passes they concern with one
``UPDATE``. It reads them after every write route that can make them (before that route's
caller gets its answer), before signing a revocation list, and every few seconds besides
(facts written by any other path). The 300 s sweep stays as the net under all of it.

Which passes a fact revokes: those issued before it could be seen, i.e. whose verdict was read
before the fact committed. A pass's ``issued_at`` is taken before its verdict is read; the bound
is the instant the gateway first read the fact (after its commit), and for a fact first read
when a gateway process starts, its transaction's start plus ``overlap`` (a writing transaction
lasts less than that). Facts stay in hand for ``overlap`` after they were written and are applied
again at each read, so a pass whose verdict was read just before the fact committed and whose
row was written just after the fact was first read is still caught. Ids are allocated before
commit, so a fact may commit after a higher id was read: the cursor only moves past facts older
than ``overlap``; facts read twice are recognised by id."""

from __future__ import annotations

import asyncio
import logging
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
from sqlalchemy import DateTime, String, Uuid, bindparam, func, select, update
from sqlalchemy.dialects.postgresql import ARRAY

from safework_common.db import Compiled, compiled, execute_retrying
from safework_common.internal_auth import SYSTEM_CALLER
from safework_gateway.passes.repository import T
from safework_gateway.upstream import Upstream

log = logging.getLogger("safework.gateway.passes")

# Fact kind -> the revocation reason it gives (``safework_common.contract.passes.RevocationReason``).
REVOKING_FACTS = {
    "case.confirmed": "positive_result",
    "contact.traced": "contact",
    "enterprise.suspended": "enterprise_suspended",
}


@dataclass(frozen=True, slots=True)
class _Fact:
    person_id: uuid.UUID | None
    enterprise_id: uuid.UUID | None
    reason: str
    bound: datetime  # passes issued before this instant are revoked
    created_at: datetime


def _uuid(value: Any) -> uuid.UUID | None:
    try:
        return uuid.UUID(str(value)) if value else None
    except ValueError:
        return None


def _revoke_statement(by: str) -> Compiled:
    """Revoke the live passes of the facts' people (``by="person_id"``) or enterprises, each
    issued before its fact's bound, in one statement (the facts as parallel arrays), compiled
    once for the gateway's asyncpg pool. Idempotent: run again, it finds those passes revoked."""
    facts = select(
        func.unnest(bindparam("ids", type_=ARRAY(Uuid))).label("id"),
        func.unnest(bindparam("reasons", type_=ARRAY(String))).label("reason"),
        func.unnest(bindparam("bounds", type_=ARRAY(DateTime(timezone=True)))).label("bound"),
    ).subquery("fact")
    now = bindparam("now", type_=DateTime(timezone=True))
    return compiled(
        update(T)
        .where(
            T.c[by] == facts.c.id,
            T.c.revoked_at.is_(None),
            T.c.expires_at > now,
            T.c.issued_at < facts.c.bound,
        )
        .values(revoked_at=now, revoked_reason=facts.c.reason)
    )


_BY_PERSON = _revoke_statement("person_id")
_BY_ENTERPRISE = _revoke_statement("enterprise_id")


class FactFeed:
    """The registry's revoking facts, read after a cursor and applied to live passes."""

    def __init__(
        self,
        registry: Upstream,
        writer: asyncpg.Pool,
        *,
        lookback: timedelta,
        overlap: timedelta = timedelta(minutes=2),
        page: int = 1000,
    ) -> None:
        self._registry = registry
        self._writer = writer
        self._lookback = lookback  # a pass lives at most this long: older facts concern none
        self._overlap = overlap
        self._page = page
        self._cursor: int | None = None
        self._facts: dict[int, _Fact] = {}
        self._lock = asyncio.Lock()

    async def catch_up(self) -> int:
        """Read the facts written since the last read and revoke what they concern; returns how
        many passes were revoked. One registry call a page (a page: 1,000 facts)."""
        async with self._lock:
            seen_at = datetime.now(UTC)
            starting = self._cursor is None
            params: dict[str, Any] = {"kind": sorted(REVOKING_FACTS), "limit": self._page}
            if self._cursor is None:
                params["since"] = (seen_at - self._lookback).isoformat()
            else:
                params["after"] = self._cursor
            items: list[dict[str, Any]] = []
            while True:
                page = await self._registry.json("GET", "/v1/events", SYSTEM_CALLER, params=params)
                items.extend(page["items"])
                if self._cursor is None:
                    self._cursor = int(page["after"])  # where the read from ``since`` began
                if len(page["items"]) < self._page:
                    break
                params.pop("since", None)
                params["after"] = page["items"][-1]["id"]
            as_of = datetime.fromisoformat(page["as_of"])
            for item in items:
                fact_id = int(item["id"])
                if fact_id in self._facts or (reason := REVOKING_FACTS.get(item["kind"])) is None:
                    continue
                created = datetime.fromisoformat(item["created_at"])
                payload = item.get("payload") or {}
                bound = min(seen_at, created + self._overlap) if starting else seen_at
                self._facts[fact_id] = _Fact(
                    person_id=_uuid(payload.get("person_id")) if item["kind"] != "enterprise.suspended" else None,
                    enterprise_id=_uuid(item["entity_id"]) if item["kind"] == "enterprise.suspended" else None,
                    reason=reason,
                    bound=bound,
                    created_at=created,
                )
            revoked = await self._apply(seen_at)
            # Facts written more than ``overlap`` ago are settled: the cursor moves past them.
            settled = [i for i, f in self._facts.items() if f.created_at <= as_of - self._overlap]
            if settled:
                self._cursor = max(self._cursor or 0, *settled)
                for i in settled:
                    del self._facts[i]
        if revoked:
            log.info("revoked %d gate passes from the registry's facts", revoked)
        return revoked

    async def _apply(self, now: datetime) -> int:
        revoked = 0
        for statement, facts in (
            (_BY_PERSON, [f for f in self._facts.values() if f.person_id is not None]),
            (_BY_ENTERPRISE, [f for f in self._facts.values() if f.enterprise_id is not None]),
        ):
            if not facts:
                continue
            args = statement.args(
                ids=[f.person_id or f.enterprise_id for f in facts],
                reasons=[f.reason for f in facts],
                bounds=[f.bound for f in facts],
                now=now,
            )
            revoked += await execute_retrying(self._writer, statement.sql, args)
        return revoked
