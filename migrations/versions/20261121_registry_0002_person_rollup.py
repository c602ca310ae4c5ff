"""person_rollup: per-person latest result, latest positive and dose 1, kept by triggers

The scheduler's due computation needs, for almost every person, only the latest result, whether
any was positive, and dose 1 (``safework_registry.rollup.models``). This table holds them, kept
exact by statement-level triggers on ``test_result`` and ``dose`` for every write path (COPY
included), and filled for the rows already there.

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

# Recompute some people from the rows themselves (after an update or a delete, when a maximum
# may have gone). A person with nothing left keeps a row of NULLs; a person deleted has none.
REFRESH = """
CREATE FUNCTION person_rollup_refresh(people uuid[]) RETURNS void
LANGUAGE sql AS $$
    INSERT INTO person_rollup AS s (person_id, last_result_at, last_positive_at, first_dose_at)
    SELECT p.id,
           (SELECT max(r.collected_at) FROM test_result r WHERE r.person_id = p.id AND r.result <> 'INVALID'),
           (SELECT max(r.collected_at) FROM test_result r WHERE r.person_id = p.id AND r.result = 'POSITIVE'),
           (SELECT d.administered_at FROM dose d WHERE d.person_id = p.id AND d.dose_number = 1)
    FROM person p
    WHERE p.id = ANY(people)
    ORDER BY p.id
    ON CONFLICT (person_id) DO UPDATE
    SET last_result_at = excluded.last_result_at,
        last_positive_at = excluded.last_positive_at,
        first_dose_at = excluded.first_dose_at
    WHERE (s.last_result_at, s.last_positive_at, s.first_dose_at)
          IS DISTINCT FROM (excluded.last_result_at, excluded.last_positive_at, excluded.first_dose_at)
$$
"""

# New results can only raise the maxima: one set-based upsert from the statement's new rows.
RESULTS_INSERTED = """
CREATE FUNCTION person_rollup_results_inserted() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO person_rollup AS s (person_id, last_result_at, last_positive_at)
    SELECT n.person_id,
           max(n.collected_at) FILTER (WHERE n.result <> 'INVALID'),
           max(n.collected_at) FILTER (WHERE n.result = 'POSITIVE')
    FROM new_rows n
    WHERE n.result <> 'INVALID'
    GROUP BY n.person_id
    ORDER BY n.person_id
    ON CONFLICT (person_id) DO UPDATE
    SET last_result_at = greatest(s.last_result_at, excluded.last_result_at),
        last_positive_at = greatest(s.last_positive_at, excluded.last_positive_at)
    WHERE s.last_result_at IS DISTINCT FROM greatest(s.last_result_at, excluded.last_result_at)
       OR s.last_positive_at IS DISTINCT FROM greatest(s.last_positive_at, excluded.last_positive_at);
    RETURN NULL;
END
$$
"""

# Rows gone or changed: recompute the people whose maximum may have been one of them.
RESULTS_CHANGED = """
CREATE FUNCTION person_rollup_results_changed() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM person_rollup_refresh(array(
        SELECT DISTINCT o.person_id
        FROM old_rows o JOIN person_rollup s ON s.person_id = o.person_id
        WHERE o.collected_at >= s.last_result_at OR o.collected_at >= s.last_positive_at
    ));
    IF TG_OP = 'UPDATE' THEN
        PERFORM person_rollup_refresh(array(SELECT DISTINCT n.person_id FROM new_rows n));
    END IF;
    RETURN NULL;
END
$$
"""

DOSES_INSERTED = """
CREATE FUNCTION person_rollup_doses_inserted() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO person_rollup AS s (person_id, first_dose_at)
    SELECT n.person_id, n.administered_at
    FROM new_rows n
    WHERE n.dose_number = 1
    ORDER BY n.person_id
    ON CONFLICT (person_id) DO UPDATE
    SET first_dose_at = excluded.first_dose_at
    WHERE s.first_dose_at IS DISTINCT FROM excluded.first_dose_at;
    RETURN NULL;
