"""Benchmarks of the gateway against a direct call and the LiteLLM proxy (issue 5)."""
