"""The Lua scripts RedisStorage runs, one file each in `lua/`, loaded once with their SHA1s.

Every operation that touches several keys is one script (see the package notes); a script is
sent by its SHA1 (EVALSHA), and by its source when the server lost its script cache.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from importlib.resources import files
from typing import Literal, get_args

from memwise.storage.contract import INDEX_FIELDS

ScriptName = Literal["put", "delete", "page", "unindex", "append", "read", "drop", "touch"]
NAMES: tuple[ScriptName, ...] = get_args(ScriptName)
#: How put.lua and delete.lua spell the contract's index fields (checked when loaded).
INDEX_FIELDS_LUA = "{" + ", ".join(f"'{name}'" for name in INDEX_FIELDS) + "}  -- contract.INDEX_FIELDS"


@dataclass(frozen=True, slots=True)
class Script:
    source: str
    sha: str


def load(name: str, source: str) -> Script:
    """A script from its source; one that lists index fields must list the contract's."""
    if "contract.INDEX_FIELDS" in source and INDEX_FIELDS_LUA not in source:
        raise RuntimeError(
            f"memwise/storage/redis/lua/{name}.lua lists other index fields than contract.INDEX_FIELDS "
            f"{INDEX_FIELDS}: make it say {INDEX_FIELDS_LUA}"
        )
    return Script(source, hashlib.sha1(source.encode()).hexdigest())


def _load_all() -> dict[str, Script]:
    folder = files(__package__).joinpath("lua")
    return {name: load(name, folder.joinpath(f"{name}.lua").read_text(encoding="utf-8")) for name in NAMES}


SCRIPTS = _load_all()
