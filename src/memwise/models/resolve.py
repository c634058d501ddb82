"""Turn what the user passed as `model` into a pydantic-ai Model, or fail saying what to fix.

Accepted: a pydantic-ai `Model` instance; "provider/model" (the seeds' form, e.g.
"anthropic/claude-sonnet-4-5"; "openai/..." uses the Chat Completions API, which every
OpenAI-compatible server speaks); "provider:model" (pydantic-ai's own form, passed through
unchanged); "local" or "local/<variant>" (the in-process model of `memwise[local]`); None, which
means the `MEMWISE_MODEL` environment variable, else "local".
"""

from __future__ import annotations

import logging
import os
from typing import Any

from pydantic_ai.exceptions import UserError
from pydantic_ai.models import Model, infer_model

from memwise.errors import ConfigurationError, InvalidInputError

ENV_VAR = "MEMWISE_MODEL"
DEFAULT_MODEL = "local"
LOCAL_EXTRA_HINT = "pip install 'memwise[local]'"

#: provider names of the "provider/model" form that map to another pydantic-ai model kind.
_SLASH_KINDS = {"openai": "openai-chat"}
_PYDANTIC_AI_HINT = " To try Pydantic AI without an API key"

logger = logging.getLogger("memwise.models")
_announced: set[str] = set()


def default_model_spec() -> str:
    """The model used when none is given: `MEMWISE_MODEL`, else "local"."""
    return os.environ.get(ENV_VAR, "").strip() or DEFAULT_MODEL


def resolve_model(
    model: Model | str | None = None, *, base_url: str | None = None, api_key: str | None = None
) -> Model:
    """A pydantic-ai Model for `model`; `base_url`/`api_key` configure the provider of a string
    (e.g. an OpenAI-compatible server: `resolve_model("openai/my-model", base_url=...)`)."""
    if isinstance(model, Model):
        if base_url or api_key:
            raise InvalidInputError("base_url/api_key apply to model strings, not to a Model instance")
        return model
    if model is None:
        model = default_model_spec()
        if model not in _announced:  # once per process and model
            _announced.add(model)
            logger.debug("no model given; using %r (set %s to change it)", model, ENV_VAR)
    if not isinstance(model, str) or not model.strip():
        raise InvalidInputError(
            f"model must be a pydantic-ai Model or a string like 'openai/gpt-4o', got {model!r}"
        )
    spec = model.strip()
    if spec == "local" or spec.startswith("local/"):
        return _local_model(spec.partition("/")[2] or None)
    if spec == "test":  # pydantic-ai's offline TestModel, handy as MEMWISE_MODEL=test
        return infer_model("test")
    return _provider_model(spec, base_url=base_url, api_key=api_key)


def _local_model(variant: str | None) -> Model:
    try:
        from memwise.models.local import LocalModel
    except ImportError as exc:
        raise ConfigurationError(
            f"The model 'local' runs in-process and needs the local extra: {LOCAL_EXTRA_HINT}. "
            f"Or pass another model (e.g. 'openai/gpt-4o') or set {ENV_VAR}. ({exc})"
        ) from exc
    return LocalModel(variant) if variant else LocalModel()


def _split(spec: str) -> tuple[str, str]:
    """('provider', 'model') from "provider:model" or "provider/model"; pydantic-ai kind names."""
    colon, slash = spec.find(":"), spec.find("/")
    if colon != -1 and (slash == -1 or colon < slash):
        provider, _, name = spec.partition(":")
        return provider, name
    if slash != -1:
        provider, _, name = spec.partition("/")
        return _SLASH_KINDS.get(provider, provider), name
    raise ConfigurationError(
        f"Unknown model {spec!r}: use 'provider/model' (e.g. 'openai/gpt-4o', "
        f"'anthropic/claude-sonnet-4-5'), 'provider:model', or 'local'"
    )


def _provider_model(spec: str, *, base_url: str | None, api_key: str | None) -> Model:
    kind, name = _split(spec)
    if not kind or not name:
        raise ConfigurationError(f"Model {spec!r} needs both a provider and a model name")
    provider_name = "openai" if kind == "openai-chat" else kind
    _check_provider(spec, provider_name)
    try:
        if base_url or api_key:
            provider = _make_provider(provider_name, base_url=base_url, api_key=api_key)
            return infer_model(f"{kind}:{name}", provider_factory=lambda _: provider)
        return infer_model(f"{kind}:{name}")
    except ImportError as exc:
        raise ConfigurationError(
            f"Model {spec!r} needs its provider's package. {exc}".rstrip()
        ) from exc
    except UserError as exc:
        message = str(exc).split(_PYDANTIC_AI_HINT)[0].strip()
        raise ConfigurationError(
            f"Model {spec!r}: {message} Or use model='local' ({LOCAL_EXTRA_HINT})."
        ) from exc
    except ValueError as exc:
        raise ConfigurationError(f"Model {spec!r}: {exc}") from exc


def _check_provider(spec: str, provider_name: str) -> None:
    from pydantic_ai.providers import infer_provider_class

    try:
        infer_provider_class(provider_name)
    except ValueError:
        raise ConfigurationError(
            f"Model {spec!r}: unknown provider {provider_name!r}. Known ones include openai, anthropic, "
            "google, groq, mistral, ollama, openrouter, deepseek; or use 'local'."
        ) from None
    except ImportError:
        pass  # reported with the install hint when the model is built


def _make_provider(provider_name: str, *, base_url: str | None, api_key: str | None) -> Any:
    from pydantic_ai.providers import infer_provider_class

    cls = infer_provider_class(provider_name)
    kwargs = {k: v for k, v in {"base_url": base_url, "api_key": api_key}.items() if v}
    try:
        return cls(**kwargs)
    except TypeError as exc:
        raise ConfigurationError(
            f"Provider {provider_name!r} does not accept {', '.join(kwargs)}: {exc}"
        ) from exc


def context_window(model: Model) -> int | None:
    """The model's context window in tokens, when its profile knows it."""
    try:
        profile = model.profile
    except Exception:  # a profile lookup must never break a run
        return None
    value = profile.get("context_window") if isinstance(profile, dict) else getattr(profile, "context_window", None)
    return value if isinstance(value, int) and value > 0 else None
