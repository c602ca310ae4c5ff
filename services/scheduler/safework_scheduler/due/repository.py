"""Loads what the due rules need: read-only, set-based, in bulk.

Most people are *plain* (see ``rules``): the rules need only a few numbers about them, which
SQL computes (the latest collection time, whether dose 1 was given, ...) and sends as integers
(microseconds after the window's start, days), so rows decode cheaply and nothing is built per
person (``PLAIN_COLUMNS``). Those numbers come from the registry's ``person_rollup`` row (one
narrow row per person, kept by the database: latest result, latest positive, dose 1, and the
latest declaration, return and positive pool). It answers whenever nothing in it is after
``as_of``; for a person with a result after ``as_of`` (a question about the past) their results
are read instead. For the others (a positive result, a declaration, a trip or a positive pool
in the window, or a recent arrival: about one in twenty) the history itself is read, in the
same row, nothing after ``as_of``, no INVALID result (``PERSON_COLUMNS``):

- one person or one enterprise: one statement, through each person's roll-up row by key (an
  enterprise's probes shared with parallel workers);
- a province share: one statement hash-joining the roll-up to the people, the plain ones
  counted by cell in the database (``PROVINCE_GROUPS_SQL``: the rules run once per cell), the
  others one a row, through a server-side cursor so memory holds a batch or two.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncGenerator, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, Final

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import distinct_on
from sqlalchemy.ext.asyncio import AsyncSession

from safework_scheduler.due.rules import DistrictRatio, EnterpriseFacts, PersonFacts, Results, from_micros

# Parameters shared by every person statement: $1 = as_of, $2 = the start of the history
# window, $3 = ``DueRules.arrivals_after`` (NULL: no new-hire rule). Dose 1 is enough: the
# registry records dose n only after dose n - 1. (Fragments are joined with ``+`` and
# ``replace``: fixed text, no input.)

# A result's kind, outcome and pooling packed as ``rules.result_code`` does.
_CODE: Final = "((r.kind = 'PCR')::int + 2 * (r.result = 'POSITIVE')::int + 4 * r.pooled::int)::int2"


# ``s`` is the person's ``person_rollup`` row (the registry keeps it: latest result, latest
# positive, dose 1, over all time). It answers for the window when nothing in it is after
# ``as_of`` (EXACT: the usual case, a question about now); otherwise the results themselves do
# (RZ_LAST, RZ_POSITIVE: an aggregate joined in for a province, a subquery evaluated only then
# for one person or one enterprise).
def _exact(alias: str) -> str:
    """The roll-up row ``alias`` answers for the window: nothing in it after ``as_of``."""
    return f"(coalesce({alias}.last_result_at <= $1, true) AND coalesce({alias}.last_positive_at <= $1, true))"


# The latest result however old (None: never tested), and whether any result was positive,
# however old: a positive stands until a later individual negative PCR (DOMAIN.md), which only
# the person's results can tell, so such a person is not plain.
_LAST_AT: Final = "CASE WHEN EXACT THEN s.last_result_at ELSE RZ_LAST END".replace("EXACT", _exact("s"))
_POSITIVE: Final = "CASE WHEN EXACT THEN s.last_positive_at IS NOT NULL ELSE coalesce(RZ_POSITIVE, false) END".replace(
    "EXACT", _exact("s")
)

# Whether a person may have a declaration, a return or a positive pool in the window: the
# roll-up's latest of each is after its start (a bound: one after ``as_of`` makes a person not
# plain for nothing, and the general rules then answer what the fast path would).
_MAYBE_SPARSE: Final = (
    "coalesce(s.last_declared_at > $2 OR s.last_returned_at > $2 OR s.last_positive_pool_at > $2 OR CONTACTED, false)"
)

# Traced as a contact (F1) of a case in the window (the registry's ``contact``: few rows, read
# by person through ``ix_contact_person_id_traced_at``; a province joins them as a set, ``ct``).
_CONTACTED_BY_PERSON: Final = "EXISTS (SELECT 1 FROM contact c WHERE c.person_id = p.id AND c.traced_at > $2)"
_CONTACTED_IN_SET: Final = "(ct.person_id IS NOT NULL)"

# Not plain (the general rules apply): needs ``s``, the results if ``s`` does not answer, and ``p``.
_SPECIAL: Final = "(" + _POSITIVE + " OR " + _MAYBE_SPARSE + " OR coalesce(p.arrived_at > $3, false))"


def _with_results(sql: str, last: str, positive: str, contacted: str = _CONTACTED_BY_PERSON) -> str:
    return sql.replace("RZ_LAST", last).replace("RZ_POSITIVE", positive).replace("CONTACTED", contacted)


# Whether the person is plain, decided once a row (OFFSET 0: the subquery is not pulled up,
# which would repeat the expression wherever the columns below read ``k.special``). Joined
# after ``p`` and ``s``.
_ONCE: Final = "\nCROSS JOIN LATERAL (SELECT SPECIAL AS special OFFSET 0) k\n".replace("SPECIAL", _SPECIAL)


def relative_micros(instant: str) -> str:
    """SQL for an instant as whole microseconds after the window's start ($2): what the fast
    path reads (``plain_args`` adds the start back). ``date_part`` is a float8 (``extract``
    is numeric: 0.4 s more a million rows on the server, where decoding timestamps costs the
    client a microsecond each), exact to the microsecond within about 70 years of the start
    (its error is some 2.2e-10 of the distance in seconds)."""
    return f"(date_part('epoch', {instant} - $2) * 1000000)::int8"


_PLAIN: Final = """
    p.id AS id, p.test_cohort AS cohort, coalesce(s.first_dose_at <= $1, false) AS vaccinated,
    p.high_risk AS high_risk, UNTIL AS high_risk_until,
    p.hire_date - DATE '1970-01-01' AS hire_day, LAST_AT AS last_at,
    SPECIAL AS special""".replace("UNTIL", relative_micros("p.high_risk_until")).replace(
    "LAST_AT", relative_micros("(" + _LAST_AT + ")")
)

# The same for one person or one enterprise: the results read through the person's index
# entries only when ``s`` does not answer (a subquery in a CASE branch runs only if taken).
_UNTIL: Final = "r.collected_at <= $1 AND r.result <> 'INVALID'"
_LAST_BY_PERSON: Final = "(SELECT max(r.collected_at) FROM test_result r WHERE r.person_id = p.id AND UNTIL)".replace(
    "UNTIL", _UNTIL
)
_POSITIVE_BY_PERSON: Final = (
    "(SELECT bool_or(r.result = 'POSITIVE') FROM test_result r WHERE r.person_id = p.id AND UNTIL)".replace(
        "UNTIL", _UNTIL
    )
)
# The results the general rules read: the window, and everything since the latest positive
# (it stands until a later individual negative PCR, however old); when the roll-up does not
# answer (something after ``as_of``), everything by ``as_of``.
# One lower bound, so the person's index entries are read as one range.
_HISTORY: Final = (
    "r.collected_at > CASE WHEN "
    + _exact("s")
    + " THEN least($2, s.last_positive_at - interval '1 microsecond') ELSE '-infinity'::timestamptz END"
    " AND r.collected_at <= $1 AND r.result <> 'INVALID'"
)
# What the fast path reads of each person, and whether it may (see ``PersonColumns``).
PLAIN_COLUMNS: Final = _with_results(_PLAIN, _LAST_BY_PERSON, _POSITIVE_BY_PERSON)


# A person's declarations, travels and positive pools within the window, each an ``item``
# record as the rules read it (``rules.PersonFacts``); add ``AND <person condition>``.
# A traced contact (issue 14) reads as a declared contact at the moment of tracing, with its
# case (``rules.Declaration.case_id``).
def _declarations(person: str) -> str:
    """``person``: a condition on ``{pid}``."""
    return (
        (
            """SELECT h.person_id,
        (h.declared_at, h.symptoms::text[], h.contact_with_confirmed_case, NULL::uuid)::record AS item
        FROM health_declaration h WHERE h.declared_at > $2 AND h.declared_at <= $1 AND H_PERSON
        UNION ALL
        SELECT c.person_id, (c.traced_at, ARRAY[]::text[], true, c.case_id)::record
        FROM contact c WHERE c.traced_at > $2 AND c.traced_at <= $1 AND C_PERSON"""
        )
        .replace("H_PERSON", person.replace("{pid}", "h.person_id"))
        .replace("C_PERSON", person.replace("{pid}", "c.person_id"))
    )


_TRAVELS: Final = """SELECT v.person_id,
        (v.returned_at, v.destination_province::text, v.returned_to_boarding_house, v.to_home_town)::record AS item
        FROM travel v WHERE v.returned_at > $2 AND v.returned_at <= $1"""
_POSITIVE_POOLS: Final = """SELECT m.person_id, (pl.collected_at, pl.resulted_at)::record AS item
        FROM pool_member m JOIN pool pl ON pl.id = m.pool_id
        WHERE pl.result = 'POSITIVE' AND pl.collected_at > $2 AND pl.resulted_at <= $1"""

# ... then the history (results as records of collection time and code, dose 1, declarations,
# travels, positive pools), only for a person who is not plain (or, for the last three, who may
# have some: the roll-up's bound). ``SPECIAL`` is where the statement has whether the person is
# plain (``PERSON_COLUMNS``: ``k`` of ``_ONCE``; ``_PROVINCE_COLUMNS``: the expression itself,
# ``_ONCE`` would make the planner probe the roll-up person by person), ``CONTACTED`` whether
# they were traced as a contact (by person, or from the province's set ``ct``).
_PERSON_COLUMNS: Final = _with_results(
    (
        PLAIN_COLUMNS  # noqa: S608 - fixed fragments
        + """,
    CASE WHEN SPECIAL THEN (
        SELECT array_agg((r.collected_at, CODE)) FROM test_result r WHERE r.person_id = p.id AND HISTORY
    ) END AS results,
    CASE WHEN SPECIAL THEN s.first_dose_at END AS first_dose_at,
    p.arrived_at AS arrived_at, p.arrived_from_province AS arrived_from_province,
    CASE WHEN s.last_declared_at > $2 OR CONTACTED THEN (
        SELECT array_agg(x.item) FROM (DECLARATIONS) x
    ) END AS declarations,
    CASE WHEN s.last_returned_at > $2 THEN (
        SELECT array_agg(x.item) FROM (TRAVELS AND v.person_id = p.id) x
    ) END AS travels,
    CASE WHEN s.last_positive_pool_at > $2 THEN (
        SELECT array_agg(x.item) FROM (POSITIVE_POOLS AND m.person_id = p.id) x
    ) END AS pools
