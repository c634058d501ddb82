from tests.memory.fixtures import _no_default_model_env, reader, storage  # noqa: F401
