"""The data layer: engine and sessions, the declarative base, column types, migrations."""

from knowcast.db.base import Base, TimestampMixin
from knowcast.db.engine import Database

__all__ = ["Base", "Database", "TimestampMixin"]
