"""The routes `make run` seeds: a sandbox model that answers without internet, plus real
models when their provider keys are in the environment."""

import os

from proxy.routes_file import Summary, apply

SANDBOX_MODELS = [
    # Streams at a readable pace and makes tool calls when given tools.
    {"name": "demo", "price": {"input": 0.5, "output": 1.5, "cached_input": 0.25},
     "deployments": [{"provider": "sandbox", "model": "demo@delay_ms=25"}]},
    {"name": "demo-fast", "price": {"input": 0.5, "output": 1.5},
     "deployments": [{"provider": "sandbox", "model": "demo"}]},
]  # fmt: skip

OPENAI_MODELS = [
    {"name": "gpt-4o-mini", "price": {"input": 0.15, "output": 0.60, "cached_input": 0.075},
     "deployments": [{"provider": "openai-main", "model": "gpt-4o-mini"}]},
    {"name": "gpt-4o", "price": {"input": 2.5, "output": 10.0, "cached_input": 1.25},
     "deployments": [{"provider": "openai-main", "model": "gpt-4o"}]},
    {"name": "text-embedding-3-small", "price": {"input": 0.02, "output": 0},
     "deployments": [{"provider": "openai-main", "model": "text-embedding-3-small"}]},
]  # fmt: skip


ANTHROPIC_MODELS = [
    {"name": "claude-sonnet-4-5", "price": {"input": 3.0, "output": 15.0, "cached_input": 0.30},
     "deployments": [{"provider": "anthropic-main", "model": "claude-sonnet-4-5"}]},
    {"name": "claude-haiku-4-5", "price": {"input": 1.0, "output": 5.0, "cached_input": 0.10},
     "deployments": [{"provider": "anthropic-main", "model": "claude-haiku-4-5"}]},
]  # fmt: skip


def demo_routes(sandbox_url: str) -> dict:
    providers = [
        {
            "name": "sandbox",
            "kind": "openai",
            "base_url": sandbox_url,
            "api_key": "sandbox",
            "timeout_s": 60,
        }
    ]
    models = list(SANDBOX_MODELS)
    if os.environ.get("OPENAI_API_KEY"):
        providers.append({"name": "openai-main", "kind": "openai", "base_url": "https://api.openai.com/v1",
                          "api_key": "env:OPENAI_API_KEY", "timeout_s": 600})  # fmt: skip
        models += OPENAI_MODELS
    if os.environ.get("ANTHROPIC_API_KEY"):
        providers.append({"name": "anthropic-main", "kind": "anthropic", "base_url": "https://api.anthropic.com",
                          "api_key": "env:ANTHROPIC_API_KEY", "timeout_s": 600})  # fmt: skip
        models += ANTHROPIC_MODELS
    return {"providers": providers, "models": models}


def seed_demo_routes(sandbox_url: str) -> Summary:
    return apply(demo_routes(sandbox_url))
