"""Loads what the due rules need: read-only, set-based, in bulk.

Most people are *plain* (see ``rules``): the rules need only a few numbers about them, which
SQL computes (the latest collection time, whether dose 1 was given, ...) and sends as integers
(microseconds after the window's start, days), so rows decode cheaply and nothing is built per
person (``PLAIN_NAMES``). Those numbers come from the registry's ``person_rollup`` row (one
narrow row per person, kept by the database: latest result, latest positive, dose 1, and the
latest declaration, return and positive pool). It answers whenever nothing in it is after
``as_of``; for a person with a result after ``as_of`` (a question about the past) their results
are read instead. For the others (a positive result, a declaration, a trip or a positive pool
in the window, or a recent arrival: about one in twenty) the history itself is read, in the
same row, nothing after ``as_of``, no INVALID result (the history columns: ``facts``):

- one person or one enterprise: one statement, through each person's roll-up row by key (an
  enterprise's probes shared with parallel workers);
- a province share: one statement hash-joining the roll-up to the people, the plain ones
  counted by cell in the database (``PROVINCE_GROUPS``: the rules run once per cell), the
  others one a row, through a server-side cursor so memory holds a batch or two.

The statements are the house's one way in (docs/ARCHITECTURE.md, "One way in"): SQLAlchemy Core
over ``safework_scheduler.tables``, compiled once at import, run on the asyncpg connection,
rows read by column name (the loops over every person read positions taken from those names:
``Compiled.at``). Each is shaped for the planner (fenced subqueries, laterals); check
``EXPLAIN`` before and after changing one.
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import AsyncGenerator, Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, Final

import sqlalchemy as sa
from asyncpg import Record
from sqlalchemy import Select
from sqlalchemy.dialects.postgresql import ARRAY, aggregate_order_by, distinct_on
from sqlalchemy.ext.asyncio import AsyncSession

from safework_common.db import compiled, prefetched
from safework_common.db import driver_connection as driver_connection  # (exports reads it from here)
from safework_scheduler import tables
from safework_scheduler.due.rules import DistrictRatio, EnterpriseFacts, PersonFacts, Results, from_micros

# Every statement is SQLAlchemy Core over the registry's tables as the scheduler mirrors them
# (``safework_scheduler.tables``), compiled once at import for asyncpg
# (``safework_common.db.compiled``) and run on the session's asyncpg connection; its rows are
# read by column name. Parameters, by name (``Compiled.args``): ``as_of``; ``since``, the start
# of the history window; ``arrivals_after``, ``DueRules.arrivals_after`` (NULL: no new-hire
# rule). Dose 1 is enough: the registry records dose n only after dose n - 1.

_TS = sa.DateTime(timezone=True)
AS_OF: Final = sa.bindparam("as_of", type_=_TS)
SINCE: Final = sa.bindparam("since", type_=_TS)
ARRIVALS_AFTER: Final = sa.bindparam("arrivals_after", type_=_TS)


class _Record(sa.types.UserDefinedType[Any]):
    """PostgreSQL's anonymous ``record``: a row of values the driver decodes as a tuple."""

    cache_ok = True

    def get_col_spec(self, **kw: Any) -> str:
        return "record"


def _sql(constant: str, type_: Any = None) -> Any:
    """A constant written into the statement (a literal the planner sees, never a parameter)."""
    return sa.literal_column(constant, type_)


_ACTIVE: Final = _sql("'active'", sa.String)
_POSITIVE: Final = _sql("'POSITIVE'", sa.String)
_INVALID: Final = _sql("'INVALID'", sa.String)
_PCR: Final = _sql("'PCR'", sa.String)
_EPOCH_DATE: Final = _sql("DATE '1970-01-01'", sa.Date)
_MICROSECOND: Final = _sql("interval '1 microsecond'", sa.Interval)
_NEVER: Final = _sql("'-infinity'::timestamptz", _TS)
_NO_SYMPTOMS: Final = _sql("ARRAY[]::text[]", ARRAY(sa.Text))
_ZERO: Final = _sql("0", sa.Integer)


def _int(n: int) -> Any:
    return _sql(str(n), sa.BigInteger)


def _fenced(select: Select[Any]) -> Select[Any]:
    """``OFFSET 0``: the subquery is planned as written, never pulled up into its parent (which
    would repeat an expression wherever the parent reads its column)."""
    return select.offset(_ZERO)


def _code(r: Any) -> Any:
    """A result's kind, outcome and pooling packed as ``rules.result_code`` does."""
    return sa.cast(
        sa.cast(r.c.kind == _PCR, sa.Integer)
        + _int(2) * sa.cast(r.c.result == _POSITIVE, sa.Integer)
        + _int(4) * sa.cast(r.c.pooled, sa.Integer),
        sa.SmallInteger,
    )


