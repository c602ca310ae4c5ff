"""Every scheduler model, imported in one place so Alembic sees the whole schema."""

from safework_scheduler.db import Base
from safework_scheduler.policy.models import SchedulerPolicy

metadata = Base.metadata

__all__ = ["Base", "SchedulerPolicy", "metadata"]
