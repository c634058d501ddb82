"""Every error memwise raises derives from MemwiseError, so callers can catch one type."""

from __future__ import annotations


class MemwiseError(Exception):
    """Base class of all memwise errors."""


class ConfigurationError(MemwiseError):
    """Something the user configured is missing or wrong (a model, an extra, a URL)."""


class InvalidInputError(MemwiseError, ValueError):
    """An argument has the wrong type or value; the message names which and why."""


class StorageError(MemwiseError):
    """A storage operation failed."""


class StorageUnavailableError(StorageError):
    """The storage server could not be reached (the message names host, port and what to check)."""


class NotFoundError(StorageError, LookupError):
    """The record an operation needs does not exist."""


class AlreadyExistsError(StorageError):
    """A record with that id exists already."""


class VersionConflict(StorageError):
    """An optimistic write lost: the record changed since it was read. Re-read and retry."""

    def __init__(self, what: str, expected: int, actual: int | None) -> None:
        super().__init__(f"{what}: expected version {expected}, found {actual if actual is not None else 'no record'}")
        self.expected = expected
        self.actual = actual


class LeaseHeldError(StorageError):
    """Another worker holds the lease on this run (it is being resumed elsewhere)."""


class CorruptRecordError(StorageError):
    """A stored record cannot be decoded; it is left in place, untouched."""


class SchemaVersionError(StorageError):
    """The store was written by a newer memwise than this one."""


class SessionAccessError(MemwiseError):
    """The session belongs to another user; its memory is neither read nor written."""


class MemorySaveError(MemwiseError):
    """The run finished but memory could not be saved completely. `output` holds the run's
    result (a RunOutput) so the answer is not lost; the cause is chained."""

    def __init__(self, message: str, output: object = None) -> None:
        super().__init__(message)
        self.output = output
