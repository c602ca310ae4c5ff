"""The catalogue of codes (issue 15): every error code raised anywhere in the services is in it,
with its HTTP statuses; every entry, and every verdict reason code, has its message in English
and Vietnamese; the code never changes with the language; docs/CODES.md is the catalogue's."""

from __future__ import annotations

import ast
import re
from pathlib import Path

from safework_common.contract import reasons
from safework_common.contract.catalogue import catalogue, markdown
from safework_common.contract.codes import BY_CODE, ERRORS
from safework_common.i18n import LANGUAGES, catalog, negotiate, translate

ROOT = Path(__file__).resolve().parents[2]
_STATUS_OF = {
    "BadRequest": 400,
    "Unauthorized": 401,
    "Forbidden": 403,
    "NotFound": 404,
    "Conflict": 409,
    "PayloadTooLarge": 413,
    "Unprocessable": 422,
    "ServiceUnavailable": 503,
}


def _name(func: ast.expr) -> str:
    return func.id if isinstance(func, ast.Name) else func.attr if isinstance(func, ast.Attribute) else ""


def raised_codes() -> dict[str, set[object]]:
    """Every code the source gives an error: ``code="..."`` (or a module constant) in any call,
    ``code = "..."`` on an error class, ``envelope(status, "...")``, ``PydanticCustomError("...")``,
    a person record's ``RuleViolation``, the geography validators and the vaccine plan's problems,
    ``{"code": "..."}`` literals, and the status-to-code table of the error handlers; with the HTTP
    status where the source says."""
    found: dict[str, set[object]] = {}
    for path in (ROOT / "services").rglob("*.py"):
        tree = ast.parse(path.read_text())
        constants = {
            target.id: node.value.value
            for node in tree.body
            if isinstance(node, ast.Assign)
            and isinstance(node.value, ast.Constant)
            and isinstance(node.value.value, str)
            for target in node.targets
            if isinstance(target, ast.Name)
        }

        def add(code: object, status: object = None) -> None:
            if isinstance(code, str) and code:
                found.setdefault(code, set()).add(status)

        for node in ast.walk(tree):
            if isinstance(node, ast.ClassDef):
                values = {
                    t.id: st.value.value
                    for st in node.body
                    if isinstance(st, ast.Assign) and isinstance(st.value, ast.Constant)
                    for t in st.targets
                    if isinstance(t, ast.Name)
                }
                if "code" in values:
                    add(values["code"], values.get("status_code"))
            elif isinstance(node, ast.Call):
                name = _name(node.func)
                for kw in node.keywords:
                    if kw.arg != "code":
                        continue
                    value = kw.value
                    code = value.value if isinstance(value, ast.Constant) else None
                    if isinstance(value, ast.Name):
                        code = constants.get(value.id)
                    status = _STATUS_OF.get(name)
                    for other in node.keywords:
                        if other.arg == "status_code" and isinstance(other.value, ast.Constant):
                            assert isinstance(other.value.value, int), ast.dump(other)
                            status = other.value.value
                    add(code, status)
                args = [a.value if isinstance(a, ast.Constant) else None for a in node.args]
                if name == "envelope" and len(args) > 1:
                    add(args[1], args[0])
                elif name in ("PydanticCustomError", "RuleViolation") and args:
                    add(args[0])
                elif name in ("_known", "Problem") and len(args) > 1:
                    add(args[1])
            elif isinstance(node, ast.Dict):
                for key, value in zip(node.keys, node.values, strict=True):
                    literal = value.value if isinstance(value, ast.Constant) else None
                    # (an example's activation code is not an error code)
                    if isinstance(key, ast.Constant) and key.value == "code" and isinstance(literal, str):
                        add(literal if re.fullmatch(r"[a-z][a-z0-9_]*", literal) else None)
            elif isinstance(node, ast.Assign) and any(
                isinstance(t, ast.Name) and t.id == "_STATUS_CODES" for t in node.targets
            ):
                assert isinstance(node.value, ast.Dict)
                for key, value in zip(node.value.keys, node.value.values, strict=True):
                    assert isinstance(key, ast.Constant) and isinstance(value, ast.Constant)
                    add(value.value, key.value)
    return found


def test_the_scan_finds_codes_of_every_kind() -> None:
    """The scan itself can fail: it finds codes raised each way the services raise them."""
    found = raised_codes()
    kinds = ["person_not_found", "accommodation_other_enterprise", "unknown_province", "invalid_national_id"]
    kinds += ["capacity_empty", "not_ready", "method_not_allowed", "write_conflict", "payload_too_large"]
    kinds += ["employee_code_required", "hire_date_before_birth"]
    for code in kinds:
        assert code in found, code
    assert len(found) > 100


def test_every_raised_code_is_catalogued_with_its_status() -> None:
    """Rule: a code raised anywhere is in the catalogue, with the HTTP status it is raised with."""
    missing, wrong = [], []
    for code, statuses in sorted(raised_codes().items()):
        info = BY_CODE.get(code)
        if info is None:
            missing.append(code)
            continue
        wrong += [f"{code}: raised with {s}, catalogued {info.statuses}" for s in statuses - {None}
                  if s not in info.statuses]  # fmt: skip
    assert not missing, f"codes raised but not in safework_common/contract/codes.py: {missing}"
    assert not wrong, "\n".join(wrong)


def test_every_entry_has_both_languages() -> None:
    """Rule: every error and reason message has its English (the msgid) and a Vietnamese
    translation that is not fuzzy, not empty and not the English left as it was."""
    vietnamese = catalog("vi")
    assert vietnamese is not None
    messages = [e.message for e in ERRORS] + [r.meaning for r in reasons.CATALOGUE]
    lacking = []
    for english in messages:
        entry = vietnamese.get(english)
        if not english or entry is None or entry.fuzzy or not entry.string or entry.string == english:
            lacking.append(english)
    assert not lacking, lacking
    assert len({e.code for e in ERRORS}) == len(ERRORS)


def test_messages_follow_the_language_and_codes_do_not() -> None:
    en, vi = catalogue("en"), catalogue("vi")
    assert [i.code for i in en.items] == [i.code for i in vi.items]
    person = next(i for i in vi.items if i.code == "person_not_found")
    assert person.message == "Không tìm thấy người này." == person.messages.vi
    assert next(i for i in en.items if i.code == "person_not_found").message == "No such person."
    reason = next(i for i in en.items if i.code == reasons.POSITIVE)
    assert reason.kind == "reason" and reason.source and reason.messages.vi != reason.messages.en
    assert {i.code for i in en.items if i.kind == "reason"} == set(reasons.CODES)
    assert translate("No such lab.", "vi") == "Không tìm thấy phòng xét nghiệm."


def test_accept_language_is_negotiated() -> None:
    """RFC 9110 §12.5.4: by q-value, then order; a region is its language; English by default."""
    cases = {
        None: "en",
        "": "en",
        "vi": "vi",
        "vi-VN,vi;q=0.9,en-US;q=0.8": "vi",
        "en;q=0.5, vi": "vi",
        "fr, en;q=0.5": "en",
        "fr": "en",
        "vi;q=0": "en",
        "*": "en",
    }
    for header, language in cases.items():
        assert negotiate(header) == language, header
    assert set(LANGUAGES) == {"vi", "en"}


def test_docs_codes_is_the_catalogue() -> None:
    """docs/CODES.md is ``safework codes --markdown``: regenerate it when a code changes."""
    assert (ROOT / "docs" / "CODES.md").read_text() == markdown()
