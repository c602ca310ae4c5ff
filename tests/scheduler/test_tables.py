"""The scheduler's mirror of the registry's tables (``safework_scheduler.tables``) matches the
registry's own metadata: every mirrored table and column exists there with the same type and
nullability, so renaming or retyping a registry column the scheduler reads fails here, not in
a request."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

from safework_registry.models import metadata as registry_metadata
from safework_scheduler import tables
from safework_scheduler.compliance import repository as compliance
from safework_scheduler.due import repository

_PG = postgresql.dialect()  # type: ignore[no-untyped-call]


def mismatches(mirror: sa.MetaData, source: sa.MetaData) -> list[str]:
    """What in ``mirror`` differs from ``source``: a missing table or column, another type or
    nullability."""
    found: list[str] = []
    for name, table in mirror.tables.items():
        theirs = source.tables.get(name)
        if theirs is None:
            found.append(f"{name}: no such table")
            continue
        for column in table.c:
            other = theirs.c.get(column.name)
            if other is None:
                found.append(f"{name}.{column.name}: no such column")
                continue
            ours_type, their_type = column.type.compile(dialect=_PG), other.type.compile(dialect=_PG)
            if ours_type != their_type:
                found.append(f"{name}.{column.name}: {ours_type}, the registry's is {their_type}")
            if column.nullable != other.nullable:
                found.append(f"{name}.{column.name}: nullable {column.nullable}, the registry's {other.nullable}")
    return found


def test_the_mirror_matches_the_registry() -> None:
    assert tables.MIRROR.tables, "the mirror declares no table"
    assert mismatches(tables.MIRROR, registry_metadata) == []


def test_a_renamed_or_retyped_registry_column_is_caught() -> None:
    """The check itself: a registry whose ``person.test_cohort`` was renamed, whose
    ``enterprise.district`` was widened and whose ``contact`` table is gone fails it."""
    changed = sa.MetaData()
    for table in registry_metadata.tables.values():
        if table.name == "contact":
            continue
        columns = []
        for column in table.c:
            name, type_ = column.name, column.type
            if (table.name, name) == ("person", "test_cohort"):
                name = "cohort"
            if (table.name, name) == ("enterprise", "district"):
                type_ = sa.String(128)
            columns.append(sa.Column(name, type_, nullable=column.nullable))
        sa.Table(table.name, changed, *columns)
    assert mismatches(tables.MIRROR, changed) == [
        "enterprise.district: VARCHAR(64), the registry's is VARCHAR(128)",
        "person.test_cohort: no such column",
        "contact: no such table",
    ]


def test_the_statements_read_only_mirrored_tables() -> None:
    """Every table the due and compliance statements name is one the mirror declares (so the
    check above covers it): the SQL compiled from them names no other registry table."""
    statements = [
        compliance.COMPLIANCE,
        repository.PROVINCE_GROUPS,
        repository.ENTERPRISE_PEOPLE,
        repository.PERSON,
        repository.ENTERPRISES,
        repository.ENTERPRISE,
        repository.ROSTERS,
    ]
    others = set(registry_metadata.tables) - set(tables.MIRROR.tables)
    for statement in statements:
        named = {word for word in statement.sql.replace("(", " ").split() if word in registry_metadata.tables}
        assert named <= set(tables.MIRROR.tables)
        assert not named & others