"""
    )
    .replace("DECLARATIONS", _declarations("{pid} = p.id"))
    .replace("TRAVELS", _TRAVELS)
    .replace("POSITIVE_POOLS", _POSITIVE_POOLS)
    .replace("CODE", _CODE)
    .replace("HISTORY", _HISTORY),
    _LAST_BY_PERSON,
    _POSITIVE_BY_PERSON,
    "CONTACTED",  # per person, or as a set: below
)
PERSON_COLUMNS: Final = _PERSON_COLUMNS.replace("SPECIAL", "k.special").replace("CONTACTED", _CONTACTED_BY_PERSON)

# For a few people: each person's roll-up row through its key (a join the planner would hash,
# scanning every row: ``PER_PERSON`` rules that out), then whether they are plain.
_BY_PERSON: Final = (
    "\nLEFT JOIN LATERAL ("  # noqa: S608 - fixed fragments
    + """
    SELECT x.last_result_at, x.last_positive_at, x.first_dose_at, x.last_declared_at, x.last_returned_at,
           x.last_positive_pool_at
    FROM person_rollup x WHERE x.person_id = p.id
) s ON true"""
    + _with_results(_ONCE, _LAST_BY_PERSON, _POSITIVE_BY_PERSON)
)

# $4 = the enterprise. Its active roster with what the list shows beside each person.
ENTERPRISE_PEOPLE_SQL: Final = (
    "SELECT p.employee_code, p.full_name,"
    + PERSON_COLUMNS
    + "FROM person p"
    + _BY_PERSON
    + "WHERE p.enterprise_id = $4 AND p.status = 'active'"
)

# $4 = the person, whatever their status.
PERSON_SQL: Final = (
    "SELECT p.enterprise_id, p.status," + PERSON_COLUMNS + "FROM person p" + _BY_PERSON + "WHERE p.id = $4"
)

# A province's (or district's) active people in a range of person ids: $4 <= id < $5 (NULL: no
# bound), enterprises filtered by $6 = district and $7 = zone type (NULL: any). The roll-up rows
# are hash-joined; the results are read (through the person's index entries) only for the people
# whose roll-up does not answer (none, as of now), and the history only for the people who are
# not plain (about one in twenty), in the same statement. Three levels, each computed once a row
# (``OFFSET 0``: not flattened, which would repeat an expression wherever the next level reads
# it): ``a`` the person, their roll-up row and whether it answers (``exact``); ``b`` their
# latest test and whether they are plain; then the enterprise and ``PERSON_COLUMNS``' values.
_IN_RANGE: Final = "($4::uuid IS NULL OR {pid} >= $4) AND ($5::uuid IS NULL OR {pid} < $5)"
_UNTIL_A: Final = "r.person_id = a.id AND r.collected_at <= $1 AND r.result <> 'INVALID'"
PROVINCE_SQL: Final = (
    """