def relative_micros(instant: Any) -> Any:
    """An instant as whole microseconds after the window's start (``since``): what the fast
    path reads (``plain_args`` adds the start back). ``date_part`` is a float8 (``extract``
    is numeric: 0.4 s more a million rows on the server, where decoding timestamps costs the
    client a microsecond each), exact to the microsecond within about 70 years of the start
    (its error is some 2.2e-10 of the distance in seconds)."""
    return sa.cast(sa.func.date_part(_sql("'epoch'"), instant - SINCE) * _int(1000000), sa.BigInteger)


def _exact(s: Any) -> Any:
    """The roll-up row ``s`` (``person_rollup``: latest result, latest positive, dose 1, over
    all time) answers for the window: nothing in it after ``as_of`` (the usual case, a question
    about now); otherwise the results themselves do."""
    return sa.and_(
        sa.func.coalesce(s.c.last_result_at <= AS_OF, sa.true()),
        sa.func.coalesce(s.c.last_positive_at <= AS_OF, sa.true()),
    )


def _by_as_of(r: Any, person_id: Any) -> Any:
    """The person's results by ``as_of``, INVALID ones left out."""
    return sa.and_(r.c.person_id == person_id, r.c.collected_at <= AS_OF, r.c.result != _INVALID)


def _last_result(person_id: Any) -> Any:
    """The person's latest result by ``as_of`` (through their index entries)."""
    r = tables.test_result.alias("r")
    return sa.select(sa.func.max(r.c.collected_at)).where(_by_as_of(r, person_id)).correlate_except(r).scalar_subquery()


def _any_positive(person_id: Any) -> Any:
    """Whether any of the person's results by ``as_of`` was positive, however old: a positive
    stands until a later individual negative PCR (DOMAIN.md), which only the results can tell."""
    r = tables.test_result.alias("r")
    return (
        sa.select(sa.func.bool_or(r.c.result == _POSITIVE))
        .where(_by_as_of(r, person_id))
        .correlate_except(r)
        .scalar_subquery()
    )


def _special(positive: Any, s: Any, contacted: Any, arrived_at: Any) -> Any:
    """Not plain (the general rules apply): a positive that may stand, or maybe a declaration,
    a return, a positive pool or a tracing in the window (the roll-up's latest of each is after
    its start: a bound, so one after ``as_of`` makes a person not plain for nothing, and the
    general rules then answer what the fast path would), or a recent arrival."""
    return sa.or_(
        positive,
        sa.func.coalesce(
            sa.or_(
                s.c.last_declared_at > SINCE,
                s.c.last_returned_at > SINCE,
                s.c.last_positive_pool_at > SINCE,
                contacted,
            ),
            sa.false(),
        ),
        sa.func.coalesce(arrived_at > ARRIVALS_AFTER, sa.false()),
    )


def _history(person_id: Any, exact: Any, last_positive_at: Any, *, lower_first: bool) -> Any:
    """The results the general rules read, as (collection time, code) records: the window, and
    everything since the latest positive (it stands until a later individual negative PCR,
    however old); when the roll-up does not answer (something after ``as_of``), everything by
    ``as_of``. One lower bound, so the person's index entries are read as one range.
    ``lower_first``: the lower bound's condition before the upper's (the order the planner
    writes the index condition in: kept as each statement had it, so its plan is unchanged)."""
    r = tables.test_result.alias("r")
    after = r.c.collected_at > sa.case((exact, sa.func.least(SINCE, last_positive_at - _MICROSECOND)), else_=_NEVER)
    where: tuple[Any, ...]
    if lower_first:
        where = (r.c.person_id == person_id, after, r.c.collected_at <= AS_OF, r.c.result != _INVALID)
    else:
        where = (_by_as_of(r, person_id), after)
    return (
        sa.select(sa.func.array_agg(sa.tuple_(r.c.collected_at, _code(r))))
        .where(*where)
        .correlate_except(r)
        .scalar_subquery()
    )


def _items(select: Select[Any]) -> Any:
    """``select``'s ``item`` records as one array."""
    x = select.subquery("x")
    return sa.select(sa.func.array_agg(x.c.item)).scalar_subquery()


def _declarations(person_id: Any) -> Any:
    """The person's declarations in the window as the rules read them (``rules.PersonFacts``).
    A traced contact (issue 14) reads as a declared contact at the moment of tracing, with its
    case (``rules.Declaration.case_id``)."""
    h = tables.health_declaration.alias("h")
    c = tables.contact.alias("c")
    declared = (
        sa.select(
            h.c.person_id,
            sa.cast(
                sa.tuple_(
                    h.c.declared_at,
                    sa.cast(h.c.symptoms, ARRAY(sa.Text)),
                    h.c.contact_with_confirmed_case,
                    sa.cast(sa.null(), sa.UUID),
                ),
                _Record(),
            ).label("item"),
        )
        .where(h.c.declared_at > SINCE, h.c.declared_at <= AS_OF, h.c.person_id == person_id)
        .correlate_except(h)
    )
    traced = (
        sa.select(c.c.person_id, sa.cast(sa.tuple_(c.c.traced_at, _NO_SYMPTOMS, sa.true(), c.c.case_id), _Record()))
        .where(c.c.traced_at > SINCE, c.c.traced_at <= AS_OF, c.c.person_id == person_id)
        .correlate_except(c)
    )
    return _items(sa.union_all(declared, traced))  # type: ignore[arg-type]


