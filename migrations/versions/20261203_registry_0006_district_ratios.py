"""district_ratio: the sampling ratios each district's steering committee sets, kept and dated

seeds/000 §2.2: "giao Ban chỉ đạo phòng, chống dịch cấp huyện quyết định tỷ lệ lấy mẫu tầm soát
ngẫu nhiên … trong từng giai đoạn": each district sets the random sampling ratio of enterprises
under 20 workers (and of boarding-house renters and owners, §2.3), period by period. Append-only;
the scheduler reads the setting in force with ``as_of``.

Revision ID: registry_0006
Revises: registry_0005
Create Date: 2026-12-03 18:40:00+07:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "registry_0006"
down_revision: str | Sequence[str] | None = "registry_0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "district_ratio",
        sa.Column("id", sa.UUID(), nullable=False),
        sa.Column("district", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=24), nullable=False),
        sa.Column("ratio", sa.Numeric(precision=5, scale=4), nullable=False),
        sa.Column("effective_from", sa.Date(), nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("set_by", sa.String(length=255), nullable=False),
        sa.Column("set_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.CheckConstraint("kind IN ('small_enterprise', 'boarding_house')", name=op.f("ck_district_ratio_kind")),
        sa.CheckConstraint("ratio > 0 AND ratio <= 1", name=op.f("ck_district_ratio_ratio_range")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_district_ratio")),
    )
    op.create_index(
        "ix_district_ratio_district_kind_effective_from",
        "district_ratio",
        ["district", "kind", "effective_from"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index("ix_district_ratio_district_kind_effective_from", table_name="district_ratio")
    op.drop_table("district_ratio")
