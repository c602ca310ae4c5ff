"""canonical districts: authority clients and the clients' managing district

A district authority's token carries its client's ``district`` and a client's ``owner_district``
says which district authority manages it; both are now stored in the canonical spelling of
``safework_common.geo`` (as the registry's enterprises are), so "Huyện Việt Yên" and "Việt Yên"
are one district. Values naming no known district are left as they are: such an authority
reaches nothing until the province authority replaces its client.

Revision ID: gateway_0002
Revises: gateway_0001
Create Date: 2026-12-03 16:20:00+07:00
"""

import logging
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from safework_common.geo import canonical_district

revision: str = "gateway_0002"
down_revision: str | Sequence[str] | None = "gateway_0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

log = logging.getLogger("alembic.runtime.migration")

COLUMNS = (("gateway_client", "district"), ("gateway_client", "owner_district"))


def canonicalize(table: str, column: str) -> None:
    t = sa.table(table, sa.column(column, sa.String))
    col = t.c[column]
    bind = op.get_bind()
    unknown = 0
    for (value,) in bind.execute(sa.select(col).where(col.is_not(None)).distinct()).all():
        canonical = canonical_district(value)
        if canonical is None:
            unknown += 1
        elif canonical != value:
            bind.execute(sa.update(t).where(col == value).values({column: canonical}))
    if unknown:
        log.warning("%s.%s: %d value(s) name no known district and were left as they are", table, column, unknown)


def upgrade() -> None:
    for table, column in COLUMNS:
        canonicalize(table, column)


def downgrade() -> None:
    """The spellings replaced are not kept: the canonical one stays (it is a valid value)."""
