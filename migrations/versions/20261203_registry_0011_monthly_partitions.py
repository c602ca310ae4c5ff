"""test_result and checkin partitioned by month (declarative range partitioning)

The two tables that grow with every test and every gate scan become range-partitioned by month of
``collected_at`` / ``checked_in_at`` (``safework_registry.partitions``), with a default partition
so no insert ever fails. PostgreSQL wants the partition key in every unique key:

- ``test_result``: primary key ``(id, collected_at)``; the lab's idempotency key's index is
  ``(lab_id, sample_id, collected_at)``, and ``(lab_id, sample_id)`` stays unique in a narrow
  unpartitioned ``test_result_sample`` kept by statement triggers (the one index ingest's
  look-ups by sample ID read, instead of probing every partition's);
  ``outbreak_case``'s reference becomes ``(result_id, collected_at)`` (the case's
  ``collected_at`` is its result's) with ``ON DELETE SET NULL (result_id)``;
- ``checkin``: primary key ``(id, checked_in_at)``; nothing references it.

The rows already there are copied into the new tables (a partition for every month they cover,
and the current month and two ahead), identities continue after them, and the roll-up's three
statement triggers are made again on the new ``test_result`` (they fire on the partitioned table
for every partition). The downgrade copies back into plain tables.

Revision ID: registry_0011
Revises: registry_0010
Create Date: 2026-12-03 23:00:00+07:00
"""

from collections.abc import Sequence
from datetime import date, datetime, timedelta
from itertools import pairwise
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from alembic import op

revision: str = "registry_0011"
down_revision: str | Sequence[str] | None = "registry_0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TZ = ZoneInfo("Asia/Ho_Chi_Minh")
MONTHS_AHEAD = 2  # as safework_registry.partitions.ensure_partitions' default

# table -> (partition key, the indexes besides the keys)
TABLES = {
    "test_result": (
        "collected_at",
        {
            "ix_test_result_person_id_collected_at": ["person_id", "collected_at"],
            "ix_test_result_pool_id": ["pool_id"],
            "ix_test_result_received_at": ["received_at"],
        },
    ),
    "checkin": (
        "checked_in_at",
        {
            # INCLUDE (person_id): registry_0010 (tracing reads it index-only).
            "ix_checkin_venue_id_checked_in_at": ["venue_id", "checked_in_at", "+person_id"],
            "ix_checkin_person_id_checked_in_at": ["person_id", "checked_in_at"],
        },
    ),
}

ROLLUP_TRIGGERS = (
    (
        "person_rollup_test_result_insert",
        "AFTER INSERT ON test_result REFERENCING NEW TABLE AS new_rows "
        "FOR EACH STATEMENT EXECUTE FUNCTION person_rollup_results_inserted()",
    ),
    (
        "person_rollup_test_result_update",
        "AFTER UPDATE ON test_result REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows "
        "FOR EACH STATEMENT EXECUTE FUNCTION person_rollup_rows_updated()",
    ),
    (
        "person_rollup_test_result_delete",
        "AFTER DELETE ON test_result REFERENCING OLD TABLE AS old_rows "
        "FOR EACH STATEMENT EXECUTE FUNCTION person_rollup_rows_deleted('collected_at', 'last_result_at')",
    ),
)


def _timestamps() -> list[sa.Column]:
    return [
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
    ]


