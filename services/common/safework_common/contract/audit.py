"""The audit trail as the authority reads it: who (client, role, subject), what (action), which
record (entity, entity_id), when (at), under which request. ``details`` holds counts, field names
and ids, never national IDs or health data (the writers' rule, ``safework_registry.audit``)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from safework_common.contract.fields import Instant

AUDIT_EXAMPLE: dict[str, Any] = {
    "id": 4812,
    "at": "2021-09-15T09:12:03.512+07:00",
    "client_id": "authority-0f1e2d3c4b5a6978",
    "role": "authority",
    "subject": "client:authority-0f1e2d3c4b5a6978",
    "action": "person.lookup",
    "entity": "person",
    "entity_id": "7b0a4f0e-3c1d-4e8e-9a59-1f2d3c4b5a69",
    "request_id": "5f1c0b7e9a2d4c6e8f0a1b2c3d4e5f6a",
    "details": None,
}


class AuditEntry(BaseModel):
    model_config = ConfigDict(from_attributes=True, json_schema_extra={"examples": [AUDIT_EXAMPLE]})

    id: int = Field(description="Increasing with time; the keyset pages go newest first.")
    at: Instant
    client_id: str | None = Field(description="The API client (null: the system or the command line).")
    role: str
    subject: str = Field(description="Who acted: client:<id>, device:<id>, or system.")
    action: str = Field(description="What was done: person.lookup, person.update, retention, ...")
    entity: str = Field(description="The kind of record: person, enterprise, test_result_batch, ...")
    entity_id: str | None
    request_id: str | None = Field(description="The X-Request-ID of the request, to find its log lines.")
    details: dict[str, Any] | None
