"""The contract on SQL, written once for SQLite and PostgreSQL (they differ only in executors)."""

from memwise.storage.sql.backend import Sql, SqlBackend, SqlPlan

__all__ = ["Sql", "SqlBackend", "SqlPlan"]
