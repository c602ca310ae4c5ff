"""gateway credentials: clients, signing keys, activation codes, devices, refresh tokens,
unsanctioned-app attempts

Revision ID: gateway_0001
Revises:
Create Date: 2026-11-21 12:54:49.990201+07:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "gateway_0001"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = ("gateway",)
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "gateway_activation_code",
        sa.Column("id", sa.UUID(), nullable=False),
        sa.Column("code_hash", sa.LargeBinary(), nullable=False),
        sa.Column("person_id", sa.UUID(), nullable=False),
        sa.Column("enterprise_id", sa.UUID(), nullable=False),
        sa.Column("issued_by", sa.String(length=128), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("used_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("used_by_device", sa.String(length=128), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_gateway_activation_code")),
        sa.UniqueConstraint("code_hash", name=op.f("uq_gateway_activation_code_code_hash")),
    )
    op.create_index(
        op.f("ix_gateway_activation_code_enterprise_id"), "gateway_activation_code", ["enterprise_id"], unique=False
    )
    op.create_index(
        op.f("ix_gateway_activation_code_person_id"), "gateway_activation_code", ["person_id"], unique=False
    )
    op.create_table(
        "gateway_client",
        sa.Column("client_id", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("secret_hash", sa.String(length=255), nullable=False),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("district", sa.String(length=64), nullable=True),
        sa.Column("enterprise_id", sa.UUID(), nullable=True),
        sa.Column("lab_id", sa.UUID(), nullable=True),
        sa.Column("owner_district", sa.String(length=64), nullable=True),
        sa.Column("active", sa.Boolean(), server_default=sa.text("true"), nullable=False),
        sa.Column("created_by", sa.String(length=128), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.CheckConstraint(
            "role <> 'enterprise' OR enterprise_id IS NOT NULL", name=op.f("ck_gateway_client_enterprise_scope")
        ),
        sa.CheckConstraint("role <> 'lab' OR lab_id IS NOT NULL", name=op.f("ck_gateway_client_lab_scope")),
        sa.CheckConstraint(
            "role = 'authority' OR district IS NULL", name=op.f("ck_gateway_client_district_only_for_authority")
        ),
        sa.CheckConstraint("role IN ('authority', 'enterprise', 'lab')", name=op.f("ck_gateway_client_role")),
        sa.PrimaryKeyConstraint("client_id", name=op.f("pk_gateway_client")),
    )
    op.create_index(op.f("ix_gateway_client_enterprise_id"), "gateway_client", ["enterprise_id"], unique=False)
    op.create_index(op.f("ix_gateway_client_lab_id"), "gateway_client", ["lab_id"], unique=False)
    op.create_index(op.f("ix_gateway_client_owner_district"), "gateway_client", ["owner_district"], unique=False)
    op.create_table(
        "gateway_device",
        sa.Column("session_id", sa.UUID(), nullable=False),
        sa.Column("device_id", sa.String(length=128), nullable=False),
        sa.Column("person_id", sa.UUID(), nullable=False),
        sa.Column("enterprise_id", sa.UUID(), nullable=False),
        sa.Column("app_id", sa.String(length=128), nullable=False),
        sa.Column("app_version", sa.String(length=32), nullable=False),
        sa.Column("platform", sa.String(length=16), nullable=False),
        sa.Column("last_sync_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("revoked_reason", sa.String(length=64), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.CheckConstraint("platform IN ('android', 'ios', 'web', 'other')", name=op.f("ck_gateway_device_platform")),
        sa.PrimaryKeyConstraint("session_id", name=op.f("pk_gateway_device")),
    )
    op.create_index(op.f("ix_gateway_device_device_id"), "gateway_device", ["device_id"], unique=False)
    op.create_index(op.f("ix_gateway_device_enterprise_id"), "gateway_device", ["enterprise_id"], unique=False)
    op.create_index(op.f("ix_gateway_device_person_id"), "gateway_device", ["person_id"], unique=False)
    op.create_index(op.f("ix_gateway_device_revoked_at"), "gateway_device", ["revoked_at"], unique=False)
    op.create_index(
        "uq_gateway_device_live_device_id",
        "gateway_device",
        ["device_id"],
        unique=True,
        postgresql_where=sa.text("revoked_at IS NULL"),
    )
    op.create_table(
        "gateway_signing_key",
        sa.Column("kid", sa.String(length=64), nullable=False),
        sa.Column("algorithm", sa.String(length=16), server_default=sa.text("'EdDSA'"), nullable=False),
        sa.Column("public_key", sa.LargeBinary(), nullable=False),
        sa.Column("private_key_encrypted", sa.LargeBinary(), nullable=False),
        sa.Column("kek_id", sa.String(length=32), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("not_before", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("not_after", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.CheckConstraint("algorithm = 'EdDSA'", name=op.f("ck_gateway_signing_key_algorithm")),
        sa.CheckConstraint("status IN ('active', 'retiring', 'retired')", name=op.f("ck_gateway_signing_key_status")),
        sa.PrimaryKeyConstraint("kid", name=op.f("pk_gateway_signing_key")),
    )
    op.create_index(op.f("ix_gateway_signing_key_status"), "gateway_signing_key", ["status"], unique=False)
    op.create_table(
        "gateway_unsanctioned_attempt",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("app_id", sa.String(length=128), nullable=False),
        sa.Column("app_version", sa.String(length=32), nullable=True),
        sa.Column("platform", sa.String(length=16), nullable=True),
        sa.Column("device_id", sa.String(length=128), nullable=True),
        sa.Column("client_ip", sa.String(length=64), nullable=True),
        sa.Column("endpoint", sa.String(length=128), nullable=False),
        sa.Column("subject", sa.String(length=128), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_gateway_unsanctioned_attempt")),
    )
    op.create_index(
        op.f("ix_gateway_unsanctioned_attempt_app_id"), "gateway_unsanctioned_attempt", ["app_id"], unique=False
    )
    op.create_table(
        "gateway_refresh_token",
        sa.Column("token_hash", sa.LargeBinary(), nullable=False),
        sa.Column("session_id", sa.UUID(), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("used_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.ForeignKeyConstraint(
            ["session_id"],
            ["gateway_device.session_id"],
            name=op.f("fk_gateway_refresh_token_session_id_gateway_device"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("token_hash", name=op.f("pk_gateway_refresh_token")),
    )
    op.create_index(op.f("ix_gateway_refresh_token_session_id"), "gateway_refresh_token", ["session_id"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_gateway_refresh_token_session_id"), table_name="gateway_refresh_token")
    op.drop_table("gateway_refresh_token")
    op.drop_index(op.f("ix_gateway_unsanctioned_attempt_app_id"), table_name="gateway_unsanctioned_attempt")
    op.drop_table("gateway_unsanctioned_attempt")
    op.drop_index(op.f("ix_gateway_signing_key_status"), table_name="gateway_signing_key")
    op.drop_table("gateway_signing_key")
    op.drop_index(
        "uq_gateway_device_live_device_id", table_name="gateway_device", postgresql_where=sa.text("revoked_at IS NULL")
    )
    op.drop_index(op.f("ix_gateway_device_revoked_at"), table_name="gateway_device")
    op.drop_index(op.f("ix_gateway_device_person_id"), table_name="gateway_device")
    op.drop_index(op.f("ix_gateway_device_enterprise_id"), table_name="gateway_device")
    op.drop_index(op.f("ix_gateway_device_device_id"), table_name="gateway_device")
    op.drop_table("gateway_device")
    op.drop_index(op.f("ix_gateway_client_owner_district"), table_name="gateway_client")
    op.drop_index(op.f("ix_gateway_client_lab_id"), table_name="gateway_client")
    op.drop_index(op.f("ix_gateway_client_enterprise_id"), table_name="gateway_client")
    op.drop_table("gateway_client")
    op.drop_index(op.f("ix_gateway_activation_code_person_id"), table_name="gateway_activation_code")
    op.drop_index(op.f("ix_gateway_activation_code_enterprise_id"), table_name="gateway_activation_code")
    op.drop_table("gateway_activation_code")
