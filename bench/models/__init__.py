"""Benchmarks of the models memwise ships (the in-process local model)."""