SELECT b.enterprise_id, b.id, b.test_cohort AS cohort, coalesce(b.first_dose_at <= $1, false) AS vaccinated,
    b.high_risk, """  # noqa: S608 - fixed fragments
    + relative_micros("b.high_risk_until")
    + """ AS high_risk_until, b.hire_date - DATE '1970-01-01' AS hire_day,
    """
    + relative_micros("b.last_at")
    + """ AS last_at, b.special,
    CASE WHEN b.special THEN (
        SELECT array_agg((r.collected_at, """
    + _CODE
    + """)) FROM test_result r
        WHERE r.person_id = b.id AND r.collected_at <= $1 AND r.result <> 'INVALID' AND r.collected_at >
            CASE WHEN b.exact THEN least($2, b.last_positive_at - interval '1 microsecond')
                 ELSE '-infinity'::timestamptz END
    ) END AS results,
    CASE WHEN b.special THEN b.first_dose_at END AS first_dose_at,
    b.arrived_at, b.arrived_from_province,
    CASE WHEN b.last_declared_at > $2 OR b.contacted THEN (
        SELECT array_agg(x.item) FROM ("""
    + _declarations("{pid} = b.id")
    + """) x
    ) END AS declarations,
    CASE WHEN b.last_returned_at > $2 THEN (
        SELECT array_agg(x.item) FROM ("""
    + _TRAVELS
    + """ AND v.person_id = b.id) x
    ) END AS travels,
    CASE WHEN b.last_positive_pool_at > $2 THEN (
        SELECT array_agg(x.item) FROM ("""
    + _POSITIVE_POOLS
    + """ AND m.person_id = b.id) x
    ) END AS pools
