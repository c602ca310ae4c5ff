"""The rows of the due-list exports: one enterprise's people with their verdicts, as the
cells of a spreadsheet (``safework_common.export.cell``) or as CSV text.

The columns are the JSON ``/due/people`` item's fields, flattened (lists joined by ``;``),
after the enterprise's. People of one enterprise mostly share their verdict but for their id
(and, for the unvaccinated, their due time): cells and text are made once per shared verdict,
the memo per enterprise, so memory never holds the province's.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator, Sequence
from datetime import datetime
from typing import Any, Final, TypeVar

from safework_common.db import Compiled
from safework_common.export import cell, write_csv
from safework_common.timezone import LOCAL_TZ
from safework_scheduler.due import repository as due_repo
from safework_scheduler.due import service as due
from safework_scheduler.due.rules import DueRules, PersonDue, RoundPlan

Row = Sequence[Any]
T = TypeVar("T")

# The due list's columns: the JSON ``/due/people`` item's fields, flattened (lists joined by ';').
PERSON_COLUMNS: Final = (
    "person_id",
    "employee_code",
    "full_name",
    "test_cohort",
    "due_today",
    "due_at",
    "kind",
    "reasons",
    "overdue",
    "cleared_to_work",
    "not_cleared",
    "flags",
    "window_start",
    "window_end",
    "window_done",
    "payer",
    "contact_case_id",
)
ENTERPRISE_COLUMNS: Final = ("enterprise_id", "enterprise_name", "district", "zone_type")
DUE_PEOPLE_COLUMNS: Final = (*ENTERPRISE_COLUMNS, *PERSON_COLUMNS)


class Shown:
    """A person's verdict as export cells (``export.cell`` applied once). People of one cell
    share an answer less the person (``PersonDue[1:]``), so its cells are made once."""

    def __init__(self, rules: DueRules) -> None:
        self.day_end = rules.day_end
        self.payers = rules.policy.testing.payers
        self.memo: dict[tuple[Any, ...], tuple[Any, ...]] = {}

    def __call__(self, d: PersonDue) -> tuple[Any, ...]:
        key = d[1:]
        cells = self.memo.get(key)
        if cells is None:
            w = d.window
            payer = next((self.payers[r] for r in d.reasons if self.payers.get(r) is not None), None)
            cells = self.memo[key] = tuple(
                cell(v)
                for v in (
                    d.due_before(self.day_end),
                    due.local(d.due_at),
                    d.kind,
                    d.reasons,
                    d.overdue,
                    d.cleared_to_work,
                    d.not_cleared,
                    d.flags,
                    None if w is None else due.local(w.start),
                    None if w is None else due.local(w.end),
                    None if w is None else w.done,
                    payer,
                    due.contact_case(d),
                )
            )
        return cells


def _head(e: due_repo.EnterpriseRow) -> tuple[Any, ...]:
    return tuple(cell(v) for v in (e.id, e.name, e.district, e.zone_type))


def enterprise_cells(e: due_repo.EnterpriseRow) -> tuple[Any, ...]:
    """An enterprise's cells (``ENTERPRISE_COLUMNS``)."""
    return tuple(cell(v) for v in (e.id, e.name, e.district, e.zone_type))


def _quoted(text: str) -> str:
    """A CSV field as ``csv.writer`` (the excel dialect, ``\\r\\n`` line ends) writes it."""
    if "," in text or '"' in text or "\r" in text or "\n" in text:
        return '"' + text.replace('"', '""') + '"'
    return text


def _line(cells: Sequence[Any]) -> str:
    """Cells as one CSV line's text, without its end."""
    return write_csv((cells,)).decode()[:-2]


