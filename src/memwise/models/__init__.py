"""Model resolution: model strings, Model instances and the offline default."""

from memwise.models.resolve import DEFAULT_MODEL, ENV_VAR, context_window, default_model_spec, resolve_model

__all__ = ["DEFAULT_MODEL", "ENV_VAR", "context_window", "default_model_spec", "resolve_model"]
