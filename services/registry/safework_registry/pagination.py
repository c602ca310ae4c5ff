"""Keyset pagination: the page model and the cursor codec every service shares
(``safework_common.cursor``), under the names the registry's lists import."""

from __future__ import annotations

from safework_common.contract.fields import Page as Page
from safework_common.cursor import decode_cursor as decode_cursor
from safework_common.cursor import decode_keys as decode_keys
from safework_common.cursor import encode_cursor as encode_cursor
from safework_common.cursor import invalid_cursor as invalid_cursor
