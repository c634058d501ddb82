"""A recipe builds a storage from an import path and JSON-able kwargs, so another process can
open the very same store (the cross-process and SIGKILL tests send recipes to child processes)."""

from __future__ import annotations

import importlib
import os
from dataclasses import dataclass, field
from typing import Any

from memwise.storage.base import Storage


class BackendUnavailable(Exception):
    """The backend's server or package is missing; the message names it and what to check."""


@dataclass(frozen=True)
class Recipe:
    target: str  # "package.module:ClassName"
    kwargs: dict[str, Any] = field(default_factory=dict)
    shared: bool = True  # another process can open the same store

    def build(self) -> Storage:
        module, _, name = self.target.partition(":")
        return getattr(importlib.import_module(module), name)(**self.kwargs)


def in_ci() -> bool:
    return os.environ.get("CI", "").lower() in ("1", "true", "yes")
