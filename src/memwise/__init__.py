"""memwise: persistent memory for LLM agents."""
