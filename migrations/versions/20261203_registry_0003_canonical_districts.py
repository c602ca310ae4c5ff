"""canonical districts: enterprises and boarding houses name their district one way

Districts were free text, compared as written: an enterprise in "Huyện Việt Yên" was outside
the reach of the "Việt Yên" authority. Every district is now validated against Bắc Giang's ten
(``safework_common.geo``) and stored in its canonical spelling; this rewrites the rows already
there. A value naming no known district is left as it is (it matches no district authority; the
province authority still sees it) and is counted in the migration's log.

Revision ID: registry_0003
Revises: registry_0002
Create Date: 2026-12-03 16:20:00+07:00
"""

import logging
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from safework_common.geo import canonical_district

revision: str = "registry_0003"
down_revision: str | Sequence[str] | None = "registry_0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

log = logging.getLogger("alembic.runtime.migration")

COLUMNS = (("enterprise", "district"), ("accommodation", "district"))


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
