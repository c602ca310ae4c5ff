"""gate passes: signing keys get a purpose (token, pass, health_card; ES256 for health cards),
and the issued passes are recorded for revocation (no name, no national ID: ids and instants).

Revision ID: gateway_0003
Revises: gateway_0002
Create Date: 2026-12-10 09:00:00+07:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "gateway_0003"
down_revision: str | Sequence[str] | None = "gateway_0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column(
        "gateway_signing_key",
        sa.Column("purpose", sa.String(length=16), server_default=sa.text("'token'"), nullable=False),
    )
    op.create_index(op.f("ix_gateway_signing_key_purpose"), "gateway_signing_key", ["purpose"], unique=False)
    op.drop_constraint(op.f("ck_gateway_signing_key_algorithm"), "gateway_signing_key", type_="check")
    op.create_check_constraint(
        op.f("ck_gateway_signing_key_algorithm"), "gateway_signing_key", "algorithm IN ('EdDSA', 'ES256')"
    )
    op.create_check_constraint(
        op.f("ck_gateway_signing_key_purpose"), "gateway_signing_key", "purpose IN ('token', 'pass', 'health_card')"
    )
    op.create_table(
        "gateway_pass",
        sa.Column("pass_id", sa.String(length=32), nullable=False),
        sa.Column("person_id", sa.Uuid(), nullable=False),
        sa.Column("enterprise_id", sa.Uuid(), nullable=False),
        sa.Column("kid", sa.String(length=80), nullable=False),
        sa.Column("token", sa.Text(), nullable=False),
        sa.Column("issued_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("revoked_reason", sa.String(length=32), nullable=True),
        sa.PrimaryKeyConstraint("pass_id", name=op.f("pk_gateway_pass")),
    )
    op.create_index(op.f("ix_gateway_pass_person_id"), "gateway_pass", ["person_id"], unique=False)
    op.create_index(op.f("ix_gateway_pass_enterprise_id"), "gateway_pass", ["enterprise_id"], unique=False)
    op.create_index(op.f("ix_gateway_pass_expires_at"), "gateway_pass", ["expires_at"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_gateway_pass_expires_at"), table_name="gateway_pass")
    op.drop_index(op.f("ix_gateway_pass_enterprise_id"), table_name="gateway_pass")
    op.drop_index(op.f("ix_gateway_pass_person_id"), table_name="gateway_pass")
    op.drop_table("gateway_pass")
    op.execute("DELETE FROM gateway_signing_key WHERE purpose <> 'token'")
    op.drop_constraint(op.f("ck_gateway_signing_key_purpose"), "gateway_signing_key", type_="check")
    op.drop_constraint(op.f("ck_gateway_signing_key_algorithm"), "gateway_signing_key", type_="check")
    op.create_check_constraint(op.f("ck_gateway_signing_key_algorithm"), "gateway_signing_key", "algorithm = 'EdDSA'")
    op.drop_index(op.f("ix_gateway_signing_key_purpose"), table_name="gateway_signing_key")
    op.drop_column("gateway_signing_key", "purpose")