class _Written:
    """A person's verdict as the CSV text of its cells (``_Shown``'s, written as ``csv.writer``
    writes them). The due time is the one field people of an enterprise rarely share (an
    unvaccinated person's is counted from their own latest test); the rest of the verdict is
    written once per distinct rest."""

    def __init__(self, rules: DueRules) -> None:
        self.day_end = rules.day_end
        self.shown = Shown(rules)
        self.rest: dict[tuple[Any, ...], str] = {}
        self.times: dict[datetime, str] = {}

    def __call__(self, d: PersonDue) -> str:
        key = (d.kind, d.reasons, d.overdue, d.cleared_to_work, d.not_cleared, d.flags, d.window, due.contact_case(d))
        rest = self.rest.get(key)
        if rest is None:
            rest = self.rest[key] = _line(self.shown(d)[2:])
        at = d.due_at
        if at is None:
            return "false,," + rest
        text = self.times.get(at)
        if text is None:
            text = self.times[at] = at.astimezone(LOCAL_TZ).isoformat()
        return ("true," if at < self.day_end else "false,") + text + "," + rest


class EnterpriseRows:
    """One enterprise's people as a share gives them (by person id; rows of ``statement``: the
    employee code, the full name and a person statement's columns), and their rows (as cells,
    or as CSV text): the computation of ``due.evaluate_enterprise`` (the general rules for the
    people who are not plain, the fast path for the others) under the enterprise's ``plan``."""

    def __init__(
        self,
        rules: DueRules,
        flag: int,
        enterprise: due_repo.EnterpriseRow,
        plan: RoundPlan,
        statement: Compiled,
    ) -> None:
        self.rules, self.flag, self.enterprise, self.plan = rules, flag, enterprise, plan
        self.at = statement.at("id")  # the fast path's slice starts there
        self.special, self.cohort = statement.at("special"), statement.at("cohort")
        self.code, self.name = statement.at("employee_code"), statement.at("full_name")
        self.rows: list[Any] = []

    def _shown(self, render: Callable[[PersonDue], T]) -> Iterator[tuple[Row, uuid.UUID, T]]:
        """Each row of the statuses asked for, with its person's id and ``render`` of their
        answer (which must not read the id): the computation of ``due.evaluate_enterprise``
        (the general rules for the people who are not plain, ``plain`` for the others), an
        answer that others share (``DueRules.shared_of``) computed and rendered once."""
        rules, at, plan, flag = self.rules, self.at, self.plan, self.flag
        plain, status = rules.plain, rules.status
        shared = rules.shared_of(plan)
        since = rules.horizon_us
        special = self.special
        memo: dict[tuple[int, tuple[int, int] | None], T | None] = {}
        for r in self.rows:
            if r[special]:
                d = rules.evaluate(due_repo.facts(r, since), plan)
            else:
                pid, cohort, vaccinated, high_risk, until, hire_day, last_at = due_repo.plain_args(r, at, since)
                key = None if shared is None else shared(cohort, vaccinated, high_risk, hire_day, last_at)
                if key is None:
                    d = plain(plan, pid, cohort, vaccinated, high_risk, until, hire_day, last_at)
                else:
                    if key in memo:
                        made = memo[key]
                    else:
                        d = rules.plain_shared(plan, pid, cohort, key, last_at)
                        made = memo[key] = render(d) if not flag or status(d) & flag else None
                    if made is not None:
                        yield r, pid, made
                    continue
            if flag and not status(d) & flag:
                continue
            yield r, d.person_id, render(d)

    def out(self) -> list[Row]:
        """The rows as cells (``DUE_PEOPLE_COLUMNS``)."""
        head = enterprise_cells(self.enterprise)
        code, name, cohort = self.code, self.name, self.cohort
        return [
            (*head, str(pid), r[code] or "", r[name] or "", r[cohort], *cells)
            for r, pid, cells in self._shown(Shown(self.rules))
        ]

    def csv(self) -> bytes:
        """The rows as CSV lines: what ``write_csv(self.out())`` gives, written without
        ``csv.writer``'s per-field work on the verdict (``_Written``)."""
        head = _line(enterprise_cells(self.enterprise)) + ","
        code, name, cohort = self.code, self.name, self.cohort
        lines = [
            f"{head}{pid},{_quoted(r[code] or '')},{_quoted(r[name] or '')},{r[cohort]},{text}\r\n"
            for r, pid, text in self._shown(_Written(self.rules))
        ]
        return "".join(lines).encode()