def _test_result(partitioned: bool) -> None:
    keys = ("id", "collected_at") if partitioned else ("id",)
    unique = ("lab_id", "sample_id", "collected_at") if partitioned else ("lab_id", "sample_id")
    op.create_table(
        "test_result",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("person_id", sa.UUID(), nullable=False),
        sa.Column("lab_id", sa.UUID(), nullable=False),
        sa.Column("sample_id", sa.String(length=80), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("collected_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("resulted_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("result", sa.String(length=16), nullable=False),
        sa.Column("pooled", sa.Boolean(), server_default=sa.text("false"), nullable=False),
        sa.Column("pool_id", sa.BigInteger(), nullable=True),
        sa.Column("received_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        *_timestamps(),
        sa.CheckConstraint("kind IN ('PCR', 'RAPID_ANTIGEN')", name=op.f("ck_test_result_kind")),
        sa.CheckConstraint("result IN ('NEGATIVE', 'POSITIVE', 'INVALID')", name=op.f("ck_test_result_result")),
        sa.CheckConstraint("resulted_at >= collected_at", name=op.f("ck_test_result_resulted_after_collected")),
        sa.ForeignKeyConstraint(["lab_id"], ["lab.id"], name=op.f("fk_test_result_lab_id_lab"), ondelete="RESTRICT"),
        sa.ForeignKeyConstraint(
            ["person_id"], ["person.id"], name=op.f("fk_test_result_person_id_person"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(["pool_id"], ["pool.id"], name=op.f("fk_test_result_pool_id_pool"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint(*keys, name=op.f("pk_test_result")),
        sa.UniqueConstraint(*unique, name=op.f("uq_test_result_" + "_".join(unique))),
        **({"postgresql_partition_by": "RANGE (collected_at)"} if partitioned else {}),
    )


def _checkin(partitioned: bool) -> None:
    keys = ("id", "checked_in_at") if partitioned else ("id",)
    op.create_table(
        "checkin",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("person_id", sa.UUID(), nullable=False),
        sa.Column("venue_id", sa.UUID(), nullable=False),
        sa.Column("checked_in_at", sa.DateTime(timezone=True), nullable=False),
        *_timestamps(),
        sa.ForeignKeyConstraint(
            ["person_id"], ["person.id"], name=op.f("fk_checkin_person_id_person"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(["venue_id"], ["venue.id"], name=op.f("fk_checkin_venue_id_venue"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint(*keys, name=op.f("pk_checkin")),
        **({"postgresql_partition_by": "RANGE (checked_in_at)"} if partitioned else {}),
    )


def _month_starts(first: datetime | None) -> list[datetime]:
    """The 1st, 00:00 province time, of every month from ``first``'s (or this one) to two months
    after this one, and the 1st after those."""
    today = datetime.now(TZ).date()
    start = (first.astimezone(TZ).date() if first is not None else today).replace(day=1)
    start = min(start, today.replace(day=1))
    last = today.replace(day=1)
    for _ in range(MONTHS_AHEAD + 1):
        last = (last + timedelta(days=32)).replace(day=1)
    out: list[date] = []
    d = start
    while d <= last:
        out.append(d)
        d = (d + timedelta(days=32)).replace(day=1)
    return [datetime(d.year, d.month, 1, tzinfo=TZ) for d in out]


def _convert(table: str, partitioned: bool) -> None:
    """Copy ``table`` into a new one made by ``_test_result``/``_checkin`` (partitioned or not),
    keeping every row and the identity's next value."""
    key, indexes = TABLES[table]
    old = f"{table}_before_0011"
    names = (
        [f"pk_{table}"]
        + list(indexes)
        + (
            ["uq_test_result_lab_id_sample_id", "uq_test_result_lab_id_sample_id_collected_at"]
            if table == "test_result"
            else []
        )
    )
    op.execute(f"ALTER TABLE {table} RENAME TO {old}")
    for name in names:
        op.execute(f"ALTER INDEX IF EXISTS {name} RENAME TO {name}_0011")
    op.execute(f"ALTER SEQUENCE {table}_id_seq RENAME TO {old}_id_seq")
    (_test_result if table == "test_result" else _checkin)(partitioned)
    for name, columns in indexes.items():
        keys = [c for c in columns if not c.startswith("+")]
        include = [c[1:] for c in columns if c.startswith("+")]
        op.create_index(name, table, keys, unique=False, **({"postgresql_include": include} if include else {}))
    if partitioned:
        first = op.get_bind().execute(sa.text(f"SELECT min({key}) FROM {old}")).scalar()  # noqa: S608
        op.execute(f"CREATE TABLE {table}_default PARTITION OF {table} DEFAULT")
        starts = _month_starts(first)
        for lo, hi in pairwise(starts):
            op.execute(
                f"CREATE TABLE {table}_y{lo.year:04d}m{lo.month:02d} PARTITION OF {table} "
                f"FOR VALUES FROM ('{lo.isoformat()}') TO ('{hi.isoformat()}')"
            )
    op.execute(f"INSERT INTO {table} SELECT * FROM {old}")  # noqa: S608 - fixed names
    op.execute(
        f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), coalesce(max(id), 0) + 1, false) FROM {table}"  # noqa: S608
    )
    op.execute(f"DROP TABLE {old}")


def _rollup_triggers() -> None:
    for name, body in ROLLUP_TRIGGERS:
        op.execute(f"CREATE TRIGGER {name} {body}")
        op.execute(f"ALTER TABLE test_result ENABLE ALWAYS TRIGGER {name}")


# test_result_sample: the idempotency key unpartitioned, kept by statement triggers.
SAMPLE_FUNCTIONS = (
    """CREATE FUNCTION test_result_sample_inserted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO test_result_sample (lab_id, sample_id, collected_at)
    SELECT n.lab_id, n.sample_id, n.collected_at FROM new_rows n ORDER BY 1, 2;
    RETURN NULL;
END $$""",
    """CREATE FUNCTION test_result_sample_deleted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM test_result_sample s USING old_rows o
    WHERE s.lab_id = o.lab_id AND s.sample_id = o.sample_id AND s.collected_at = o.collected_at;
    RETURN NULL;
END $$""",
    """CREATE FUNCTION test_result_sample_updated() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM test_result_sample s USING old_rows o
    WHERE s.lab_id = o.lab_id AND s.sample_id = o.sample_id AND s.collected_at = o.collected_at;
    INSERT INTO test_result_sample (lab_id, sample_id, collected_at)
    SELECT n.lab_id, n.sample_id, n.collected_at FROM new_rows n ORDER BY 1, 2;
    RETURN NULL;
END $$""",
)
SAMPLE_TRIGGERS = (
    ("test_result_sample_insert", "AFTER INSERT", "NEW TABLE AS new_rows", "test_result_sample_inserted()"),
    ("test_result_sample_delete", "AFTER DELETE", "OLD TABLE AS old_rows", "test_result_sample_deleted()"),
    (
        "test_result_sample_update",
        "AFTER UPDATE",
        "OLD TABLE AS old_rows NEW TABLE AS new_rows",
        "test_result_sample_updated()",
    ),
)


def _sample_keys() -> None:
    op.create_table(
        "test_result_sample",
        sa.Column("lab_id", sa.UUID(), nullable=False),
        sa.Column("sample_id", sa.String(length=80), nullable=False),
        sa.Column("collected_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("lab_id", "sample_id", name=op.f("pk_test_result_sample")),
    )
    op.create_index("ix_test_result_sample_collected_at", "test_result_sample", ["collected_at"], unique=False)
    op.execute(
        "INSERT INTO test_result_sample (lab_id, sample_id, collected_at) "
        "SELECT lab_id, sample_id, collected_at FROM test_result"
    )
    for sql in SAMPLE_FUNCTIONS:
        op.execute(sql)
    for name, event, transition, call in SAMPLE_TRIGGERS:
        op.execute(
            f"CREATE TRIGGER {name} {event} ON test_result REFERENCING {transition} "
            f"FOR EACH STATEMENT EXECUTE FUNCTION {call}"
        )
        op.execute(f"ALTER TABLE test_result ENABLE ALWAYS TRIGGER {name}")


def upgrade() -> None:
    op.drop_constraint("fk_outbreak_case_result_id_test_result", "outbreak_case", type_="foreignkey")
    for table in TABLES:
        _convert(table, partitioned=True)
    _rollup_triggers()
    _sample_keys()
    # A case names the result it was made from, and carries that result's collection time.
    op.execute(
        "UPDATE outbreak_case c SET result_id = NULL WHERE result_id IS NOT NULL AND NOT EXISTS "
        "(SELECT 1 FROM test_result r WHERE r.id = c.result_id AND r.collected_at = c.collected_at)"
    )
    op.create_foreign_key(
        op.f("fk_outbreak_case_result_id_test_result"),
        "outbreak_case",
        "test_result",
        ["result_id", "collected_at"],
        ["id", "collected_at"],
        ondelete="SET NULL (result_id)",
    )


def downgrade() -> None:
    for name, *_ in SAMPLE_TRIGGERS:
        op.execute(f"DROP TRIGGER {name} ON test_result")
    for function in ("test_result_sample_inserted()", "test_result_sample_deleted()", "test_result_sample_updated()"):
        op.execute(f"DROP FUNCTION {function}")
    op.drop_table("test_result_sample")
    op.drop_constraint("fk_outbreak_case_result_id_test_result", "outbreak_case", type_="foreignkey")
    for table in TABLES:
        _convert(table, partitioned=False)
    _rollup_triggers()
    op.create_foreign_key(
        op.f("fk_outbreak_case_result_id_test_result"),
        "outbreak_case",
        "test_result",
        ["result_id"],
        ["id"],
        ondelete="SET NULL",
    )
