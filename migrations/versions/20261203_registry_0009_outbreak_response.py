"""outbreak response: cases (F0), traced contacts (F1), the outbox, isolation rooms, coordinates

seeds/004 §II.3 and seeds/002: on a case, trace fast and classify risk ("thần tốc truy vết, phân
loại nguy cơ"); in quarantine never room high-risk with low-risk people; the health sector
publishes the map of safe enterprises (enterprises get optional coordinates). The outbox keeps
each fact (a case, a contact, a suspension) once for a later event stream.

Revision ID: registry_0009
Revises: registry_0008
Create Date: 2026-12-03 20:13:43.410798+07:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "registry_0009"
down_revision: str | Sequence[str] | None = "registry_0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "isolation_facility",
        sa.Column("id", sa.UUID(), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("address", sa.String(length=500), nullable=False),
        sa.Column("district", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_isolation_facility")),
    )
    op.create_index(op.f("ix_isolation_facility_district"), "isolation_facility", ["district"], unique=False)
    op.create_table(
        "outbox_event",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("entity", sa.String(length=32), nullable=False),
        sa.Column("entity_id", sa.String(length=64), nullable=False),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("payload", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("published_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_outbox_event")),
    )
    op.create_index(
        "ix_outbox_event_unpublished",
        "outbox_event",
        ["id"],
        unique=False,
        postgresql_where=sa.text("published_at IS NULL"),
    )
    op.create_table(
        "isolation_room",
        sa.Column("id", sa.UUID(), nullable=False),
        sa.Column("facility_id", sa.UUID(), nullable=False),
        sa.Column("code", sa.String(length=32), nullable=False),
        sa.Column("capacity", sa.Integer(), nullable=False),
        sa.CheckConstraint("capacity BETWEEN 1 AND 500", name=op.f("ck_isolation_room_capacity_range")),
        sa.ForeignKeyConstraint(
            ["facility_id"],
            ["isolation_facility.id"],
            name=op.f("fk_isolation_room_facility_id_isolation_facility"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_isolation_room")),
        sa.UniqueConstraint("facility_id", "code", name=op.f("uq_isolation_room_facility_id_code")),
    )
    op.create_table(
        "isolation_assignment",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("room_id", sa.UUID(), nullable=False),
        sa.Column("person_id", sa.UUID(), nullable=False),
        sa.Column("risk", sa.String(length=8), nullable=False),
        sa.Column("assigned_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("released_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint("risk IN ('high', 'low')", name=op.f("ck_isolation_assignment_risk")),
        sa.ForeignKeyConstraint(
            ["person_id"], ["person.id"], name=op.f("fk_isolation_assignment_person_id_person"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["room_id"],
            ["isolation_room.id"],
            name=op.f("fk_isolation_assignment_room_id_isolation_room"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_isolation_assignment")),
    )
    op.create_index(
        "ix_isolation_assignment_room_id_current",
        "isolation_assignment",
        ["room_id"],
        unique=False,
        postgresql_where=sa.text("released_at IS NULL"),
    )
    op.create_index(
        "uq_isolation_assignment_person_current",
        "isolation_assignment",
        ["person_id"],
        unique=True,
        postgresql_where=sa.text("released_at IS NULL"),
    )
    op.create_table(
        "outbreak_case",
        sa.Column("id", sa.UUID(), nullable=False),
        sa.Column("person_id", sa.UUID(), nullable=False),
        sa.Column("result_id", sa.BigInteger(), nullable=True),
        sa.Column("basis", sa.String(length=16), nullable=False),
        sa.Column("collected_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("infectious_from", sa.DateTime(timezone=True), nullable=False),
        sa.Column("isolated_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("traced_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("enterprise_id", sa.UUID(), nullable=True),
        sa.Column("district", sa.String(length=64), nullable=True),
        sa.Column("status", sa.String(length=8), server_default=sa.text("'open'"), nullable=False),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.CheckConstraint("basis IN ('pcr', 'confirmed')", name=op.f("ck_outbreak_case_basis")),
        sa.CheckConstraint("status IN ('open', 'closed')", name=op.f("ck_outbreak_case_status")),
        sa.CheckConstraint("infectious_from <= collected_at", name=op.f("ck_outbreak_case_window_order")),
        sa.ForeignKeyConstraint(
            ["enterprise_id"],
            ["enterprise.id"],
            name=op.f("fk_outbreak_case_enterprise_id_enterprise"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["person_id"], ["person.id"], name=op.f("fk_outbreak_case_person_id_person"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["result_id"], ["test_result.id"], name=op.f("fk_outbreak_case_result_id_test_result"), ondelete="SET NULL"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_outbreak_case")),
        sa.UniqueConstraint("person_id", "collected_at", name=op.f("uq_outbreak_case_person_id_collected_at")),
    )
    op.create_index("ix_outbreak_case_district_status", "outbreak_case", ["district", "status"], unique=False)
    op.create_index(op.f("ix_outbreak_case_person_id"), "outbreak_case", ["person_id"], unique=False)
    op.create_table(
        "contact",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("case_id", sa.UUID(), nullable=False),
        sa.Column("person_id", sa.UUID(), nullable=False),
        sa.Column("link", sa.String(length=16), nullable=False),
        sa.Column("venue_id", sa.UUID(), nullable=True),
        sa.Column("accommodation_id", sa.UUID(), nullable=True),
        sa.Column("exposed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("traced_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("enterprise_id", sa.UUID(), nullable=True),
        sa.CheckConstraint("link IN ('venue', 'accommodation', 'declared')", name=op.f("ck_contact_link")),
        sa.ForeignKeyConstraint(
            ["accommodation_id"],
            ["accommodation.id"],
            name=op.f("fk_contact_accommodation_id_accommodation"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["case_id"], ["outbreak_case.id"], name=op.f("fk_contact_case_id_outbreak_case"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["enterprise_id"], ["enterprise.id"], name=op.f("fk_contact_enterprise_id_enterprise"), ondelete="SET NULL"
        ),
        sa.ForeignKeyConstraint(
            ["person_id"], ["person.id"], name=op.f("fk_contact_person_id_person"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["venue_id"], ["venue.id"], name=op.f("fk_contact_venue_id_venue"), ondelete="SET NULL"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_contact")),
        sa.UniqueConstraint("case_id", "person_id", name=op.f("uq_contact_case_id_person_id")),
    )
    op.create_index("ix_contact_case_id_id", "contact", ["case_id", "id"], unique=False)
    op.create_index("ix_contact_person_id_traced_at", "contact", ["person_id", "traced_at"], unique=False)
    op.add_column("enterprise", sa.Column("latitude", sa.Numeric(precision=9, scale=6, asdecimal=False), nullable=True))
    op.add_column(
        "enterprise", sa.Column("longitude", sa.Numeric(precision=9, scale=6, asdecimal=False), nullable=True)
    )
    op.create_check_constraint(
        op.f("ck_enterprise_coordinates_both_or_neither"), "enterprise", "(latitude IS NULL) = (longitude IS NULL)"
    )
    op.create_check_constraint(
        op.f("ck_enterprise_coordinates_range"),
        "enterprise",
        "latitude BETWEEN -90 AND 90 AND longitude BETWEEN -180 AND 180",
    )


def downgrade() -> None:
    op.drop_constraint(op.f("ck_enterprise_coordinates_range"), "enterprise", type_="check")
    op.drop_constraint(op.f("ck_enterprise_coordinates_both_or_neither"), "enterprise", type_="check")
    op.drop_column("enterprise", "longitude")
    op.drop_column("enterprise", "latitude")
    op.drop_index("ix_contact_person_id_traced_at", table_name="contact")
    op.drop_index("ix_contact_case_id_id", table_name="contact")
    op.drop_table("contact")
    op.drop_index(op.f("ix_outbreak_case_person_id"), table_name="outbreak_case")
    op.drop_index("ix_outbreak_case_district_status", table_name="outbreak_case")
    op.drop_table("outbreak_case")
    op.drop_index(
        "uq_isolation_assignment_person_current",
        table_name="isolation_assignment",
        postgresql_where=sa.text("released_at IS NULL"),
    )
    op.drop_index(
        "ix_isolation_assignment_room_id_current",
        table_name="isolation_assignment",
        postgresql_where=sa.text("released_at IS NULL"),
    )
    op.drop_table("isolation_assignment")
    op.drop_table("isolation_room")
    op.drop_index(
        "ix_outbox_event_unpublished", table_name="outbox_event", postgresql_where=sa.text("published_at IS NULL")
    )
    op.drop_table("outbox_event")
    op.drop_index(op.f("ix_isolation_facility_district"), table_name="isolation_facility")
    op.drop_table("isolation_facility")
