"""Who is calling the public API, as a verified token says."""

from __future__ import annotations

from dataclasses import dataclass

from safework_common.internal_auth import Caller

ROLES = ("authority", "enterprise", "lab", "worker")


@dataclass(frozen=True, slots=True)
class Principal:
    """A verified public token: a client (``typ`` client) or a worker's device (``typ`` device)."""

    subject: str
    role: str
    typ: str
    jti: str
    expires_at: int
    client_id: str | None = None
    enterprise_id: str | None = None
    district: str | None = None
    lab_id: str | None = None
    person_id: str | None = None
    device_id: str | None = None
    session_id: str | None = None

    @property
    def is_province_authority(self) -> bool:
        return self.role == "authority" and self.district is None

    @property
    def rate_key(self) -> str:
        return self.subject

    def caller(self) -> Caller:
        """The internal caller the upstreams receive; the public token itself is never forwarded."""
        return Caller(
            subject=self.subject,
            role=self.role,
            client_id=self.client_id,
            enterprise_id=self.enterprise_id,
            district=self.district,
            lab_id=self.lab_id,
            person_id=self.person_id,
        )


def scope_string(
    role: str,
    *,
    district: str | None = None,
    enterprise_id: str | None = None,
    lab_id: str | None = None,
    person_id: str | None = None,
) -> str:
    """The OAuth ``scope`` of a token (RFC 6749 §3.3): the role and its tenant."""
    if role == "authority":
        return f"authority district:{district}" if district else "authority province"
    if role == "enterprise":
        return f"enterprise enterprise:{enterprise_id}"
    if role == "lab":
        return f"lab lab:{lab_id}"
    return f"worker person:{person_id}"