def _travels(person_id: Any) -> Any:
    v = tables.travel.alias("v")
    return _items(
        sa.select(
            v.c.person_id,
            sa.cast(
                sa.tuple_(
                    v.c.returned_at,
                    sa.cast(v.c.destination_province, sa.Text),
                    v.c.returned_to_boarding_house,
                    v.c.to_home_town,
                ),
                _Record(),
            ).label("item"),
        )
        .where(v.c.returned_at > SINCE, v.c.returned_at <= AS_OF, v.c.person_id == person_id)
        .correlate_except(v)
    )


def _positive_pools(person_id: Any) -> Any:
    m = tables.pool_member.alias("m")
    pl = tables.pool.alias("pl")
    return _items(
        sa.select(m.c.person_id, sa.cast(sa.tuple_(pl.c.collected_at, pl.c.resulted_at), _Record()).label("item"))
        .select_from(m.join(pl, pl.c.id == m.c.pool_id))
        .where(
            pl.c.result == _POSITIVE, pl.c.collected_at > SINCE, pl.c.resulted_at <= AS_OF, m.c.person_id == person_id
        )
        .correlate_except(m, pl)
    )


def _contacted_by_person(person_id: Any) -> Any:
    """Traced as a contact (F1) of a case in the window, read by person through
    ``ix_contact_person_id_traced_at`` (few rows)."""
    c = tables.contact.alias("c")
    return sa.exists().where(c.c.person_id == person_id, c.c.traced_at > SINCE).correlate_except(c)


# The names of what the fast path reads of each person, in this order and one after another in
# every person statement (``plain_args`` reads them as a slice), then the history columns
# (``facts``), read only when ``special``.
PLAIN_NAMES: Final = ("id", "cohort", "vaccinated", "high_risk", "high_risk_until", "hire_day", "last_at")


def _people(lead: Callable[[Any], Sequence[Any]], where: Callable[[Any], Any]) -> Select[Any]:
    """One person or a few (``where``): the ``lead`` columns, then ``PLAIN_NAMES``, ``special``
    and the history. Each person's roll-up row is probed through its key (a join the planner
    would hash, scanning every row: ``PER_PERSON`` rules that out), and whether they are plain
    is decided once a row (``k``, fenced). The results are read (through the person's index
    entries) only when the roll-up does not answer (a subquery in a CASE branch runs only if
    taken), the history only for a person who is not plain (or, for the last three, who may
    have some: the roll-up's bound)."""
    p = tables.person.alias("p")
    x = tables.person_rollup.alias("x")
    s = (
        sa.select(
            x.c.last_result_at,
            x.c.last_positive_at,
            x.c.first_dose_at,
            x.c.last_declared_at,
            x.c.last_returned_at,
            x.c.last_positive_pool_at,
        )
        .where(x.c.person_id == p.c.id)
        .lateral("s")
    )
    exact = _exact(s)
    positive = sa.case(
        (exact, s.c.last_positive_at.is_not(None)), else_=sa.func.coalesce(_any_positive(p.c.id), sa.false())
    )
    special = _special(positive, s, _contacted_by_person(p.c.id), p.c.arrived_at)
    k = _fenced(sa.select(special.label("special")).correlate(p, s)).lateral("k")
    last_at = sa.case((exact, s.c.last_result_at), else_=_last_result(p.c.id))
    return (
        sa.select(
            *lead(p),
            p.c.id.label("id"),
            p.c.test_cohort.label("cohort"),
            sa.func.coalesce(s.c.first_dose_at <= AS_OF, sa.false()).label("vaccinated"),
            p.c.high_risk.label("high_risk"),
            relative_micros(p.c.high_risk_until).label("high_risk_until"),
            (p.c.hire_date - _EPOCH_DATE).label("hire_day"),
            relative_micros(last_at).label("last_at"),
            k.c.special.label("special"),
            sa.case((k.c.special, _history(p.c.id, exact, s.c.last_positive_at, lower_first=True))).label("results"),
            sa.case((k.c.special, s.c.first_dose_at)).label("first_dose_at"),
            p.c.arrived_at.label("arrived_at"),
            p.c.arrived_from_province.label("arrived_from_province"),
            sa.case((sa.or_(s.c.last_declared_at > SINCE, _contacted_by_person(p.c.id)), _declarations(p.c.id))).label(
                "declarations"
            ),
            sa.case((s.c.last_returned_at > SINCE, _travels(p.c.id))).label("travels"),
            sa.case((s.c.last_positive_pool_at > SINCE, _positive_pools(p.c.id))).label("pools"),
        )
        .select_from(p.outerjoin(s, sa.true()).join(k, sa.true()))
        .where(where(p))
    )


