"""The policy history and the version in force at an instant (policy is data: seeds/000 and
the plans before it, each with its effective date)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from safework_common.contract.policies import ActivePolicyOut, ParameterOut, PolicyVersionOut
from safework_common.contract.policy_document import PolicyDocument
from safework_common.errors import NotFound
from safework_common.timezone import LOCAL_TZ, local_date
from safework_scheduler.policy.models import SchedulerPolicy


def parameters(doc: PolicyDocument) -> list[ParameterOut]:
    """Every parameter of a version with its value and its source (DOMAIN.md: a value the seeds
    do not give is marked "not in the source")."""
    data = doc.model_dump(mode="json")
    out = []
    for path in doc.parameter_paths():
        value: Any = data
        for key in path.split("."):
            value = value[key]
        out.append(ParameterOut(path=path, value=value, source=doc.sources[path], in_source=not doc.unsourced(path)))
    return out


async def history(session: AsyncSession) -> list[PolicyVersionOut]:
    """Every loaded version, oldest first, read afresh (not from the cache)."""
    rows = (await session.execute(select(SchedulerPolicy).order_by(SchedulerPolicy.effective_from))).scalars().all()
    out = []
    for i, row in enumerate(rows):
        doc = PolicyDocument.model_validate(row.document)
        out.append(
            PolicyVersionOut(
                version=row.version,
                effective_from=row.effective_from,
                effective_until=rows[i + 1].effective_from if i + 1 < len(rows) else None,
                source=doc.source,
                sha256=row.sha256.hex(),
                loaded_at=row.loaded_at.astimezone(LOCAL_TZ),
                document=doc,
                parameters=parameters(doc),
            )
        )
    return out


async def active(session: AsyncSession, as_of: datetime) -> ActivePolicyOut:
    """The version in force on ``as_of``'s local date, with its place in the history."""
    day = local_date(as_of)
    versions = await history(session)
    current = None
    for v in versions:
        if v.effective_from <= day:
            current = v
    if current is None:
        raise NotFound(f"No policy is in force on {day}.", code="no_policy_in_force", field="query.as_of")
    return ActivePolicyOut.model_validate({**dict(current), "as_of": as_of.astimezone(LOCAL_TZ)})
