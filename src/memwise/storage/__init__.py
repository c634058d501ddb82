"""Storages for memwise; `from_url` builds one from a URL or a path."""

from memwise.storage.url import from_url

__all__ = ["from_url"]
