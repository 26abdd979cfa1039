"""A deterministic fake LLM upstream speaking OpenAI's and Anthropic's wire formats.

Endpoints: OpenAI chat completions, completions, embeddings and responses; Anthropic
messages and count_tokens; the model lists. Options ride in the model id
(`demo@chunks=20,delay_ms=5,fault=drop`); see `options.py`. `demo@tool=NAME` scripts a call
to tool NAME (arguments `{}`), offered or not, until the conversation ends on a tool result.
"""

from .app import SandboxApp
from .options import Options, OptionsError, Settings, parse_model
from .server import SandboxServer
from .state import SandboxState

__all__ = [
    "Options",
    "OptionsError",
    "SandboxApp",
    "SandboxServer",
    "SandboxState",
    "Settings",
    "parse_model",
]
