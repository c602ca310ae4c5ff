from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    DateTime,
    ForeignKey,
    Identity,
    Index,
    SmallInteger,
    String,
    UniqueConstraint,
    func,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from safework_registry.db import Base, Timestamped

TEST_KINDS = ("PCR", "RAPID_ANTIGEN")
RESULTS = ("NEGATIVE", "POSITIVE", "INVALID")
MAX_POOL_SIZE = 20


class Pool(Timestamped, Base):
    """A pooled PCR sample of up to 20 people (seeds/001: pools of 10 and 20). A negative pool
    gives each member a negative PCR result marked pooled; a positive one gives no member a
    result and makes each due for an individual PCR at once."""

    __tablename__ = "pool"
    __table_args__ = (
        UniqueConstraint("lab_id", "pool_sample_id"),
        CheckConstraint("result IN ('NEGATIVE', 'POSITIVE', 'INVALID')", name="result"),
        CheckConstraint("size BETWEEN 1 AND 20", name="size_range"),
        CheckConstraint("resulted_at >= collected_at", name="resulted_after_collected"),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    lab_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("lab.id", ondelete="RESTRICT"))
    pool_sample_id: Mapped[str] = mapped_column(String(64))
    size: Mapped[int] = mapped_column(SmallInteger)
    collected_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    resulted_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    result: Mapped[str] = mapped_column(String(16))
    received_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class PoolMember(Base):
    __tablename__ = "pool_member"

    pool_id: Mapped[int] = mapped_column(ForeignKey("pool.id", ondelete="CASCADE"), primary_key=True)
    person_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("person.id", ondelete="CASCADE"), primary_key=True, index=True
    )
    position: Mapped[int] = mapped_column(SmallInteger)


class TestResult(Timestamped, Base):
    """One person's result. ``(lab_id, sample_id)`` is the lab's idempotency key. For members of
    a negative pool, ``sample_id`` is ``<pool sample id>#<position>`` and ``pool_id`` is set.

    Partitioned by month of ``collected_at`` (``safework_registry.partitions``; migration
    ``registry_0011``). PostgreSQL wants the partition key in every unique key, so the primary key
    is ``(id, collected_at)`` and the idempotency key's index ``(lab_id, sample_id,
    collected_at)``; ``(lab_id, sample_id)`` itself stays unique through ``TestResultSample``."""

    __tablename__ = "test_result"
    __test__ = False  # not a pytest class
    __table_args__ = (
        UniqueConstraint("lab_id", "sample_id", "collected_at"),
        CheckConstraint("kind IN ('PCR', 'RAPID_ANTIGEN')", name="kind"),
        CheckConstraint("result IN ('NEGATIVE', 'POSITIVE', 'INVALID')", name="result"),
        CheckConstraint("resulted_at >= collected_at", name="resulted_after_collected"),
        # INCLUDE: the due history reads kind, result and pooling index-only (registry_0012).
        Index(
            "ix_test_result_person_id_collected_at",
            "person_id",
            "collected_at",
            postgresql_include=["kind", "result", "pooled"],
        ),
        Index("ix_test_result_received_at", "received_at"),
        {"postgresql_partition_by": "RANGE (collected_at)"},
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    person_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("person.id", ondelete="CASCADE"))
    lab_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("lab.id", ondelete="RESTRICT"))
    sample_id: Mapped[str] = mapped_column(String(80))
    kind: Mapped[str] = mapped_column(String(16))
    # The time that counts for "within 48 h" rules; the partition key.
    collected_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), primary_key=True)
    resulted_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    result: Mapped[str] = mapped_column(String(16))
    pooled: Mapped[bool] = mapped_column(Boolean, server_default=text("false"))
    pool_id: Mapped[int | None] = mapped_column(ForeignKey("pool.id", ondelete="CASCADE"), index=True)
    received_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class TestResultSample(Base):
    """The lab's idempotency key of every stored result, unpartitioned: ``(lab_id, sample_id)``
    unique across all months, and the one index ingest's look-ups by sample ID read (on the
    partitioned ``test_result`` they would probe every partition's index). Kept by statement
    triggers on ``test_result`` (migration ``registry_0011``, ``ENABLE ALWAYS``): inserted with
    the results (a sample ID stored under another collection time makes the insert fail),
    removed with them, and by month when a partition is dropped (``partitions``)."""

    __tablename__ = "test_result_sample"
    __test__ = False  # not a pytest class
    __table_args__ = (Index("ix_test_result_sample_collected_at", "collected_at"),)

    lab_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    sample_id: Mapped[str] = mapped_column(String(80), primary_key=True)
    collected_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
