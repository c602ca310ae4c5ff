"""The registry's tables as the scheduler reads them: a read-only mirror (SQLAlchemy Core).

The scheduler never imports the registry's package (docs/ARCHITECTURE.md, "Packages and
ownership"), so it declares here, once, the registry tables and the columns its statements
read, with the registry's types. Statements are built from these ``Table`` objects, never
from SQL text naming a registry column. ``tests/scheduler/test_tables.py`` checks every table
and column here against the registry's own metadata (name, type, nullability), so a renamed
or retyped registry column fails a test, not a request.

``MIRROR`` is never created, migrated or written: the registry's models and migrations own
these tables (Alembic reads ``safework_scheduler.models.metadata``, not this).
"""

from __future__ import annotations

from typing import Final

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import ARRAY

MIRROR: Final = sa.MetaData()

_UUID = sa.UUID(as_uuid=True)
_AT = sa.DateTime(timezone=True)

enterprise: Final = sa.Table(
    "enterprise",
    MIRROR,
    sa.Column("id", _UUID, primary_key=True),
    sa.Column("name", sa.String(255), nullable=False),
    sa.Column("district", sa.String(64), nullable=False),
    sa.Column("zone_type", sa.String(8), nullable=False),
    sa.Column("zone_name", sa.String(255)),
    sa.Column("industry", sa.String(16), nullable=False),
    sa.Column("operating_status", sa.String(16), nullable=False),
)

person: Final = sa.Table(
    "person",
    MIRROR,
    sa.Column("id", _UUID, primary_key=True),
    sa.Column("full_name", sa.String(255), nullable=False),
    sa.Column("job_role", sa.String(32), nullable=False),
    sa.Column("enterprise_id", _UUID),
    sa.Column("employee_code", sa.String(64)),
    sa.Column("hire_date", sa.Date),
    sa.Column("arrived_from_province", sa.String(64)),
    sa.Column("arrived_at", _AT),
    sa.Column("accommodation_id", _UUID),
    sa.Column("high_risk", sa.Boolean, nullable=False),
    sa.Column("high_risk_until", _AT),
    sa.Column("status", sa.String(8), nullable=False),
    sa.Column("test_cohort", sa.SmallInteger, nullable=False),
)

# One row per person, kept by the registry's triggers (docs/ARCHITECTURE.md, ``person_rollup``).
person_rollup: Final = sa.Table(
    "person_rollup",
    MIRROR,
    sa.Column("person_id", _UUID, primary_key=True),
    sa.Column("last_result_at", _AT),
    sa.Column("last_positive_at", _AT),
    sa.Column("first_dose_at", _AT),
    sa.Column("last_declared_at", _AT),
    sa.Column("last_returned_at", _AT),
    sa.Column("last_positive_pool_at", _AT),
)

test_result: Final = sa.Table(
    "test_result",
    MIRROR,
    sa.Column("person_id", _UUID, nullable=False),
    sa.Column("kind", sa.String(16), nullable=False),
    sa.Column("collected_at", _AT, nullable=False),
    sa.Column("resulted_at", _AT, nullable=False),
    sa.Column("result", sa.String(16), nullable=False),
    sa.Column("pooled", sa.Boolean, nullable=False),
)

health_declaration: Final = sa.Table(
    "health_declaration",
    MIRROR,
    sa.Column("person_id", _UUID, nullable=False),
    sa.Column("declared_at", _AT, nullable=False),
    sa.Column("symptoms", ARRAY(sa.String(32)), nullable=False),
    sa.Column("contact_with_confirmed_case", sa.Boolean, nullable=False),
)

travel: Final = sa.Table(
    "travel",
    MIRROR,
    sa.Column("person_id", _UUID, nullable=False),
    sa.Column("destination_province", sa.String(64), nullable=False),
    sa.Column("returned_at", _AT),
    sa.Column("returned_to_boarding_house", sa.Boolean, nullable=False),
    sa.Column("to_home_town", sa.Boolean, nullable=False),
)

pool: Final = sa.Table(
    "pool",
    MIRROR,
    sa.Column("id", sa.BigInteger, primary_key=True),
    sa.Column("collected_at", _AT, nullable=False),
    sa.Column("resulted_at", _AT, nullable=False),
    sa.Column("result", sa.String(16), nullable=False),
)

pool_member: Final = sa.Table(
    "pool_member",
    MIRROR,
    sa.Column("pool_id", sa.BigInteger, nullable=False),
    sa.Column("person_id", _UUID, nullable=False),
)

# A traced contact (F1) of a case (the registry's outbreak response, issue 14).
contact: Final = sa.Table(
    "contact",
    MIRROR,
    sa.Column("case_id", _UUID, nullable=False),
    sa.Column("person_id", _UUID, nullable=False),
    sa.Column("traced_at", _AT, nullable=False),
)

district_ratio: Final = sa.Table(
    "district_ratio",
    MIRROR,
    sa.Column("district", sa.String(64), nullable=False),
    sa.Column("kind", sa.String(24), nullable=False),
    sa.Column("ratio", sa.Numeric(5, 4), nullable=False),
    sa.Column("effective_from", sa.Date, nullable=False),
    sa.Column("set_by", sa.String(255), nullable=False),
    sa.Column("set_at", _AT, nullable=False),
)

# The app on workers' and enterprise accounts' devices (compliance).
app_installation: Final = sa.Table(
    "app_installation",
    MIRROR,
    sa.Column("person_id", _UUID),
    sa.Column("enterprise_id", _UUID),
    sa.Column("app_id", sa.String(128), nullable=False),
    sa.Column("first_seen_at", _AT, nullable=False),
    sa.Column("last_sync_at", _AT, nullable=False),
    sa.Column("revoked_at", _AT),
)

dose: Final = sa.Table(
    "dose",
    MIRROR,
    sa.Column("person_id", _UUID, nullable=False),
    sa.Column("dose_number", sa.SmallInteger, nullable=False),
    sa.Column("product_code", sa.String(32), nullable=False),
    sa.Column("administered_at", _AT, nullable=False),
)

vaccine_product: Final = sa.Table(
    "vaccine_product",
    MIRROR,
    sa.Column("code", sa.String(32), primary_key=True),
    sa.Column("doses_in_primary_series", sa.SmallInteger, nullable=False),
)

# Boarding houses and their owners and managers (a district's boarding-house sample).
accommodation: Final = sa.Table(
    "accommodation",
    MIRROR,
    sa.Column("id", _UUID, primary_key=True),
    sa.Column("name", sa.String(255), nullable=False),
    sa.Column("district", sa.String(64), nullable=False),
)

accommodation_manager: Final = sa.Table(
    "accommodation_manager",
    MIRROR,
    sa.Column("accommodation_id", _UUID, nullable=False),
    sa.Column("person_id", _UUID, nullable=False),
    sa.Column("role", sa.String(16), nullable=False),
)
