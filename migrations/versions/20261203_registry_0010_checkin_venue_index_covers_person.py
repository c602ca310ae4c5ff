"""checkin: the venue index carries person_id (tracing reads it index-only)

Tracing an F0 (issue 14) reads, for each of the F0's check-ins, every check-in at the same venue
within the venue kind's dwell and needs only who it was. With ``person_id`` in the index
(``INCLUDE``), that read no longer visits one heap page per check-in.

Revision ID: registry_0010
Revises: registry_0009
Create Date: 2026-12-03 23:00:00+07:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "registry_0010"
down_revision: str | Sequence[str] | None = "registry_0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.drop_index("ix_checkin_venue_id_checked_in_at", table_name="checkin")
    op.create_index(
        "ix_checkin_venue_id_checked_in_at",
        "checkin",
        ["venue_id", "checked_in_at"],
        unique=False,
        postgresql_include=["person_id"],
    )


def downgrade() -> None:
    op.drop_index("ix_checkin_venue_id_checked_in_at", table_name="checkin")
    op.create_index("ix_checkin_venue_id_checked_in_at", "checkin", ["venue_id", "checked_in_at"], unique=False)
