"""JSON schemas of the forwarded routes' query parameters. Bodies and answers are not described
here: they are the contract's models (``safework_common.contract``), which the upstreams validate
and answer with."""

from __future__ import annotations

from typing import Any

from safework_common.contract.fields import INSTANT_FORM

Schema = dict[str, Any]

UUID: Schema = {"type": "string", "format": "uuid"}
INSTANT: Schema = {"type": "string", "format": "date-time", "description": INSTANT_FORM}
DATE: Schema = {"type": "string", "format": "date"}
ZONE_TYPE: Schema = {"type": "string", "enum": ["KCN", "CCN", "OUTSIDE"]}
# The registry's rule (draft-ietf-httpapi-idempotency-key-header): 1-255 printable ASCII characters.
IDEMPOTENCY_KEY: Schema = {
    "type": "string",
    "minLength": 1,
    "maxLength": 255,
    "pattern": r"^[\x20-\x7e]*[\x21-\x7e][\x20-\x7e]*$",
}
