"""Who a gate pass names, as the pass shows it: the masked name. The scheduler masks it when it
answers a pass verdict (``GET /v1/persons/{id}/pass-verdict``), so the full name never travels
to the gateway for a pass; gate devices and ``bench/`` show the same form."""

from __future__ import annotations


def mask_name(full_name: str) -> str:
    """``Nguyễn Thị Hoa`` -> ``N***** T** H**``: each word's first letter, the rest starred, so a
    guard can match the face and the initials, and nobody reading the QR learns the name."""
    words = full_name.split()
    if not words:
        return "*"
    return " ".join(w[0] + "*" * (len(w) - 1) for w in words)