_UUID: Final = sa.UUID(as_uuid=True)

# One enterprise's active roster (``enterprise_id``) with what its list shows beside each person.
ENTERPRISE_PEOPLE: Final = compiled(
    _people(
        lambda p: (p.c.employee_code, p.c.full_name),
        lambda p: sa.and_(p.c.enterprise_id == sa.bindparam("enterprise_id", type_=_UUID), p.c.status == _ACTIVE),
    )
)

# One person (``person_id``), whatever their status, with their name (masked for a gate pass).
PERSON: Final = compiled(
    _people(
        lambda p: (p.c.enterprise_id, p.c.status, p.c.full_name),
        lambda p: p.c.id == sa.bindparam("person_id", type_=_UUID),
    )
)

# A province's (or district's) active people in a range of person ids, ``low <= id < high``
# (NULL: no bound), of the enterprises in ``district`` and ``zone_type`` (NULL: any). The
# roll-up rows are hash-joined; the results are read (through the person's index entries) only
# for the people whose roll-up does not answer (none, as of now), and the history only for the
# people who are not plain (about one in twenty), in the same statement. Three levels, each
# computed once a row (fenced: not flattened, which would repeat an expression wherever the
# next level reads it): ``a`` the person, their roll-up row and whether it answers (``exact``);
# ``b`` their latest test and whether they are plain; then the enterprise and the person's
# columns as ``_people`` names them. (``special`` is computed in ``b`` as an expression, not in
# a lateral: a lateral would make the planner probe the roll-up person by person.)
LOW: Final = sa.bindparam("low", type_=_UUID)
HIGH: Final = sa.bindparam("high", type_=_UUID)
DISTRICT: Final = sa.bindparam("district", type_=sa.Text)
ZONE_TYPE: Final = sa.bindparam("zone_type", type_=sa.Text)


def _in_range(person_id: Any) -> Any:
    return sa.and_(sa.or_(LOW.is_(None), person_id >= LOW), sa.or_(HIGH.is_(None), person_id < HIGH))


def _province(*, named: bool = False) -> Select[Any]:
    """``named``: each person's employee code and full name first, read with the person (the
    due-list export's), and the rows by enterprise then person."""
    p = tables.person.alias("p")
    e = tables.enterprise.alias("e")
    s = tables.person_rollup.alias("s")
    c = tables.contact.alias("c")
    ct = sa.select(c.c.person_id).distinct().where(c.c.traced_at > SINCE, _in_range(c.c.person_id)).subquery("ct")
    a = _fenced(
        sa.select(
            *((p.c.employee_code, p.c.full_name) if named else ()),
            p.c.enterprise_id,
            p.c.id,
            p.c.test_cohort,
            p.c.high_risk,
            p.c.high_risk_until,
            p.c.hire_date,
            p.c.arrived_at,
            p.c.arrived_from_province,
            s.c.last_result_at,
            s.c.last_positive_at,
            s.c.first_dose_at,
            s.c.last_declared_at,
            s.c.last_returned_at,
            s.c.last_positive_pool_at,
            ct.c.person_id.is_not(None).label("contacted"),
            _exact(s).label("exact"),
        )
        .select_from(
            p.join(e, e.c.id == p.c.enterprise_id)
            .outerjoin(s, sa.and_(s.c.person_id == p.c.id, _in_range(s.c.person_id)))
            .outerjoin(ct, ct.c.person_id == p.c.id)
        )
        .where(
            p.c.status == _ACTIVE,
            _in_range(p.c.id),
            sa.or_(DISTRICT.is_(None), e.c.district == DISTRICT),
            sa.or_(ZONE_TYPE.is_(None), e.c.zone_type == ZONE_TYPE),
        )
    ).subquery("a")
    positive = sa.case(
        (a.c.exact, a.c.last_positive_at.is_not(None)), else_=sa.func.coalesce(_any_positive(a.c.id), sa.false())
    )
    b = _fenced(
        sa.select(
            a,
            sa.case((a.c.exact, a.c.last_result_at), else_=_last_result(a.c.id)).label("last_at"),
            _special(positive, a, a.c.contacted, a.c.arrived_at).label("special"),
        )
    ).subquery("b")
    order = (b.c.enterprise_id, b.c.id)
    enterprise = (
        # The rows come by enterprise: its id on the first of its people's only (NULL on the
        # others: a UUID decoded a row cost the export's worker about 1 us of its 8).
        sa.case(
            (sa.func.lag(b.c.enterprise_id).over(order_by=order) == b.c.enterprise_id, sa.null()),
            else_=b.c.enterprise_id,
        ).label("enterprise_id")
        if named
        else b.c.enterprise_id
    )
    statement = sa.select(
        *((b.c.employee_code, b.c.full_name) if named else ()),
        enterprise,
        b.c.id,
        b.c.test_cohort.label("cohort"),
        sa.func.coalesce(b.c.first_dose_at <= AS_OF, sa.false()).label("vaccinated"),
        b.c.high_risk,
        relative_micros(b.c.high_risk_until).label("high_risk_until"),
        (b.c.hire_date - _EPOCH_DATE).label("hire_day"),
        relative_micros(b.c.last_at).label("last_at"),
        b.c.special,
        sa.case((b.c.special, _history(b.c.id, b.c.exact, b.c.last_positive_at, lower_first=False))).label("results"),
        sa.case((b.c.special, b.c.first_dose_at)).label("first_dose_at"),
        b.c.arrived_at,
        b.c.arrived_from_province,
        sa.case((sa.or_(b.c.last_declared_at > SINCE, b.c.contacted), _declarations(b.c.id))).label("declarations"),
        sa.case((b.c.last_returned_at > SINCE, _travels(b.c.id))).label("travels"),
        sa.case((b.c.last_positive_pool_at > SINCE, _positive_pools(b.c.id))).label("pools"),
    )
    return statement.order_by(*order) if named else statement


