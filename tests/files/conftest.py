"""Files (issue 16): uploads, templates and exports through the gateway, against the real
registry and scheduler on the test database."""

from __future__ import annotations

from tests.gateway.conftest import gateway_settings, stack
from tests.hardening.conftest import snapshot

__all__ = ["gateway_settings", "snapshot", "stack"]
