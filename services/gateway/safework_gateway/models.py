"""Every gateway model, imported in one place so Alembic sees the whole schema."""

from safework_gateway.clients.models import Client
from safework_gateway.db import Base
from safework_gateway.devices.models import ActivationCode, Device, RefreshToken, UnsanctionedAttempt
from safework_gateway.keys.models import SigningKey
from safework_gateway.passes.models import GatePass

metadata = Base.metadata

__all__ = [
    "ActivationCode",
    "Base",
    "Client",
    "Device",
    "GatePass",
    "RefreshToken",
    "SigningKey",
    "UnsanctionedAttempt",
    "metadata",
]
