"""Every verdict reason code is listed once in the code (``due.reasons``) with its seed clause,
and in ``docs/VERDICTS.md``; the schema publishes them as enums."""

from __future__ import annotations

import re
from pathlib import Path

from fastapi import FastAPI

from safework_common.contract import reasons
from safework_scheduler.policy.files import read_versions

DOCS = Path(__file__).resolve().parents[2] / "docs" / "VERDICTS.md"


def test_every_code_has_a_source_and_a_meaning() -> None:
    assert len(set(reasons.CODES)) == len(reasons.CODES)
    for r in reasons.CATALOGUE:
        assert re.fullmatch(r"[A-Z][A-Z_]+[A-Z]", r.code), r.code
        assert r.source and r.meaning, r.code
        # Codes name the rule, not a number (issue: UNVACCINATED_3D with a 7-day interval).
        assert not re.search(r"\d", r.code), r.code


def test_the_docs_list_every_code_with_the_same_source() -> None:
    text = DOCS.read_text()
    documented = set(re.findall(r"^\| `([A-Z_]+)` \|", text, flags=re.MULTILINE))
    assert documented == set(reasons.CODES)


def test_parameters_named_by_reasons_exist_in_a_version() -> None:
    paths: set[str] = set()
    for doc in read_versions():
        paths |= set(doc.parameter_paths())
    for code, names in reasons.PARAMETERS.items():
        assert code in reasons.BY_CODE, code
        for name in names:
            assert name in paths, (code, name)


def test_the_schema_publishes_the_codes_as_enums(scheduler_app: FastAPI) -> None:
    schema = scheduler_app.openapi()
    requirement = schema["components"]["schemas"]["RequirementOut"]["properties"]["reason"]
    assert set(requirement["enum"]) == set(reasons.DUE_CODES)
