"""provinces coded, home-town returns: provinces name one of the 63 of 2021; a trip says whether
it went to the person's home town

Provinces were free text, compared without accents: "Tỉnh Bắc Giang" and "TP Bắc Giang" counted
as another province and set off the 24 h/72 h and new-hire rules. Every province (a person's home
province, a new hire's province of origin, a trip's destination) is now validated against the 63
of 2021 (``safework_common.geo``) and stored in its canonical spelling; this rewrites the rows
already there. A value naming no known province is left as it is, counted in the migration's log
and listed by ``safework geo unknown``: never silently dropped.

``travel.to_home_town`` (seeds/000 §2.3 "ở quê xuống"): back in a boarding house from one's home
town, inside the province too, a test at once.

Revision ID: registry_0004
Revises: registry_0003
Create Date: 2026-12-03 17:40:00+07:00
"""

import logging
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from safework_common.geo import canonical_province

revision: str = "registry_0004"
down_revision: str | Sequence[str] | None = "registry_0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

log = logging.getLogger("alembic.runtime.migration")

COLUMNS = (("person", "home_province"), ("person", "arrived_from_province"), ("travel", "destination_province"))


def canonicalize(table: str, column: str) -> None:
    t = sa.table(table, sa.column(column, sa.String))
    col = t.c[column]
    bind = op.get_bind()
    unknown = 0
    for (value,) in bind.execute(sa.select(col).where(col.is_not(None)).distinct()).all():
        canonical = canonical_province(value)
        if canonical is None:
            unknown += 1
        elif canonical != value:
            bind.execute(sa.update(t).where(col == value).values({column: canonical}))
    if unknown:
        log.warning(
            "%s.%s: %d value(s) name no known province and were left as they are (safework geo unknown lists them)",
            table,
            column,
            unknown,
        )


def upgrade() -> None:
    op.add_column("travel", sa.Column("to_home_town", sa.Boolean(), server_default=sa.text("false"), nullable=False))
    for table, column in COLUMNS:
        canonicalize(table, column)


def downgrade() -> None:
    """The spellings replaced are not kept: the canonical one stays (it is a valid value)."""
    op.drop_column("travel", "to_home_town")
