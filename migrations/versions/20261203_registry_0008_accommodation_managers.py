"""accommodation_manager: the owners and managers of boarding houses, as people

seeds/000 §2.3: random tests "đối với công nhân, người lao động, người làm thuê... đang ở trọ và chủ
quản lý các khu nhà trọ, ký túc xá": the renters and the owners/managers. A site's owner was a text
field (``owner_name``, kept for display); the people who own or manage it are now linked, so they
can be drawn into the district's random sample.

Revision ID: registry_0008
Revises: registry_0007
Create Date: 2026-12-03 19:30:00+07:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "registry_0008"
down_revision: str | Sequence[str] | None = "registry_0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "accommodation_manager",
        sa.Column("accommodation_id", sa.UUID(), nullable=False),
        sa.Column("person_id", sa.UUID(), nullable=False),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.CheckConstraint("role IN ('owner', 'manager')", name=op.f("ck_accommodation_manager_role")),
        sa.ForeignKeyConstraint(
            ["accommodation_id"],
            ["accommodation.id"],
            name=op.f("fk_accommodation_manager_accommodation_id_accommodation"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["person_id"], ["person.id"], name=op.f("fk_accommodation_manager_person_id_person"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("accommodation_id", "person_id", name=op.f("pk_accommodation_manager")),
    )
    op.create_index(op.f("ix_accommodation_manager_person_id"), "accommodation_manager", ["person_id"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_accommodation_manager_person_id"), table_name="accommodation_manager")
    op.drop_table("accommodation_manager")