END
$$
"""

DOSES_CHANGED = """
CREATE FUNCTION person_rollup_doses_changed() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'UPDATE' THEN
        PERFORM person_rollup_refresh(array(
            SELECT o.person_id FROM old_rows o WHERE o.dose_number = 1
            UNION SELECT n.person_id FROM new_rows n WHERE n.dose_number = 1
        ));
    ELSE
        PERFORM person_rollup_refresh(array(SELECT o.person_id FROM old_rows o WHERE o.dose_number = 1));
    END IF;
    RETURN NULL;
END
$$
"""

# (name, table, event, transition tables, function). Transition tables allow one event per
# trigger. ENABLE ALWAYS: they fire under session_replication_role = replica too.
TRIGGERS = (
    (
        "person_rollup_results_insert",
        "test_result",
        "INSERT",
        "NEW TABLE AS new_rows",
        "person_rollup_results_inserted",
    ),
    (
        "person_rollup_results_update",
        "test_result",
        "UPDATE",
        "OLD TABLE AS old_rows NEW TABLE AS new_rows",
        "person_rollup_results_changed",
    ),
    ("person_rollup_results_delete", "test_result", "DELETE", "OLD TABLE AS old_rows", "person_rollup_results_changed"),
    ("person_rollup_doses_insert", "dose", "INSERT", "NEW TABLE AS new_rows", "person_rollup_doses_inserted"),
    (
        "person_rollup_doses_update",
        "dose",
        "UPDATE",
        "OLD TABLE AS old_rows NEW TABLE AS new_rows",
        "person_rollup_doses_changed",
    ),
    ("person_rollup_doses_delete", "dose", "DELETE", "OLD TABLE AS old_rows", "person_rollup_doses_changed"),
)

FUNCTIONS = (
    "person_rollup_results_inserted()",
    "person_rollup_results_changed()",
    "person_rollup_doses_inserted()",
    "person_rollup_doses_changed()",
    "person_rollup_refresh(uuid[])",
)

# The rows already there, in one pass over each table.
BACKFILL = """
INSERT INTO person_rollup (person_id, last_result_at, last_positive_at, first_dose_at)
SELECT coalesce(r.person_id, d.person_id), r.last_result_at, r.last_positive_at, d.administered_at
FROM (
    SELECT person_id,
           max(collected_at) FILTER (WHERE result <> 'INVALID') AS last_result_at,
           max(collected_at) FILTER (WHERE result = 'POSITIVE') AS last_positive_at
    FROM test_result
    WHERE result <> 'INVALID'
    GROUP BY person_id
) r
FULL JOIN (SELECT person_id, administered_at FROM dose WHERE dose_number = 1) d ON d.person_id = r.person_id
"""


def upgrade() -> None:
    op.create_table(
        "person_rollup",
        sa.Column("person_id", sa.UUID(), nullable=False),
        sa.Column("last_result_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_positive_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("first_dose_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["person_id"], ["person.id"], name=op.f("fk_person_rollup_person_id_person"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("person_id", name=op.f("pk_person_rollup")),
        postgresql_with={"fillfactor": "80"},
    )
    for sql in (REFRESH, RESULTS_INSERTED, RESULTS_CHANGED, DOSES_INSERTED, DOSES_CHANGED):
        op.execute(sql)
    for name, table, event, transition, function in TRIGGERS:
        op.execute(
            f"CREATE TRIGGER {name} AFTER {event} ON {table} REFERENCING {transition} "
            f"FOR EACH STATEMENT EXECUTE FUNCTION {function}()"
        )
        op.execute(f"ALTER TABLE {table} ENABLE ALWAYS TRIGGER {name}")
    op.execute(BACKFILL)


def downgrade() -> None:
    for name, table, *_ in TRIGGERS:
        op.execute(f"DROP TRIGGER {name} ON {table}")
    for function in FUNCTIONS:
        op.execute(f"DROP FUNCTION {function}")
    op.drop_table("person_rollup")
