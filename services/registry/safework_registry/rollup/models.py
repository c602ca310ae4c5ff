"""Per-person roll-ups of the results and doses tables, kept by the database itself.

The scheduler asks of almost every person only "when was the latest result, was any positive,
was dose 1 given, did anything else happen lately": reading each person's results, declarations,
travels and pools for that costs index ranges and heap visits per person (whole windows of
those tables for a province). ``person_rollup`` holds the answers, one narrow row per person who
has any of them:

- ``last_result_at``: the latest ``collected_at`` of a result that is not INVALID;
- ``last_positive_at``: the latest ``collected_at`` of a POSITIVE result;
- ``first_dose_at``: when dose 1 was given;
- ``last_declared_at``, ``last_returned_at``: the latest health declaration, the latest return
  from a trip;
- ``last_positive_pool_at``: the latest ``collected_at`` of a positive pool the person was in.

They are the maxima over *all* rows, whatever instant a reader asks "as of". A reader asking as
of ``t`` may take ``last_result_at``/``last_positive_at`` as the answer only when they are not
after ``t`` (the common case, "now"), and reads the results themselves otherwise; the other
maxima are bounds ("nothing since ``x``"): a person with none in a window has no such row in it.

Statement-level triggers on the source tables (migration ``registry_0002``) keep the rows exact
for every write path, COPY included: inserts raise the maxima set-based from the statement's new
rows; updates and deletes (corrections, closing a trip, the retention job) recompute the people
whose maximum may have gone (``person_rollup_refresh``). The triggers are ``ENABLE ALWAYS``,
so a bulk load that skips foreign-key triggers (``session_replication_role = replica``, as the
seed does) still keeps them. Rows are upserted in person order, so concurrent writers lock them
in one order.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import DateTime, ForeignKey
from sqlalchemy.orm import Mapped, mapped_column

from safework_registry.db import Base


class PersonRollup(Base):
    __tablename__ = "person_rollup"
    # Room on each page for the new version of a row: its updates stay heap-only (no index
    # column changes), which keeps the per-batch upsert cheap.
    __table_args__ = {"postgresql_with": {"fillfactor": "80"}}

    person_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("person.id", ondelete="CASCADE"), primary_key=True)
    last_result_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    last_positive_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    first_dose_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    last_declared_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    last_returned_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    last_positive_pool_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
