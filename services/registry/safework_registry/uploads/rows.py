"""A spreadsheet's rows as the JSON batch's items (``safework_common.contract.files``).

Each data row becomes a dict with the fields its non-empty cells give, ready for the same model
the JSON batch is validated with. What only a spreadsheet can get wrong is judged here, per row,
as a refusal of that row (code, message, field): a date in no form we read, an instant with no
time of day, a national ID that lost its leading zeros, a formula, a merged cell, a cell outside
the header's columns. Values are converted, never guessed: a day-first date is read day first,
an instant without an offset is local time (Asia/Ho_Chi_Minh)."""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any

from safework_common.contract.files import COLUMNS, Column, FileKind, by_header, header_key
from safework_common.errors import ErrorDetail, Unprocessable
from safework_common.timezone import LOCAL_TZ
from safework_registry.uploads.tables import Cell, Table

# Excel's day 0 (its serials count days from here; 60 is the 1900 leap day that never was).
_EXCEL_EPOCH = datetime(1899, 12, 30)
_MAX_SERIAL = 2_958_465  # 9999-12-31
_DAY_FIRST = re.compile(r"^(\d{1,2})[/.\-](\d{1,2})[/.\-](\d{4})(?:[ T]+(\d{1,2}):(\d{2})(?::(\d{2}))?)?$")
_NUMBER = re.compile(r"^\d+(?:[.,]\d+)?$")
_SCIENTIFIC = re.compile(r"^\d(?:[.,]\d+)?[eE]\+?\d+$")
_DIGITS = re.compile(r"^\d+$")
# A 12-digit citizen ID starts with a province code 001-096 and a 9-digit old ID may start with
# 0: stored as a number they come back 1-2 (7, 8, 10, 11 digits long) short.
_LOST_ZEROS = frozenset({7, 8, 10, 11})
DATE_FORMS = "dd/mm/yyyy (or yyyy-mm-dd)"
INSTANT_FORMS = "dd/mm/yyyy hh:mm (or yyyy-mm-ddThh:mm with an optional offset)"


class RowRefused(Exception):
    def __init__(self, code: str, message: str, field: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.field = field


@dataclass
class FileItems:
    """The rows as items, in file order; ``refused[i]`` is the reason item ``i`` is refused
    before validation (its dict is then empty); ``rows[i]`` its spreadsheet row number;
    ``columns`` each field's header as written in the file."""

    items: list[dict[str, Any]]
    rows: list[int]
    refused: dict[int, RowRefused]
    columns: dict[str, str]
    # A pool's item: the rows of its members, in order (its ``rows[i]`` is the first).
    member_rows: dict[int, list[int]] = dataclasses.field(default_factory=dict)


def _text(value: Cell) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()


def _from_serial(serial: float) -> datetime:
    if not 0 < serial <= _MAX_SERIAL:
        raise ValueError("serial out of range")
    return _EXCEL_EPOCH + timedelta(days=serial)


def _instant(value: Cell) -> datetime:
    """Local unless the text carries an offset. A date with no time of day is refused: the
    hour of a sample counts (seeds/000 §2.2: 48 h before arrival)."""
    if isinstance(value, datetime):
        moment = value
    elif isinstance(value, bool | date | time):
        raise ValueError("not an instant")
    elif isinstance(value, int | float):
        if float(value).is_integer():
            raise _NoTime
        moment = _from_serial(float(value))
    else:
        text = value.strip() if isinstance(value, str) else ""
        match = _DAY_FIRST.match(text)
        if match:
            day, month, year, hour, minute, second = match.groups()
            if hour is None:
                raise _NoTime
            moment = datetime(int(year), int(month), int(day), int(hour), int(minute), int(second or 0))
        elif _NUMBER.match(text):
            serial = float(text.replace(",", "."))
            if serial.is_integer():
                raise _NoTime
            moment = _from_serial(serial)
        else:
            if len(text) == 10:  # yyyy-mm-dd alone
                date.fromisoformat(text)
                raise _NoTime
            moment = datetime.fromisoformat(text)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=LOCAL_TZ)
    return moment


class _NoTime(ValueError):
    pass


def _date(value: Cell) -> date:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    if isinstance(value, bool | time):
        raise ValueError("not a date")
    if isinstance(value, int | float):
        return _from_serial(float(value)).date()
    text = value.strip() if isinstance(value, str) else ""
    match = _DAY_FIRST.match(text)
    if match and match.group(4) is None:
        day, month, year = match.group(1, 2, 3)
        return date(int(year), int(month), int(day))
    if _DIGITS.match(text):
        return _from_serial(float(text)).date()
    return date.fromisoformat(text)


