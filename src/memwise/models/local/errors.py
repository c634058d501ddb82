"""Errors of the local model, so callers can tell "install the extra" from "the file is damaged"."""

from __future__ import annotations

from ...errors import ConfigurationError, MemwiseError


class LocalModelError(MemwiseError):
    """Base class of the local model's errors."""


class ModelNotInstalledError(LocalModelError, ConfigurationError):
    """The runtime or the packages carrying the model's weights are not installed (the message says what to run)."""


class ModelCorruptError(LocalModelError, ConfigurationError):
    """The weights assembled from the packages do not match the expected size or sha256."""


class LocalModelRuntimeError(LocalModelError):
    """The in-process server failed to load the model or answered a request with an error."""


class UnknownVariantError(LocalModelError, ConfigurationError, ValueError):
    """The requested local model variant is not in the registry."""


class ModelCacheError(LocalModelError, ConfigurationError):
    """The cache directory cannot hold the assembled model (not writable, or not enough space)."""
