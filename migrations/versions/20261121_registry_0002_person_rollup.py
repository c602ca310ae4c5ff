"""person_rollup: per-person latest result, positive, dose 1, declaration, return, positive pool

The scheduler's due computation needs, for almost every person, only the latest result, whether
any was positive, dose 1, and whether anything else happened lately
(``safework_registry.rollup.models``). This table holds them, kept exact by statement-level
triggers on the source tables for every write path (COPY included), and filled for the rows
already there.

Revision ID: registry_0002
Revises: registry_0001
Create Date: 2026-11-21 15:10:00+07:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "registry_0002"
down_revision: str | Sequence[str] | None = "registry_0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# The roll-up's columns, each the maximum over all of a person's rows of one source.
COLUMNS = (
    "last_result_at",
    "last_positive_at",
    "first_dose_at",
    "last_declared_at",
    "last_returned_at",
    "last_positive_pool_at",
)
_COLS = ", ".join(COLUMNS)
_EXCLUDED = ", ".join(f"excluded.{c}" for c in COLUMNS)
_KEPT = ", ".join(f"s.{c}" for c in COLUMNS)

# Recompute some people from the rows themselves (after an update or a delete, when a maximum
# may have gone). A person with nothing left keeps a row of NULLs; a person deleted has none.
REFRESH = f"""
CREATE FUNCTION person_rollup_refresh(people uuid[]) RETURNS void
LANGUAGE sql AS $$
    INSERT INTO person_rollup AS s (person_id, {_COLS})
    SELECT p.id,
           (SELECT max(r.collected_at) FROM test_result r WHERE r.person_id = p.id AND r.result <> 'INVALID'),
           (SELECT max(r.collected_at) FROM test_result r WHERE r.person_id = p.id AND r.result = 'POSITIVE'),
           (SELECT d.administered_at FROM dose d WHERE d.person_id = p.id AND d.dose_number = 1),
           (SELECT max(h.declared_at) FROM health_declaration h WHERE h.person_id = p.id),
           (SELECT max(v.returned_at) FROM travel v WHERE v.person_id = p.id),
           (SELECT max(pl.collected_at) FROM pool_member m JOIN pool pl ON pl.id = m.pool_id
            WHERE m.person_id = p.id AND pl.result = 'POSITIVE')
    FROM person p
    WHERE p.id = ANY(people)
    ORDER BY p.id
    ON CONFLICT (person_id) DO UPDATE
    SET ({_COLS}) = ({_EXCLUDED})
    WHERE ({_KEPT}) IS DISTINCT FROM ({_EXCLUDED})
$$
"""  # noqa: S608 - fixed column names

# New rows can only raise the maxima: one set-based upsert from the statement's new rows, in
# person order. ``{select}`` yields (person_id, value, ...) for the columns ``{cols}``.
_RAISE = """
CREATE FUNCTION {name}() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO person_rollup AS s (person_id, {cols})
    {select}
    ORDER BY 1
    ON CONFLICT (person_id) DO UPDATE
    SET {sets}
    WHERE {changed};
    RETURN NULL;
END
$$
"""


def _raise(name: str, cols: tuple[str, ...], select: str) -> str:
    return _RAISE.format(
        name=name,
        cols=", ".join(cols),
        select=select,
        sets=", ".join(f"{c} = greatest(s.{c}, excluded.{c})" for c in cols),
        changed=" OR ".join(f"s.{c} IS DISTINCT FROM greatest(s.{c}, excluded.{c})" for c in cols),
    )


RAISERS = (
    _raise(
        "person_rollup_results_inserted",
        ("last_result_at", "last_positive_at"),
        """SELECT n.person_id, max(n.collected_at), max(n.collected_at) FILTER (WHERE n.result = 'POSITIVE')
    FROM new_rows n WHERE n.result <> 'INVALID' GROUP BY n.person_id""",
    ),
    # Dose 1 is one row per person (UNIQUE (person_id, dose_number)).
    _raise(
        "person_rollup_doses_inserted",
        ("first_dose_at",),
        "SELECT n.person_id, n.administered_at FROM new_rows n WHERE n.dose_number = 1",
    ),
    _raise(
        "person_rollup_declarations_inserted",
        ("last_declared_at",),
        "SELECT n.person_id, max(n.declared_at) FROM new_rows n GROUP BY n.person_id",
    ),
    _raise(
        "person_rollup_travels_inserted",
        ("last_returned_at",),
        "SELECT n.person_id, max(n.returned_at) FROM new_rows n WHERE n.returned_at IS NOT NULL GROUP BY n.person_id",
    ),
    # A pool's members are inserted after the pool, whose result is known then.
    _raise(
        "person_rollup_pool_members_inserted",
        ("last_positive_pool_at",),
        """SELECT n.person_id, max(pl.collected_at) FROM new_rows n JOIN pool pl ON pl.id = n.pool_id
    WHERE pl.result = 'POSITIVE' GROUP BY n.person_id""",
    ),
)

# Rows gone: recompute the people whose maximum may have been one of them (TG_ARGV: the
# source's time column and the roll-up column; a pool member's time is its pool's, which may be
# gone already, so any member of a positive pool). Rows changed: recompute everyone named before
# or after.
DELETED = """
CREATE FUNCTION person_rollup_rows_deleted() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_ARGV[0] = '-' THEN
        PERFORM person_rollup_refresh(array(
            SELECT DISTINCT o.person_id FROM old_rows o JOIN person_rollup s ON s.person_id = o.person_id
            WHERE s.last_positive_pool_at IS NOT NULL
        ));
    ELSE
        EXECUTE format(
            'SELECT person_rollup_refresh(array('
            '    SELECT DISTINCT o.person_id FROM old_rows o JOIN person_rollup s ON s.person_id = o.person_id'
            '    WHERE o.%1$I >= s.%2$I OR (%3$L AND o.%1$I >= s.last_positive_at)))',
            TG_ARGV[0], TG_ARGV[1], TG_TABLE_NAME = 'test_result');
    END IF;
    RETURN NULL;
