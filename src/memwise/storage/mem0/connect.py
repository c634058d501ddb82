"""Building Mem0Storage's clients (the hosted platform, or an open-source Memory from a config),
and telling mem0's "unreachable" and "not found" errors apart from the others."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

import httpx
from mem0 import AsyncMemoryClient, Memory, MemoryClient
from mem0.configs.base import MemoryConfig
from mem0.exceptions import MemoryNotFoundError, NetworkError

from memwise.errors import ConfigurationError, StorageUnavailableError

DEFAULT_HOST = "https://api.mem0.ai"


def connect_platform(api_key: str, host: str, timeout: float) -> tuple[Any, Any]:
    where = f"the Mem0 platform at {host_port(host)}"
    http = httpx.Client(timeout=timeout)
    try:
        client = MemoryClient(api_key=api_key, host=host, client=http)  # pings GET /v1/ping/
    except Exception as exc:
        http.close()
        if is_unreachable(exc):
            raise StorageUnavailableError(
                f"{where} did not answer within {timeout:g}s ({type(exc).__name__}: {exc}); check the host and "
                "port, the network or proxy, and raise timeout= if the link is slow"
            ) from None
        raise ConfigurationError(f"{where} refused the connection: {exc} (check the API key)") from None
    try:
        aclient = AsyncMemoryClient(api_key=api_key, host=host, client=httpx.AsyncClient(timeout=timeout))
    except Exception as exc:
        http.close()
        raise StorageUnavailableError(f"{where} answered the sync client but not the async one: {exc}") from None
    return client, aclient


def open_memory(config: MemoryConfig | dict[str, Any]) -> Any:
    try:
        return Memory(config) if isinstance(config, MemoryConfig) else Memory.from_config(config)
    except Exception as exc:
        where = config_where(config)
        if is_unreachable(exc):
            raise StorageUnavailableError(
                f"mem0's vector store {where} is unreachable ({type(exc).__name__}: {exc}); check that it runs"
            ) from None
        raise ConfigurationError(f"mem0 could not build a Memory from this config ({where}): {exc}") from None


def config_where(config: MemoryConfig | dict[str, Any]) -> str:
    store = config.vector_store if isinstance(config, MemoryConfig) else (config or {}).get("vector_store") or {}
    provider = getattr(store, "provider", None) or (store.get("provider") if isinstance(store, dict) else None) or "qdrant"
    inner = getattr(store, "config", None) if not isinstance(store, dict) else store.get("config")

    def get(name: str) -> Any:
        return inner.get(name) if isinstance(inner, dict) else getattr(inner, name, None)

    if url := get("url"):
        return f"{provider} at {host_port(url)}"
    if get("host"):
        return f"{provider} at {get('host')}:{get('port')}"
    return f"{provider} at {get('path') or 'its default path'}"


def describe(client: Any) -> str:
    if isinstance(client, Memory):
        return f"mem0 Memory ({config_where(client.config)})"
    return f"the Mem0 platform at {host_port(getattr(client, 'host', DEFAULT_HOST))}"


def host_port(url: str) -> str:
    parts = urlsplit(url if "://" in url else f"http://{url}")
    port = parts.port or (443 if parts.scheme == "https" else 80)
    return f"{parts.hostname}:{port}"


def is_unreachable(exc: BaseException) -> bool:
    if isinstance(exc, (httpx.TransportError, NetworkError, ConnectionError, TimeoutError)):
        return True
    name = type(exc).__name__  # qdrant's and requests' wrappers of connection failures
    return name in ("ResponseHandlingException", "ConnectionError", "ConnectTimeout", "ReadTimeout", "Timeout")


def is_not_found(exc: BaseException) -> bool:
    if isinstance(exc, MemoryNotFoundError):
        return True
    if isinstance(exc, httpx.HTTPStatusError) and exc.response.status_code == 404:
        return True
    return isinstance(exc, ValueError) and "not found" in str(exc).lower()
