"""The scheduler's declarative base, with its own MetaData under the shared naming convention."""

from __future__ import annotations

from sqlalchemy.orm import DeclarativeBase

from safework_common.db import Timestamped, new_metadata


class Base(DeclarativeBase):
    metadata = new_metadata()


__all__ = ["Base", "Timestamped"]
