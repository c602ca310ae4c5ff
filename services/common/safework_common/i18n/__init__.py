"""Messages in the caller's language: Vietnamese or English, by ``Accept-Language``.

The catalogues are gettext ``.po`` files read with Babel (``locales/<lang>/LC_MESSAGES/
safework.po``) and compiled in memory when first used, so a fresh ``pip install -e .`` needs no
build step and the served messages are always the checked-in ones. English is the source
language (the msgids), so it needs no catalogue and can never miss a message.

**The default is English** when a request names neither language: it is what every client
received before the catalogue existed (answers do not change under a client that does not ask),
and English is the catalogue's source, so it is complete by construction. A Vietnamese client
sends ``Accept-Language: vi``. Codes never change with the language."""

from __future__ import annotations

import gettext
from contextvars import ContextVar
from functools import cache
from importlib import resources
from io import BytesIO
from typing import Final, Literal

from babel.messages.catalog import Catalog
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.support import Translations

Language = Literal["en", "vi"]
LANGUAGES: Final[tuple[Language, ...]] = ("en", "vi")
DEFAULT_LANGUAGE: Final[Language] = "en"
DOMAIN: Final = "safework"

language_var: ContextVar[Language] = ContextVar("safework_language", default=DEFAULT_LANGUAGE)


@cache
def catalog(language: Language) -> Catalog | None:
    """The language's message catalogue as written (None for English, the source)."""
    if language == DEFAULT_LANGUAGE:
        return None
    path = resources.files(__package__) / "locales" / language / "LC_MESSAGES" / f"{DOMAIN}.po"
    with path.open("rb") as f:
        return read_po(f, locale=language, domain=DOMAIN)


@cache
def translations(language: Language) -> gettext.NullTranslations:
    """Compiled once per process from the ``.po`` (fuzzy entries are not used)."""
    po = catalog(language)
    if po is None:
        return gettext.NullTranslations()
    buffer = BytesIO()
    write_mo(buffer, po, use_fuzzy=False)
    buffer.seek(0)
    return Translations(buffer, domain=DOMAIN)


def translate(message: str, language: Language | None = None) -> str:
    return translations(language or language_var.get()).gettext(message)


def negotiate(header: str | None) -> Language:
    """The first of ``vi``/``en`` the ``Accept-Language`` header prefers (RFC 9110 §12.5.4:
    by q-value, then order; ``vi-VN`` is ``vi``); the default when it names neither."""
    if not header:
        return DEFAULT_LANGUAGE
    ranked: list[tuple[float, int, str]] = []
    for position, item in enumerate(header.split(",")):
        tag, _, params = item.strip().partition(";")
        q = 1.0
        for param in params.split(";"):
            name, _, value = param.strip().partition("=")
            if name.strip().lower() == "q":
                try:
                    q = float(value)
                except ValueError:
                    q = 0.0
        primary = tag.strip().lower().split("-")[0]
        if q > 0:
            ranked.append((-q, position, primary))
    for _, _, primary in sorted(ranked):
        if primary in LANGUAGES:
            return "vi" if primary == "vi" else "en"
        if primary == "*":
            return DEFAULT_LANGUAGE
    return DEFAULT_LANGUAGE