END
$$
"""

UPDATED = """
CREATE FUNCTION person_rollup_rows_updated() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM person_rollup_refresh(array(
        SELECT o.person_id FROM old_rows o UNION SELECT n.person_id FROM new_rows n
    ));
    RETURN NULL;
END
$$
"""

POOLS_UPDATED = """
CREATE FUNCTION person_rollup_pools_updated() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM person_rollup_refresh(array(
        SELECT DISTINCT m.person_id FROM pool_member m WHERE m.pool_id IN (SELECT n.id FROM new_rows n)
    ));
    RETURN NULL;
END
$$
"""

# (table, its time column, the roll-up column it raises, the insert function). Transition
# tables allow one event per trigger; ENABLE ALWAYS: they fire under
# session_replication_role = replica too (a bulk load skipping foreign-key checks).
SOURCES = (
    ("test_result", "collected_at", "last_result_at", "person_rollup_results_inserted"),
    ("dose", "administered_at", "first_dose_at", "person_rollup_doses_inserted"),
    ("health_declaration", "declared_at", "last_declared_at", "person_rollup_declarations_inserted"),
    ("travel", "returned_at", "last_returned_at", "person_rollup_travels_inserted"),
    ("pool_member", "-", "last_positive_pool_at", "person_rollup_pool_members_inserted"),
)


def _triggers() -> list[tuple[str, str, str]]:
    """(name, table, CREATE TRIGGER statement)."""
    out = []
    for table, at, column, inserted in SOURCES:
        for event, transition, call in (
            ("insert", "NEW TABLE AS new_rows", f"{inserted}()"),
            ("update", "OLD TABLE AS old_rows NEW TABLE AS new_rows", "person_rollup_rows_updated()"),
            ("delete", "OLD TABLE AS old_rows", f"person_rollup_rows_deleted('{at}', '{column}')"),
        ):
            name = f"person_rollup_{table}_{event}"
            out.append(
                (
                    name,
                    table,
                    f"CREATE TRIGGER {name} AFTER {event.upper()} ON {table} REFERENCING {transition} "
                    f"FOR EACH STATEMENT EXECUTE FUNCTION {call}",
                )
            )
    name = "person_rollup_pool_update"
    out.append(
        (
            name,
            "pool",
            f"CREATE TRIGGER {name} AFTER UPDATE ON pool REFERENCING NEW TABLE AS new_rows "
            "FOR EACH STATEMENT EXECUTE FUNCTION person_rollup_pools_updated()",
        )
    )
    return out


FUNCTIONS = (
    "person_rollup_results_inserted()",
    "person_rollup_doses_inserted()",
    "person_rollup_declarations_inserted()",
    "person_rollup_travels_inserted()",
    "person_rollup_pool_members_inserted()",
    "person_rollup_rows_deleted()",
    "person_rollup_rows_updated()",
    "person_rollup_pools_updated()",
    "person_rollup_refresh(uuid[])",
)

# The rows already there: every person who has any.
BACKFILL = f"""
INSERT INTO person_rollup (person_id, {_COLS})
SELECT x.person_id, max(x.r), max(x.pos), max(x.d1), max(x.h), max(x.v), max(x.pp)
FROM (
    SELECT person_id, collected_at AS r, CASE WHEN result = 'POSITIVE' THEN collected_at END AS pos,
           NULL::timestamptz AS d1, NULL::timestamptz AS h, NULL::timestamptz AS v, NULL::timestamptz AS pp
    FROM test_result WHERE result <> 'INVALID'
    UNION ALL SELECT person_id, NULL, NULL, administered_at, NULL, NULL, NULL FROM dose WHERE dose_number = 1
    UNION ALL SELECT person_id, NULL, NULL, NULL, declared_at, NULL, NULL FROM health_declaration
    UNION ALL SELECT person_id, NULL, NULL, NULL, NULL, returned_at, NULL FROM travel WHERE returned_at IS NOT NULL
    UNION ALL SELECT m.person_id, NULL, NULL, NULL, NULL, NULL, pl.collected_at
    FROM pool_member m JOIN pool pl ON pl.id = m.pool_id WHERE pl.result = 'POSITIVE'
) x
GROUP BY x.person_id
"""  # noqa: S608 - fixed column names


def upgrade() -> None:
    op.create_table(
        "person_rollup",
        sa.Column("person_id", sa.UUID(), nullable=False),
        *(sa.Column(c, sa.DateTime(timezone=True), nullable=True) for c in COLUMNS),
        sa.ForeignKeyConstraint(
            ["person_id"], ["person.id"], name=op.f("fk_person_rollup_person_id_person"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("person_id", name=op.f("pk_person_rollup")),
        postgresql_with={"fillfactor": "80"},
    )
    for sql in (REFRESH, *RAISERS, DELETED, UPDATED, POOLS_UPDATED):
        op.execute(sql)
    for name, table, create in _triggers():
        op.execute(create)
        op.execute(f"ALTER TABLE {table} ENABLE ALWAYS TRIGGER {name}")
    op.execute(BACKFILL)


def downgrade() -> None:
    for name, table, _ in _triggers():
        op.execute(f"DROP TRIGGER {name} ON {table}")
    for function in FUNCTIONS:
        op.execute(f"DROP FUNCTION {function}")
    op.drop_table("person_rollup")
