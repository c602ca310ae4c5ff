"""Every registry model, imported in one place so Alembic sees the whole schema."""

from safework_registry.db import Base

metadata = Base.metadata

__all__ = ["Base", "metadata"]