def _national_id(value: Cell, where: str) -> str:
    """A number or digits that are too short by the zeros a spreadsheet drops are refused,
    never padded: the person is named by their exact number or not at all."""
    if isinstance(value, bool):
        return str(value)
    lost = RowRefused(
        "national_id_lost_zeros",
        "The national ID looks like a number whose leading zeros a spreadsheet dropped (a CCCD has 12 digits, "
        "a CMND 9). Format the column as Text and type the number again; it is never padded.",
        where,
    )
    if isinstance(value, float):
        if not value.is_integer():
            raise lost
        value = int(value)
    if isinstance(value, int):
        text = str(value)
        if len(text) not in (9, 12):
            raise lost
        return text
    text = _text(value)
    if _SCIENTIFIC.match(text) or (_DIGITS.match(text) and len(text) in _LOST_ZEROS):
        raise lost
    return text


def _converters(column: Column) -> Any:
    if column.kind in ("enum", "bool"):
        words = {header_key(k): v for k, v in column.values.items()}

        def word(value: Cell, where: str) -> Any:
            if isinstance(value, bool) and column.kind == "bool":
                return value
            text = _text(value)
            return words.get(header_key(text), text)

        return word
    if column.kind == "national_id":
        return _national_id
    if column.kind == "instant":

        def instant(value: Cell, where: str) -> datetime:
            try:
                return _instant(value)
            except _NoTime:
                raise RowRefused("time_missing", f"A time of day is needed here: {INSTANT_FORMS}.", where) from None
            except (ValueError, TypeError, OverflowError):
                raise RowRefused(
                    "invalid_date_format", f"Not a date and time we read: write {INSTANT_FORMS}.", where
                ) from None

        return instant
    if column.kind == "date":

        def day(value: Cell, where: str) -> date:
            try:
                return _date(value)
            except (ValueError, TypeError, OverflowError):
                raise RowRefused("invalid_date_format", f"Not a date we read: write {DATE_FORMS}.", where) from None

        return day
    return lambda value, where: _text(value)


def _header(table: Table, kind: FileKind) -> list[Column | None]:
    """Each header cell's column. A first row that names none of the columns is no header; a
    header that is not one of the kind's columns, or names one twice, refuses the file; so does
    a required column left out (the row-by-row answer would only repeat it)."""
    known = by_header(kind)
    names = [("" if cell is None else _text(cell)) for cell in table.header]
    columns = [known.get(header_key(name)) if name else None for name in names]
    if not any(columns):
        raise Unprocessable(
            "The first row must be the header row (the template's column names); none was found.",
            code="header_row_missing",
            field="body",
        )
    problems: list[ErrorDetail] = []
    seen: set[str] = set()
    for position, (name, column) in enumerate(zip(names, columns, strict=True)):
        where = f"header[{position}]"
        if column is None:
            if name:
                problems.append(ErrorDetail(field=where, code="unknown_column", message=f"Unknown column '{name}'."))
            continue
        if column.field in seen:
            problems.append(ErrorDetail(field=where, code="column_repeated", message=f"'{name}' appears twice."))
        seen.add(column.field)
    for column in (c for c in COLUMNS[kind] if c.required and c.field not in seen):
        problems.append(
            ErrorDetail(field="header", code="column_missing", message=f"The column '{column.header}' is required.")
        )
    if problems:
        raise Unprocessable(
            "The header row does not match the template: " + " ".join(p.message for p in problems),
            code=problems[0].code,
            details=problems,
        )
    return columns


def to_items(table: Table, kind: FileKind) -> FileItems:
    columns = _header(table, kind)
    convert = [(_converters(c) if c is not None else _skip) for c in columns]
    width = len(columns)
    items: list[dict[str, Any]] = []
    rows: list[int] = []
    refused: dict[int, RowRefused] = {}
    for index, (number, cells) in enumerate(table.rows):
        rows.append(number)
        item: dict[str, Any] = {}
        try:
            for col, flaw_code, message in table.flaws.get(number, ()):
                column = columns[col] if col < width else None
                raise RowRefused(flaw_code, message, _where(index, column))
            for col, value in enumerate(cells):
                if isinstance(value, str):
                    value = value.strip()
                if value is None or value == "":
                    continue
                column = columns[col] if col < width else None
                if column is None:
                    raise RowRefused(
                        "cell_outside_columns",
                        "This row has a value in a column without a header.",
                        f"body.items[{index}]",
                    )
                item[column.field] = convert[col](value, f"body.items[{index}].{column.field}")
        except RowRefused as reason:
            refused[index] = reason
            item = {}
        items.append(item)
    header_names = {c.field: _text(cell) for c, cell in zip(columns, table.header, strict=True) if c is not None}
    found = FileItems(items, rows, refused, header_names)
    pool_col = next((k for k, c in enumerate(columns) if c is not None and c.field == "pool_sample_id"), None)
    if pool_col is None:
        return found
    pool_of = {
        index: _text(cells[pool_col])
        for index, (_, cells) in enumerate(table.rows)
        if pool_col < len(cells) and cells[pool_col] not in (None, "") and _text(cells[pool_col])
    }
    return _pools(found, pool_of) if pool_of else found


