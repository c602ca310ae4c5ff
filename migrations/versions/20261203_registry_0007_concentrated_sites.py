"""concentrated lodging sites: only those the authority marks house one enterprise's workers

seeds/003: "một nơi ở tập trung chỉ bố trí cho lao động của một doanh nghiệp" is about the
concentrated lodging sites the province surveys and introduces to enterprises, not every private
boarding house, where workers of several enterprises may rent. ``accommodation.concentrated``
(set by the authority) marks them; only those refuse a second enterprise. Existing sites start
unmarked: the rule held them all, which the source does not ask.

Revision ID: registry_0007
Revises: registry_0006
Create Date: 2026-12-03 19:10:00+07:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "registry_0007"
down_revision: str | Sequence[str] | None = "registry_0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column(
        "accommodation", sa.Column("concentrated", sa.Boolean(), server_default=sa.text("false"), nullable=False)
    )


def downgrade() -> None:
    op.drop_column("accommodation", "concentrated")
