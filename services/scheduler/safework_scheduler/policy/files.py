"""The policy versions kept in the repository (``policy/versions/*.yaml``)."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import yaml

from safework_common.contract.policy_document import PolicyDocument

VERSIONS_DIR = Path(__file__).parent / "versions"


def read_versions(directory: Path = VERSIONS_DIR) -> list[PolicyDocument]:
    docs = [PolicyDocument.model_validate(yaml.safe_load(p.read_text())) for p in sorted(directory.glob("*.yaml"))]
    seen: set[object] = set()
    for d in docs:
        if d.effective_from in seen:
            raise ValueError(f"two policy versions take effect on {d.effective_from}")
        seen.add(d.effective_from)
    return docs


def canonical(doc: PolicyDocument) -> tuple[dict[str, Any], bytes]:
    data = doc.model_dump(mode="json")
    digest = hashlib.sha256(json.dumps(data, sort_keys=True).encode()).digest()
    return data, digest
