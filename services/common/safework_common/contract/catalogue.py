"""The catalogue of codes as served (``GET /api/v1/codes``) and as rendered (``docs/CODES.md``):
every error code with its HTTP statuses, every verdict reason code with its seed clause, each
with its message in Vietnamese and English."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

from safework_common.contract.codes import ERRORS
from safework_common.contract.reasons import CATALOGUE
from safework_common.i18n import LANGUAGES, Language, translate


class Messages(BaseModel):
    vi: str
    en: str


class CodeOut(BaseModel):
    code: str = Field(description="Stable: never changes with the language.")
    kind: Literal["error", "reason"] = Field(
        description="error: the `code` of an error envelope; reason: a verdict's reason code."
    )
    http_statuses: list[int] = Field(default=[], description="An error's HTTP statuses (the first is the usual one).")
    source: str | None = Field(default=None, description="A reason's seed clause (docs/RULES.md lists the seeds).")
    use: Literal["due", "not_cleared", "both"] | None = Field(
        default=None, description="A reason: why a test is due, why a person is not cleared to work, or both."
    )
    message: str = Field(description="In the language of Accept-Language (vi or en; default en).")
    messages: Messages


class CodesPage(BaseModel):
    """Every code, errors then reasons, in one page."""

    items: list[CodeOut]
    next_cursor: str | None = Field(default=None, description="Always null: the whole catalogue fits one page.")


def _messages(english: str) -> Messages:
    return Messages(**{lang: translate(english, lang) for lang in LANGUAGES})


def catalogue(language: Language) -> CodesPage:
    items = [
        CodeOut(
            code=e.code,
            kind="error",
            http_statuses=list(e.statuses),
            message=translate(e.message, language),
            messages=_messages(e.message),
        )
        for e in ERRORS
    ]
    items += [
        CodeOut(
            code=r.code,
            kind="reason",
            source=r.source,
            use=r.use,
            message=translate(r.meaning, language),
            messages=_messages(r.meaning),
        )
        for r in CATALOGUE
    ]
    return CodesPage(items=items)


def markdown() -> str:
    """``docs/CODES.md``: made by ``safework codes --markdown``; a test keeps it in step."""
    page = catalogue("en")
    out = [
        "# Codes",
        "",
        "Every error code and every verdict reason code Safework answers with, with its message in",
        "Vietnamese and English. Generated from `safework_common/contract/codes.py`, `reasons.py` and",
        "the Vietnamese catalogue (`safework_common/i18n/locales/vi/LC_MESSAGES/safework.po`) by",
        "`safework codes --markdown > docs/CODES.md`; served as JSON at `GET /api/v1/codes`.",
        "",
        "Clients switch on the `code`, which never changes with the language. Messages follow",
        "`Accept-Language` (`vi` or `en`); without it they are in English (see `safework_common.i18n`).",
        "",
        "## Error codes",
        "",
        "| code | HTTP | English | Tiếng Việt |",
        "| --- | --- | --- | --- |",
    ]
    for item in page.items:
        if item.kind == "error":
            statuses = ", ".join(map(str, item.http_statuses))
            out.append(f"| `{item.code}` | {statuses} | {_cell(item.messages.en)} | {_cell(item.messages.vi)} |")
    out += [
        "",
        "## Reason codes",
        "",
        "Why a test is due (`due`), why a person is not cleared to work (`not_cleared`), or both;",
        "[`VERDICTS.md`](VERDICTS.md) explains each, [`RULES.md`](RULES.md) the seeds.",
        "",
        "| code | use | source | English | Tiếng Việt |",
        "| --- | --- | --- | --- | --- |",
    ]
    for item in page.items:
        if item.kind == "reason":
            english, vietnamese = _cell(item.messages.en), _cell(item.messages.vi)
            out.append(f"| `{item.code}` | {item.use} | {item.source} | {english} | {vietnamese} |")
    return "\n".join(out) + "\n"


def _cell(text: str) -> str:
    return text.replace("|", "\\|")
