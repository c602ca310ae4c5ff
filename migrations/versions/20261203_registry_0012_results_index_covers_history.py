"""test_result: the person's index carries kind, result and pooled (due history read index-only)

The due computation reads the results of the people who are not plain (a positive, a
declaration, a trip, a positive pool, a contact, a recent arrival: about one in twenty) through
``(person_id, collected_at)``, and each result's kind, outcome and pooling from its heap page:
about 78,000 heap pages a province share, most of them outside shared buffers (issue 11).
With those three columns in the index (``INCLUDE``), the read is index-only once the table is
vacuumed: measured on the 1,000,000-person bench database, the server CPU of a share went from
1.66-1.88 s to 1.40-1.59 s, with the whole-province reference scan at 1.35-1.41 s in the same
loop. The index replaces the old one of the same name (same leading columns), so a write still
maintains one index for it.

Revision ID: registry_0012
Revises: registry_0011
Create Date: 2026-12-03 18:00:00+07:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "registry_0012"
down_revision: str | Sequence[str] | None = "registry_0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.drop_index("ix_test_result_person_id_collected_at", table_name="test_result")
    op.create_index(
        "ix_test_result_person_id_collected_at",
        "test_result",
        ["person_id", "collected_at"],
        unique=False,
        postgresql_include=["kind", "result", "pooled"],
    )


def downgrade() -> None:
    op.drop_index("ix_test_result_person_id_collected_at", table_name="test_result")
    op.create_index("ix_test_result_person_id_collected_at", "test_result", ["person_id", "collected_at"], unique=False)