FROM (
    SELECT a.*,
        CASE WHEN a.exact THEN a.last_result_at
             ELSE (SELECT max(r.collected_at) FROM test_result r WHERE """
    + _UNTIL_A
    + """) END AS last_at,
        (CASE WHEN a.exact THEN a.last_positive_at IS NOT NULL
              ELSE coalesce((SELECT bool_or(r.result = 'POSITIVE') FROM test_result r WHERE """
    + _UNTIL_A
    + """), false) END
         OR coalesce(a.last_declared_at > $2 OR a.last_returned_at > $2 OR a.last_positive_pool_at > $2
                     OR a.contacted, false)
         OR coalesce(a.arrived_at > $3, false)) AS special
    FROM (
        SELECT p.enterprise_id, p.id, p.test_cohort, p.high_risk, p.high_risk_until, p.hire_date, p.arrived_at,
            p.arrived_from_province, s.last_result_at, s.last_positive_at, s.first_dose_at, s.last_declared_at,
            s.last_returned_at, s.last_positive_pool_at, ct.person_id IS NOT NULL AS contacted,
            """
    + _exact("s")
    + """ AS exact
        FROM person p
        JOIN enterprise e ON e.id = p.enterprise_id
        LEFT JOIN person_rollup s ON s.person_id = p.id AND """
    + _IN_RANGE.replace("{pid}", "s.person_id")
    + """
        LEFT JOIN (
            SELECT DISTINCT c.person_id FROM contact c WHERE c.traced_at > $2 AND """
    + _IN_RANGE.replace("{pid}", "c.person_id")
    + """
        ) ct ON ct.person_id = p.id
        WHERE p.status = 'active' AND """
    + _IN_RANGE.replace("{pid}", "p.id")
    + """ AND ($6::text IS NULL OR e.district = $6) AND ($7::text IS NULL OR e.zone_type = $7)
        OFFSET 0
    ) a
    OFFSET 0
) b
"""
)

# The same people with the plain ones counted in groups: a plain person's status depends only on
# the cell ``DueRules.plain_cell`` puts them in (their enterprise, half, dose 1, start day, and
# where their latest test falls: its local day and its side of each cut), so the database counts
# each cell and the rules are applied once per cell, to its earliest latest test. Kept one row a
# person (``id`` set): the people who are not plain (their arrival follows), the high-risk (a
# cut of their own: the end of their flag) and the people of enterprises drawing rotating
# samples ($11: whether one is picked depends on who they are). The people are read once (the
# CTE, in memory under ``BULK_SETTINGS``' work_mem): a narrow key for the cells costs the
# server less than one wide enough to carry the others through the same aggregate. $8 = the
# version's first day (days since 1970-01-01: an earlier hire day starts there), $9 = from the
# local midnight days are counted from (long before any test) to the window's start, and $10 =
# the cuts (sorted) after the window's start, in microseconds. Columns: ``GroupColumns``.
PROVINCE_GROUPS_SQL: Final = (
    "WITH q AS MATERIALIZED ("  # noqa: S608 - fixed fragments
    + """
    SELECT r.*, (r.special OR r.high_risk OR r.enterprise_id = ANY($11::uuid[])) AS single
    FROM ("""
    + PROVINCE_SQL
    + """) r
)
SELECT q.enterprise_id, q.id, q.cohort, q.vaccinated, q.high_risk, q.high_risk_until, q.hire_day, q.last_at, q.special,
       q.results, q.first_dose_at, q.arrived_at, q.arrived_from_province, q.declarations, q.travels, q.pools, 1
