"""job roles tell freight drivers and their assistants from passenger-shuttle drivers

seeds/003: "lái xe, phụ xe vận chuyển hàng hóa của DN" (drivers and driver's assistants carrying
an enterprise's goods) share the first vaccine tier; a passenger-shuttle driver does not. The one
role ``driver`` could not say which. It becomes ``freight_driver``, ``freight_driver_assistant``
or ``shuttle_driver``; the people stored as ``driver`` were ranked as freight drivers by every
earlier version of the vaccine rules, so they become ``freight_driver`` (their priority is kept;
the count is in the migration's log, and a correction is an ordinary person update).

Revision ID: registry_0005
Revises: registry_0004
Create Date: 2026-12-03 18:10:00+07:00
"""

import logging
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "registry_0005"
down_revision: str | Sequence[str] | None = "registry_0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

log = logging.getLogger("alembic.runtime.migration")

NEW = "job_role IN ('worker', 'manager', 'expert', 'freight_driver', 'freight_driver_assistant', 'shuttle_driver')"
OLD = "job_role IN ('worker', 'manager', 'expert', 'driver')"


def upgrade() -> None:
    op.drop_constraint("ck_person_job_role", "person", type_="check")
    op.alter_column("person", "job_role", type_=sa.String(length=32), existing_type=sa.String(length=16))
    moved = op.get_bind().execute(sa.text("UPDATE person SET job_role = 'freight_driver' WHERE job_role = 'driver'"))
    if moved.rowcount:
        log.warning("person.job_role: %d 'driver' became 'freight_driver' (seeds/003)", moved.rowcount)
    op.create_check_constraint("ck_person_job_role", "person", NEW)


def downgrade() -> None:
    op.drop_constraint("ck_person_job_role", "person", type_="check")
    op.execute(
        "UPDATE person SET job_role = 'driver' WHERE job_role IN ('freight_driver', 'freight_driver_assistant', 'shuttle_driver')"
    )
    op.alter_column("person", "job_role", type_=sa.String(length=16), existing_type=sa.String(length=32))
    op.create_check_constraint("ck_person_job_role", "person", OLD)