PROVINCE: Final = compiled(_province())
# The same people with their employee code and full name, by enterprise then person (the JSON
# pages' order), the enterprise's id on the first row of its people only: a share of the
# due-list export (``exports.parallel``), same parameters.
PROVINCE_PEOPLE: Final = compiled(_province(named=True))
# Its SQL, parameters ``as_of, since, arrivals_after, low, high, district, zone_type`` in that
# order ($1 to $7: ``PROVINCE.names``), for a statement that reads it as a subquery.
PROVINCE_SQL: Final = PROVINCE.sql


# The same people with the plain ones counted in groups: a plain person's status depends only on
# the cell ``DueRules.plain_cell`` puts them in (their enterprise, half, dose 1, start day, and
# where their latest test falls: its local day and its side of each cut), so the database counts
# each cell and the rules are applied once per cell, to its earliest latest test. Kept one row a
# person (``id`` set): the people who are not plain (their arrival follows), the high-risk (a
# cut of their own: the end of their flag) and the people of enterprises drawing rotating
# samples (``singles``: whether one is picked depends on who they are). The people are read once
# (the CTE, in memory under ``BULK_SETTINGS``' work_mem): a narrow key for the cells costs the
# server less than one wide enough to carry the others through the same aggregate.
# ``floor_day``: the version's first day (days since 1970-01-01: an earlier hire day starts
# there); ``shift_us``: from the local midnight days are counted from (long before any test) to
# the window's start; ``cuts_us``: the cuts (sorted) after the window's start, in microseconds.
# Columns: the enterprise, ``_people``'s (for a cell: the id NULL, its latest test the earliest
# of the cell's, no history), then how many people the row counts (``people``).
def _province_groups() -> Select[Any]:
    r = _province().subquery("r")
    singles = sa.bindparam("singles", type_=ARRAY(_UUID))
    q = (
        sa.select(r, sa.or_(r.c.special, r.c.high_risk, r.c.enterprise_id == sa.any_(singles)).label("single"))
        .cte("q")
        .prefix_with("MATERIALIZED")
    )
    people = [q.c[name] for name in PROVINCE.columns]
    ones = sa.select(*people, _sql("1", sa.Integer).label("people")).where(q.c.single)
    g = (
        sa.select(
            q.c.enterprise_id,
            q.c.cohort,
            q.c.vaccinated,
            sa.func.greatest(q.c.hire_day, sa.bindparam("floor_day", type_=sa.Integer)).label("hire_day"),
            q.c.last_at,
            ((q.c.last_at + sa.bindparam("shift_us", type_=sa.BigInteger)) // _int(86400000000)).label("day"),
            sa.func.width_bucket(q.c.last_at, sa.bindparam("cuts_us", type_=ARRAY(sa.BigInteger))).label("cut"),
        )
        .where(sa.not_(q.c.single))
        .subquery("g")
    )
    cells = sa.select(
        g.c.enterprise_id,
        sa.null(),
        g.c.cohort,
        g.c.vaccinated,
        sa.false(),
        sa.null(),
        g.c.hire_day,
        sa.func.min(g.c.last_at),
        sa.false(),
        *(sa.null() for _ in range(7)),
        sa.cast(sa.func.count(), sa.Integer),
    ).group_by(g.c.enterprise_id, g.c.cohort, g.c.vaccinated, g.c.hire_day, g.c.day, g.c.cut)
    return sa.union_all(ones, cells)  # type: ignore[return-value]


PROVINCE_GROUPS: Final = compiled(_province_groups())


def _enterprise_columns(e: Any, roster_size: Any) -> tuple[Any, ...]:
    return (
        e.c.id,
        e.c.name,
        e.c.district,
        e.c.zone_type,
        e.c.industry,
        e.c.operating_status,
        roster_size.label("roster_size"),
        e.c.zone_name,
    )


def _enterprises() -> Select[Any]:
    """Enterprises in scope (``district``, ``zone_type``; NULL: any) with the size of their
    active roster, by id."""
    e = tables.enterprise.alias("e")
    p = tables.person
    n = (
        sa.select(p.c.enterprise_id, sa.func.count().label("people"))
        .where(p.c.status == _ACTIVE)
        .group_by(p.c.enterprise_id)
        .subquery("n")
    )
    district = sa.bindparam("district", type_=sa.Text)
    zone_type = sa.bindparam("zone_type", type_=sa.Text)
    return (
        sa.select(*_enterprise_columns(e, sa.func.coalesce(n.c.people, _ZERO)))
        .select_from(e.outerjoin(n, n.c.enterprise_id == e.c.id))
        .where(
            sa.or_(district.is_(None), e.c.district == district),
            sa.or_(zone_type.is_(None), e.c.zone_type == zone_type),
        )
        .order_by(e.c.id)
    )


ENTERPRISES: Final = compiled(_enterprises())


def _one_enterprise() -> Select[Any]:
    """One enterprise (``enterprise_id``); ``roster_size``: also count its active roster (else
    0: a caller that reads the people counts them)."""
    e = tables.enterprise.alias("e")
    p = tables.person.alias("p")
    size = sa.select(sa.func.count()).where(p.c.enterprise_id == e.c.id, p.c.status == _ACTIVE).scalar_subquery()
    counted = sa.case((sa.bindparam("roster_size", type_=sa.Boolean), size), else_=_ZERO)
    return sa.select(*_enterprise_columns(e, counted)).where(e.c.id == sa.bindparam("enterprise_id", type_=_UUID))


ENTERPRISE: Final = compiled(_one_enterprise())


def _rosters() -> Select[Any]:
    """The active rosters of the enterprises that draw rotating samples (``enterprise_ids``),
    each as its people's ids one after another in the sample order (``rules.roster_bytes``,
    ``rules.sample_order_key``: the same SHA-256, compared as bytes), so nothing is decoded or
    sorted per person."""
    p = tables.person
    key = sa.func.sha256(sa.func.uuid_send(p.c.enterprise_id).op("||")(sa.func.uuid_send(p.c.id)))
    return (
        sa.select(
            p.c.enterprise_id,
            sa.func.string_agg(
                sa.func.uuid_send(p.c.id), aggregate_order_by(_sql("''::bytea", sa.LargeBinary), key)
            ).label("ids"),
        )
        .where(p.c.enterprise_id == sa.any_(sa.bindparam("enterprise_ids", type_=ARRAY(_UUID))), p.c.status == _ACTIVE)
        .group_by(p.c.enterprise_id)
    )


ROSTERS: Final = compiled(_rosters())


# The same rows each statement reads, scanned once with nothing computed: the references the
# benchmark prints beside the full computations (parameters ``as_of``, ``since`` and the
# enterprise's ``enterprise_id``, by name: ``ENTERPRISE_SCAN.args``).
def _scan(enterprise: bool) -> Select[int, Any]:
    p = tables.person.alias("p")
    r = tables.test_result.alias("r")
    window = sa.and_(r.c.person_id == p.c.id, r.c.collected_at > SINCE, r.c.collected_at <= AS_OF)
    stmt = sa.select(sa.func.count(), sa.func.max(r.c.collected_at))
    if enterprise:
        return stmt.select_from(p.outerjoin(r, window)).where(
            p.c.enterprise_id == sa.bindparam("enterprise_id", type_=_UUID), p.c.status == _ACTIVE
        )
    e = tables.enterprise.alias("e")
    return stmt.select_from(p.join(e, e.c.id == p.c.enterprise_id).outerjoin(r, window)).where(p.c.status == _ACTIVE)


PROVINCE_SCAN: Final = compiled(_scan(enterprise=False))
ENTERPRISE_SCAN: Final = compiled(_scan(enterprise=True))


# Statements are prepared and cached per connection; a generic plan would not know whether a
# parameter names one enterprise or a whole province. Plan each execution for its parameters.
# And no JIT: the per-person subqueries make the planner's cost of an enterprise's statement
# look large (it cannot know the roll-up answers for nearly everyone), and compiling it took
# 0.1-0.8 s against a statement of about 20 ms.
CUSTOM_PLANS: Final = "SET LOCAL plan_cache_mode = force_custom_plan; SET LOCAL jit = off"

# One person or one enterprise: their roll-up rows probed through the key, never hashed or
# merged whole (a million rows for ten thousand people); an enterprise's probes may then be
# shared with parallel workers, as a scan of the same rows would be. For this transaction only.
PER_PERSON: Final = CUSTOM_PLANS + "; SET LOCAL enable_hashjoin = off; SET LOCAL enable_mergejoin = off"

# A province share aggregates the window's results once and hash-joins them to its people:
# room for the hashes (a million people's latest results fit in about 150 MB; less spills to
# disk), and a plan for the whole result (a cursor otherwise favours fast-start nested loops).
# For this transaction only.
BULK_SETTINGS: Final = "SET LOCAL work_mem = '256MB'; SET LOCAL cursor_tuple_fraction = 1.0; " + CUSTOM_PLANS

# When the shares run side by side, each is one process's work: no parallel workers on top.
SERIAL: Final = "SET LOCAL max_parallel_workers_per_gather = 0"


# Where ``PLAIN_NAMES`` start in each statement's rows (``plain_args``' ``at``).
for _stmt in (PERSON, ENTERPRISE_PEOPLE, PROVINCE, PROVINCE_GROUPS):
    _at = _stmt.at(PLAIN_NAMES[0])
    assert _stmt.columns[_at : _at + len(PLAIN_NAMES)] == PLAIN_NAMES, _stmt.columns

_EPOCH_ORDINAL: Final = date(1970, 1, 1).toordinal()


def plain_args(row: Sequence[Any], at: int, since_us: int) -> tuple[Any, ...]:
    """The arguments of ``DueRules.plain``/``plain_status`` after the plan: ``PLAIN_NAMES``
    from ``at`` on (the statement's ``at("id")``: a slice, the fast path's one read of a
    row), instants in microseconds (``since_us``: the window's start, which the statement
    counts them from)."""
    pid, cohort, vaccinated, high_risk, until, hire_day, last_at = row[at : at + 7]
    return (
        pid,
        cohort,
        vaccinated,
        high_risk,
        None if until is None else until + since_us,
        hire_day,
        None if last_at is None else last_at + since_us,
    )


def facts(row: Record, since_us: int) -> PersonFacts:
    """A not-plain person's PersonFacts from a person statement's row (by column name)."""
    results = row["results"]
    until = row["high_risk_until"]
    hire_day = row["hire_day"]
    last_at = row["last_at"]
    return PersonFacts(
        row["id"],
        row["cohort"],
        row["first_dose_at"],
        row["high_risk"],
        None if until is None else from_micros(until + since_us),
        None if hire_day is None else date.fromordinal(hire_day + _EPOCH_ORDINAL),
        row["arrived_at"],
        row["arrived_from_province"],
        Results([r[0] for r in results], [r[1] for r in results]) if results else Results(),
        row["declarations"] or (),
        row["travels"] or (),
        row["pools"] or (),
        None if last_at is None else from_micros(last_at + since_us),
    )


@dataclass(frozen=True, slots=True)
class EnterpriseRow:
    id: uuid.UUID
    name: str
    district: str
    zone_type: str
    industry: str
    operating_status: str
    roster_size: int
    zone_name: str | None = None

    @property
    def facts(self) -> EnterpriseFacts:
        return EnterpriseFacts(
            self.id,
            self.district,
            self.zone_type,
            self.industry,
            self.roster_size,
            self.zone_name,
            self.operating_status == "suspended",
        )


def database_url(session: AsyncSession) -> str:
    """The session's database as a libpq URL (for a worker process's own connection)."""
    bind: Any = session.bind
    url: str = bind.url.set(drivername="postgresql").render_as_string(hide_password=False)
    return url


async def export_snapshot(session: AsyncSession) -> str:
    """The session transaction's snapshot, for other connections to read exactly what it reads
    (``SET TRANSACTION SNAPSHOT``) while it stays open."""
    conn = await driver_connection(session)
    snapshot: str = await conn.fetchval("SELECT pg_export_snapshot()")
    return snapshot


def _enterprise(row: Record) -> EnterpriseRow:
    return EnterpriseRow(
        row["id"],
        row["name"],
        row["district"],
        row["zone_type"],
        row["industry"],
        row["operating_status"],
        row["roster_size"],
        row["zone_name"],
    )


async def get_enterprise(
    session: AsyncSession, enterprise_id: uuid.UUID, *, roster_size: bool = False
) -> EnterpriseRow | None:
    conn = await driver_connection(session)
    row = await conn.fetchrow(ENTERPRISE.sql, *ENTERPRISE.args(enterprise_id=enterprise_id, roster_size=roster_size))
    return None if row is None else _enterprise(row)


async def list_enterprises(session: AsyncSession, district: str | None, zone_type: str | None) -> list[EnterpriseRow]:
    """Enterprises in scope, by id, with their active roster sizes: one statement."""
    conn = await driver_connection(session)
    rows = await conn.fetch(ENTERPRISES.sql, *ENTERPRISES.args(district=district, zone_type=zone_type))
    return [_enterprise(r) for r in rows]


async def enterprise_people(
    session: AsyncSession, enterprise_id: uuid.UUID, as_of: datetime, since: datetime, arrivals_after: datetime | None
) -> list[Record]:
    """Every active person of one enterprise (``ENTERPRISE_PEOPLE``: employee code, full name,
    then the person's columns). One statement."""
    conn = await driver_connection(session)
    await conn.execute(PER_PERSON)
    args = ENTERPRISE_PEOPLE.args(as_of=as_of, since=since, arrivals_after=arrivals_after, enterprise_id=enterprise_id)
    rows: list[Record] = await conn.fetch(ENTERPRISE_PEOPLE.sql, *args)
    return rows


async def person(
    session: AsyncSession, person_id: uuid.UUID, as_of: datetime, since: datetime, arrivals_after: datetime | None
) -> Record | None:
    """One person, whatever their status (``PERSON``: enterprise id, status, full name, then the
    person's columns)."""
    conn = await driver_connection(session)
    await conn.execute(PER_PERSON)
    args = PERSON.args(as_of=as_of, since=since, arrivals_after=arrivals_after, person_id=person_id)
    row: Record | None = await conn.fetchrow(PERSON.sql, *args)
    return row


async def rosters(session: AsyncSession, enterprise_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, bytes]:
    """The active people of each enterprise (the population a rotating sample is drawn from),
    as ``rules.roster_bytes``."""
    out: dict[uuid.UUID, bytes] = dict.fromkeys(enterprise_ids, b"")
    if enterprise_ids:
        conn = await driver_connection(session)
        for row in await conn.fetch(ROSTERS.sql, *ROSTERS.args(enterprise_ids=list(enterprise_ids))):
            out[row["enterprise_id"]] = row["ids"]
    return out


@dataclass(frozen=True, slots=True)
class Share:
    """A province computation's share: the active people with ``low <= id < high`` (None: no
    bound) of the enterprises in the district and zone type (None: any)."""

    low: uuid.UUID | None = None
    high: uuid.UUID | None = None
    district: str | None = None
    zone_type: str | None = None

    def holds(self, person_id: uuid.UUID) -> bool:
        return (self.low is None or person_id >= self.low) and (self.high is None or person_id < self.high)


def shares(n: int, district: str | None, zone_type: str | None) -> list[Share]:
    """``n`` shares of equal ranges of person ids (ids are random: about equal numbers of people)."""
    bounds = [None, *(uuid.UUID(int=(k << 128) // n) for k in range(1, n)), None]
    return [Share(bounds[k], bounds[k + 1], district, zone_type) for k in range(n)]


@dataclass(frozen=True, slots=True)
class Cells:
    """How ``PROVINCE_GROUPS`` groups the plain people (``DueRules.plain_cell``): the
    version's first day (days since 1970-01-01), the microseconds from the midnight days are
    counted from to the window's start, the cuts after the window's start, and the enterprises
    whose people are counted one by one."""

    floor_day: int
    shift_us: int
    cuts_us: tuple[int, ...]
    singles: tuple[uuid.UUID, ...]


async def stream_share(
    conn: Any,
    share: Share,
    as_of: datetime,
    since: datetime,
    arrivals_after: datetime | None,
    cells: Cells,
    *,
    serial: bool = False,
    batch: int = 10_000,
) -> AsyncGenerator[list[Record], None]:
    """A share's people, the plain ones by cell (``PROVINCE_GROUPS``, read by column name), in
    batches from a server-side cursor, on ``conn`` inside its transaction: memory holds a batch
    or two, whatever the province's size. ``serial``: no parallel workers (the shares already
    run side by side)."""
    await conn.execute(BULK_SETTINGS)
    if serial:
        await conn.execute(SERIAL)
    args = PROVINCE_GROUPS.args(
        as_of=as_of,
        since=since,
        arrivals_after=arrivals_after,
        low=share.low,
        high=share.high,
        district=share.district,
        zone_type=share.zone_type,
        floor_day=cells.floor_day,
        shift_us=cells.shift_us,
        cuts_us=list(cells.cuts_us),
        singles=list(cells.singles),
    )
    async with contextlib.aclosing(prefetched(conn, PROVINCE_GROUPS.sql, *args, batch=batch)) as batches:
        async for rows in batches:
            yield rows


async def district_ratios(session: AsyncSession, kind: str, day: date) -> dict[str, DistrictRatio]:
    """Each district's ratio of ``kind`` in force on ``day``: the setting with the latest date on
    or before the day (of two from one date, the later made). Like a policy version, a setting
    applies from its date, whenever it was recorded."""
    r = tables.district_ratio.c
    stmt = (
        sa.select(r.district, r.ratio, r.effective_from, r.set_by)
        .where(r.kind == kind, r.effective_from <= day)
        .order_by(r.district, r.effective_from.desc(), r.set_at.desc())
        .ext(distinct_on(r.district))
    )
    rows = (await session.execute(stmt)).mappings()
    return {row["district"]: DistrictRatio(float(row["ratio"]), row["set_by"], row["effective_from"]) for row in rows}