FROM q WHERE q.single
UNION ALL
SELECT g.enterprise_id, NULL, g.cohort, g.vaccinated, false, NULL, g.hire_day, min(g.last_at), false,
       NULL, NULL, NULL, NULL, NULL, NULL, NULL, count(*)::int4
FROM (
    SELECT q.enterprise_id, q.cohort, q.vaccinated, greatest(q.hire_day, $8) AS hire_day, q.last_at,
           (q.last_at + $9) / 86400000000 AS day, width_bucket(q.last_at, $10::int8[]) AS cut
    FROM q WHERE NOT q.single
) g
GROUP BY g.enterprise_id, g.cohort, g.vaccinated, g.hire_day, g.day, g.cut
"""
)


# Enterprises in scope with the size of their active roster. $1 = district, $2 = zone type.
ENTERPRISES_SQL: Final = """
SELECT e.id, e.name, e.district, e.zone_type, e.industry, e.operating_status, coalesce(n.people, 0), e.zone_name
FROM enterprise e
LEFT JOIN (
    SELECT enterprise_id, count(*) AS people FROM person WHERE status = 'active' GROUP BY enterprise_id
) n ON n.enterprise_id = e.id
WHERE ($1::text IS NULL OR e.district = $1) AND ($2::text IS NULL OR e.zone_type = $2)
ORDER BY e.id
"""

# $2: also count the active roster (else 0: a caller that reads the people counts them).
ENTERPRISE_SQL: Final = """
SELECT e.id, e.name, e.district, e.zone_type, e.industry, e.operating_status,
       CASE WHEN $2 THEN (SELECT count(*) FROM person p WHERE p.enterprise_id = e.id AND p.status = 'active')
            ELSE 0 END,
       e.zone_name
FROM enterprise e WHERE e.id = $1
"""

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

# The active rosters of the enterprises that draw rotating samples, each as its people's ids
# one after another in the sample order (``rules.roster_bytes``, ``rules.sample_order_key``:
# the same SHA-256, compared as bytes), so nothing is decoded or sorted per person. $1 = their ids.
ROSTERS_SQL: Final = """
SELECT enterprise_id,
       string_agg(uuid_send(id), ''::bytea ORDER BY sha256(uuid_send(enterprise_id) || uuid_send(id))) AS ids