_PERSON_FIELDS = frozenset({"national_id", "person_id"})
_POOL_FIELDS = ("collected_at", "resulted_at", "result")


def _pools(rows_in: FileItems, pool_of: dict[int, str]) -> FileItems:
    """A pooled sample is one row per member sharing the pool's sample ID (seeds/001: pools of 10
    or 20): its rows become one pool item, at its first row's place. The rows must agree on the
    times and the result, name no sample ID of their own, and be PCR; a refused member row
    refuses the pool (a pool is stored whole or not at all)."""
    items: list[dict[str, Any]] = []
    rows: list[int] = []
    refused: dict[int, RowRefused] = {}
    member_rows: dict[int, list[int]] = {}
    pools: dict[str, int] = {}
    for old, item in enumerate(rows_in.items):
        pool_id = pool_of.get(old)
        if pool_id is None:
            if old in rows_in.refused:
                reason = rows_in.refused[old]
                refused[len(items)] = RowRefused(reason.code, reason.message, _moved(reason.field, len(items), None))
            items.append(item)
            rows.append(rows_in.rows[old])
            continue
        if pool_id not in pools:
            pools[pool_id] = len(items)
            member_rows[len(items)] = []
            items.append({"type": "pool", "pool_sample_id": pool_id, "members": []})
            rows.append(rows_in.rows[old])
        i = pools[pool_id]
        j = len(member_rows[i])
        member_rows[i].append(rows_in.rows[old])
        if i in refused:
            continue
        pool = items[i]
        try:
            if old in rows_in.refused:
                reason = rows_in.refused[old]
                raise RowRefused(reason.code, reason.message, _moved(reason.field, i, j))
            if "sample_id" in item:
                raise RowRefused(
                    "pool_row_with_sample_id",
                    "A pool member's row names the pool's sample ID only, not a sample ID of its own.",
                    f"body.items[{i}].members[{j}].sample_id",
                )
            if item.get("kind", "PCR") != "PCR":
                raise RowRefused("pool_not_pcr", "A pooled sample is a PCR (seeds/001).", f"body.items[{i}].kind")
            pool["members"].append({k: v for k, v in item.items() if k in _PERSON_FIELDS})
            for key in _POOL_FIELDS:
                if key not in item:
                    continue
                if key not in pool:
                    pool[key] = item[key]
                elif pool[key] != item[key]:
                    raise RowRefused(
                        "pool_rows_disagree",
                        f"The rows of this pool give different values of {key}.",
                        f"body.items[{i}].{key}",
                    )
        except RowRefused as reason:
            refused[i] = reason
            items[i] = {"type": "pool", "pool_sample_id": pool_id}
    return FileItems(items, rows, refused, rows_in.columns, member_rows)


def _moved(field: str, index: int, member: int | None) -> str:
    """A refused row's field at the row's new place: ``body.items[5].national_id`` of a pool's
    third member row is ``body.items[2].members[2].national_id``."""
    name = field.split("]", 1)[1].lstrip(".") if "]" in field else ""
    if member is None:
        return f"body.items[{index}]" + (f".{name}" if name else "")
    if not name or name.split(".", 1)[0] in _PERSON_FIELDS:
        return f"body.items[{index}].members[{member}]" + (f".{name}" if name else "")
    return f"body.items[{index}].{name}"


def row_of(field: str | None, index: int, file: FileItems) -> int:
    """The spreadsheet row an outcome is about: a pool member's own row when the field names a
    member, else the item's (first) row."""
    members = file.member_rows.get(index)
    if members and field and ".members[" in field:
        member = int(field.split(".members[", 1)[1].split("]", 1)[0])
        if member < len(members):
            return members[member]
    return file.rows[index]


def _skip(value: Cell, where: str) -> None:
    raise AssertionError("a cell without a column is refused before conversion")


def _where(index: int, column: Column | None) -> str:
    return f"body.items[{index}]" + (f".{column.field}" if column is not None else "")


def column_of(field: str | None, file: FileItems) -> str | None:
    """The file's header of the field an outcome names: ``body.items[3].kind`` -> its column."""
    if not field or "]." not in field:
        return None
    name = field.rsplit("].", 1)[1].split(".", 1)[0].split("[", 1)[0]
    return file.columns.get(name)
