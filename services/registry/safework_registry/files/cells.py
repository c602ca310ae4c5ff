"""One spreadsheet cell to the value the JSON batch would carry, or that row's refusal.

Dates are ``dd/mm/yyyy`` (Vietnamese order; ``d/m/yyyy``, ``dd-mm-yyyy`` and ISO ``yyyy-mm-dd``
too), an Excel date serial, or a date cell. Times in a file are the province's local time
(Asia/Ho_Chi_Minh) unless they carry an offset: ``dd/mm/yyyy HH:MM[:SS]``, ISO 8601, an Excel
serial with a fraction, or a date-time cell. A national ID that a spreadsheet turned into a
number and stripped of its leading zeros (10 or 11 digits for a citizen ID, 7 or 8 for an old
ID) is refused, never guessed back."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any

from safework_common.timezone import LOCAL_TZ
from safework_registry.files.reader import MAX_CELL_CHARS, Cell, cell_text

# Excel's day 0 (its 1900 system counts a 29 February 1900 that never was: serials from 61 on,
# 1 March 1900, are exact from this epoch).
_EXCEL_EPOCH = datetime(1899, 12, 30)
_SERIAL = re.compile(r"^[0-9]{2,6}(\.[0-9]+)?$")
_DMY = re.compile(r"^([0-9]{1,2})[/.\-]([0-9]{1,2})[/.\-]([0-9]{4})(?:[ T]+([0-9]{1,2}):([0-9]{2})(?::([0-9]{2}))?)?$")
_YMD = re.compile(r"^([0-9]{4})-([0-9]{2})-([0-9]{2})$")
_ID_SEPARATORS = re.compile(r"[\s\-.]")
_FOLD_PUNCT = re.compile(r"[\s_\-/().*:]+")


class CellError(ValueError):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def fold(text: str) -> str:
    """Headers and enum words compared without case, diacritics or punctuation:
    ``"Số CCCD/CMND"`` -> ``"so cccd cmnd"``."""
    decomposed = unicodedata.normalize("NFD", text.replace("đ", "d").replace("Đ", "D"))
    bare = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return _FOLD_PUNCT.sub(" ", bare.casefold()).strip()


def _serial(value: float) -> datetime:
    if not 61 <= value < 2958466:  # 1 March 1900 .. 31 December 9999
        raise CellError("invalid_date", "An Excel date serial out of range.")
    return _EXCEL_EPOCH + timedelta(days=value)


def _number(cell: Cell) -> float | None:
    value = cell.value
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    text = cell_text(cell)
    if text is not None and _SERIAL.match(text):
        return float(text)
    return None


def to_date(cell: Cell) -> str | None:
    value = cell.value
    if isinstance(value, datetime):
        return value.date().isoformat()
    if isinstance(value, date):
        return value.isoformat()
    number = _number(cell)
    if number is not None:
        return _serial(number).date().isoformat()
    text = cell_text(cell)
    if text is None:
        return None
    if m := _DMY.match(text):
        if m.group(4) is not None:
            raise CellError("invalid_date", "A date, not a date and time, is expected (dd/mm/yyyy).")
        return _ymd(int(m.group(3)), int(m.group(2)), int(m.group(1))).isoformat()
    if m := _YMD.match(text):
        return _ymd(int(m.group(1)), int(m.group(2)), int(m.group(3))).isoformat()
    raise CellError("invalid_date", "Not a date: write dd/mm/yyyy.")


def _ymd(year: int, month: int, day: int) -> date:
    try:
        return date(year, month, day)
    except ValueError:
        raise CellError("invalid_date", "No such day.") from None


def to_instant(cell: Cell) -> str | None:
    """An instant as ISO 8601 with its offset (local time when the file gives none)."""
    value = cell.value
    if isinstance(value, datetime):
        return (value if value.tzinfo else value.replace(tzinfo=LOCAL_TZ)).isoformat()
    if isinstance(value, date | time):
        raise CellError("time_missing", "A date and a time are expected (dd/mm/yyyy HH:MM).")
    number = _number(cell)
    if number is not None:
        if number.is_integer():
            raise CellError("time_missing", "A date and a time are expected (dd/mm/yyyy HH:MM).")
        return _serial(number).replace(microsecond=0, tzinfo=LOCAL_TZ).isoformat()
    text = cell_text(cell)
    if text is None:
        return None
    if m := _DMY.match(text):
        if m.group(4) is None:
            raise CellError("time_missing", "A date and a time are expected (dd/mm/yyyy HH:MM).")
        try:
            local = datetime(
                int(m.group(3)),
                int(m.group(2)),
                int(m.group(1)),
                int(m.group(4)),
                int(m.group(5)),
                int(m.group(6) or 0),
                tzinfo=LOCAL_TZ,
            )
        except ValueError:
            raise CellError("invalid_datetime", "No such date or time.") from None
        return local.isoformat()
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        raise CellError("invalid_datetime", "Not a date and time: write dd/mm/yyyy HH:MM.") from None
    return (parsed if parsed.tzinfo else parsed.replace(tzinfo=LOCAL_TZ)).isoformat()


def to_national_id(cell: Cell) -> str | None:
    value = cell.value
    if isinstance(value, float) and not value.is_integer():
        raise CellError("national_id_not_text", "The national ID was stored as a number; format the column as text.")
    text = cell_text(cell)
    if text is None:
        return None
    if re.fullmatch(r"[0-9.]+[eE][+\-]?[0-9]+", text):
        raise CellError(
            "national_id_not_text",
            "The national ID was turned into a number (scientific notation); format the column as text.",
        )
    digits = _ID_SEPARATORS.sub("", text)
    if digits.isdigit() and len(digits) in (7, 8, 10, 11):
        raise CellError(
            "national_id_leading_zeros_lost",
            f"The national ID has {len(digits)} digits: a spreadsheet probably dropped its leading zeros "
            "(12 digits, or 9 for an old ID). Format the column as text and send the number as written.",
        )
    return text


def to_text(cell: Cell) -> str | None:
    return cell_text(cell)


def to_bool(cell: Cell) -> bool | str | None:
    if isinstance(cell.value, bool):
        return cell.value
    text = cell_text(cell)
    if text is None:
        return None
    word = fold(text)
    if word in {"co", "x", "yes", "true", "1", "y"}:
        return True
    if word in {"khong", "no", "false", "0", "n"}:
        return False
    return text  # left to the model: that row's bool_parsing refusal


def words(mapping: Mapping[str, tuple[str, ...]]) -> Callable[[Cell], str | None]:
    """An enum column: each canonical value with the words that mean it (folded)."""
    lookup = {fold(w): value for value, ws in mapping.items() for w in (value, *ws)}

    def convert(cell: Cell) -> str | None:
        text = cell_text(cell)
        if text is None:
            return None
        return lookup.get(fold(text), text)  # unknown: the model refuses it, with the field

    return convert


@dataclass(frozen=True)
class Column:
    key: str  # the JSON batch's field
    header: str  # the template's Vietnamese header
    aliases: tuple[str, ...]  # English and other spellings, matched folded
    convert: Callable[[Cell], Any]
    required: bool = False
    note: str = ""
    example: str = ""

    def names(self) -> set[str]:
        return {fold(n) for n in (self.key, self.header, *self.aliases)}


def convert(column: Column, cell: Cell) -> Any:
    if cell.formula:
        raise CellError("formula_not_allowed", "A formula is not accepted: paste the values only.")
    if isinstance(cell.value, str) and len(cell.value) > MAX_CELL_CHARS:
        raise CellError("cell_too_long", f"A cell holds at most {MAX_CELL_CHARS} characters.")
    return column.convert(cell)