FROM person WHERE enterprise_id = ANY($1::uuid[]) AND status = 'active'
GROUP BY enterprise_id
"""

# The same rows each statement reads, scanned once with nothing computed: the references the
# benchmark prints beside the full computations.
PROVINCE_SCAN_SQL: Final = """
SELECT count(*), max(r.collected_at)
FROM person p
JOIN enterprise e ON e.id = p.enterprise_id
LEFT JOIN test_result r ON r.person_id = p.id AND r.collected_at > $2 AND r.collected_at <= $1
WHERE p.status = 'active'
"""

ENTERPRISE_SCAN_SQL: Final = """
SELECT count(*), max(r.collected_at)
FROM person p
LEFT JOIN test_result r ON r.person_id = p.id AND r.collected_at > $2 AND r.collected_at <= $1
WHERE p.enterprise_id = $3 AND p.status = 'active'
"""


class PersonColumns:
    """Positions within ``PERSON_COLUMNS`` (add the statement's leading columns); the first
    eight are ``PLAIN_COLUMNS``."""

    ID: Final = 0
    COHORT: Final = 1
    VACCINATED: Final = 2
    HIGH_RISK: Final = 3
    HIGH_RISK_UNTIL: Final = 4  # microseconds after the window's start (``relative_micros``)
    HIRE_DAY: Final = 5  # days since 1970-01-01
    LAST_AT: Final = 6  # the same  # microseconds
    SPECIAL: Final = 7  # not plain: the columns below are read
    RESULTS: Final = 8
    FIRST_DOSE_AT: Final = 9
    ARRIVED_AT: Final = 10
    ARRIVED_FROM: Final = 11
    DECLARATIONS: Final = 12
    TRAVELS: Final = 13
    POOLS: Final = 14


class GroupColumns:
    """Positions within ``PROVINCE_GROUPS_SQL``: the enterprise, then ``PERSON_COLUMNS`` (for a
    cell: the id None, its latest test the earliest of the cell's, no history), then how many
    people the row counts."""

    ENTERPRISE: Final = 0
    PERSON: Final = 1
    SPECIAL: Final = PERSON + PersonColumns.SPECIAL
    PEOPLE: Final = PERSON + PersonColumns.POOLS + 1


_EPOCH_ORDINAL: Final = date(1970, 1, 1).toordinal()


def plain_args(row: Sequence[Any], at: int, since_us: int) -> tuple[Any, ...]:
    """The arguments of ``DueRules.plain``/``plain_status`` after the plan: id, cohort,
    vaccinated, high-risk, high-risk until, hire day, latest result (instants in microseconds;
    ``since_us``: the window's start, which the statement counts them from)."""
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


def facts(row: Sequence[Any], at: int, since_us: int) -> PersonFacts:
    """A not-plain person's PersonFacts from the columns starting at ``at``."""
    c = PersonColumns
    results = row[at + c.RESULTS]
    until = row[at + c.HIGH_RISK_UNTIL]
    hire_day = row[at + c.HIRE_DAY]
    return PersonFacts(
        row[at + c.ID],
        row[at + c.COHORT],
        row[at + c.FIRST_DOSE_AT],
        row[at + c.HIGH_RISK],
        None if until is None else from_micros(until + since_us),
        None if hire_day is None else date.fromordinal(hire_day + _EPOCH_ORDINAL),
        row[at + c.ARRIVED_AT],
        row[at + c.ARRIVED_FROM],
        Results([r[0] for r in results], [r[1] for r in results]) if results else Results(),
        row[at + c.DECLARATIONS] or (),
        row[at + c.TRAVELS] or (),
        row[at + c.POOLS] or (),
        None if row[at + c.LAST_AT] is None else from_micros(row[at + c.LAST_AT] + since_us),
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


async def driver_connection(session: AsyncSession) -> Any:
    """The asyncpg connection under the session, inside the session's (read-only) transaction:
    SQLAlchemy begins it lazily, so begin it now if nothing has run yet."""
    conn = await session.connection()
    raw = await conn.get_raw_connection()
    driver: Any = raw.driver_connection
    if not driver.is_in_transaction():
        await conn.exec_driver_sql("SELECT 1")
    return driver


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


def _enterprise(row: Any) -> EnterpriseRow:
    return EnterpriseRow(
        row["id"],
        row["name"],
        row["district"],
        row["zone_type"],
        row["industry"],
        row["operating_status"],
        row[6],
        row["zone_name"],
    )


async def get_enterprise(
    session: AsyncSession, enterprise_id: uuid.UUID, *, roster_size: bool = False
) -> EnterpriseRow | None:
    conn = await driver_connection(session)
    row = await conn.fetchrow(ENTERPRISE_SQL, enterprise_id, roster_size)
    return None if row is None else _enterprise(row)


async def list_enterprises(session: AsyncSession, district: str | None, zone_type: str | None) -> list[EnterpriseRow]:
    """Enterprises in scope, by id, with their active roster sizes: one statement."""
    conn = await driver_connection(session)
    return [_enterprise(r) for r in await conn.fetch(ENTERPRISES_SQL, district, zone_type)]


async def enterprise_people(
    session: AsyncSession, enterprise_id: uuid.UUID, as_of: datetime, since: datetime, arrivals_after: datetime | None
) -> list[Any]:
    """Every active person of one enterprise: employee code, full name, then
    ``PERSON_COLUMNS``. One statement."""
    conn = await driver_connection(session)
    await conn.execute(PER_PERSON)
    rows: list[Any] = await conn.fetch(ENTERPRISE_PEOPLE_SQL, as_of, since, arrivals_after, enterprise_id)
    return rows


async def person(
    session: AsyncSession, person_id: uuid.UUID, as_of: datetime, since: datetime, arrivals_after: datetime | None
) -> Any:
    """One person, whatever their status: enterprise id, status, then ``PERSON_COLUMNS``."""
    conn = await driver_connection(session)
    await conn.execute(PER_PERSON)
    return await conn.fetchrow(PERSON_SQL, as_of, since, arrivals_after, person_id)


async def rosters(session: AsyncSession, enterprise_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, bytes]:
    """The active people of each enterprise (the population a rotating sample is drawn from),
    as ``rules.roster_bytes``."""
    out: dict[uuid.UUID, bytes] = dict.fromkeys(enterprise_ids, b"")
    if enterprise_ids:
        conn = await driver_connection(session)
        for row in await conn.fetch(ROSTERS_SQL, list(enterprise_ids)):
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
    """How ``PROVINCE_GROUPS_SQL`` groups the plain people (``DueRules.plain_cell``): the
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
) -> AsyncGenerator[list[Any], None]:
    """A share's people, the plain ones by cell (``PROVINCE_GROUPS_SQL``, ``GroupColumns``), in
    batches from a server-side cursor, on ``conn`` inside its transaction: memory holds a batch
    or two, whatever the province's size. ``serial``: no parallel workers (the shares already
    run side by side)."""
    await conn.execute(BULK_SETTINGS)
    if serial:
        await conn.execute(SERIAL)
    cursor = await conn.cursor(
        PROVINCE_GROUPS_SQL,
        as_of,
        since,
        arrivals_after,
        share.low,
        share.high,
        share.district,
        share.zone_type,
        cells.floor_day,
        cells.shift_us,
        list(cells.cuts_us),
        list(cells.singles),
    )
    # The next batch is requested before this one is handed over, so the database produces it
    # while the caller works on this one.
    pending = asyncio.ensure_future(cursor.fetch(batch))
    try:
        while True:
            rows = await pending
            if not rows:
                return
            pending = asyncio.ensure_future(cursor.fetch(batch))
            await asyncio.sleep(0)  # let the request go out first
            yield rows
    finally:
        if not pending.done():
            await pending  # leave the connection idle for the rest of the transaction


# The sampling ratios districts set (the registry's ``district_ratio``), read with SQLAlchemy Core.
_district_ratio = sa.table(
    "district_ratio",
    sa.column("district", sa.String),
    sa.column("kind", sa.String),
    sa.column("ratio", sa.Numeric),
    sa.column("effective_from", sa.Date),
    sa.column("set_by", sa.String),
    sa.column("set_at", sa.DateTime(timezone=True)),
)


async def district_ratios(session: AsyncSession, kind: str, day: date) -> dict[str, DistrictRatio]:
    """Each district's ratio of ``kind`` in force on ``day``: the setting with the latest date on
    or before the day (of two from one date, the later made). Like a policy version, a setting
    applies from its date, whenever it was recorded."""
    r = _district_ratio.c
    stmt = (
        sa.select(r.district, r.ratio, r.effective_from, r.set_by)
        .where(r.kind == kind, r.effective_from <= day)
        .order_by(r.district, r.effective_from.desc(), r.set_at.desc())
        .ext(distinct_on(r.district))
    )
    rows = (await session.execute(stmt)).mappings()
    return {row["district"]: DistrictRatio(float(row["ratio"]), row["set_by"], row["effective_from"]) for row in rows}
