"""The model catalogue: what each model takes, answers and costs, as /v1/models shows it
(OpenAI's model object with OpenRouter's extra fields) and the portal's Models page reads it.

Everything here reads table entries already in memory: no database work.

An automatic model has no deployments and no prices of its own: what it takes and answers is
what some candidate takes and answers, its context window the largest of theirs, and its
`pricing` null, since each call is priced at the chosen candidate's prices (README, "Models").
"""

import time
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal

from proxy.auto import AutoSpec
from proxy.table import ModelEntry, Prices
from proxy.translate.shapes import TRANSLATABLE

# Each endpoint a route can answer, as the relay names it, with its path and shape.
ENDPOINTS = (
    ("chat", "/v1/chat/completions", "OpenAI chat"),
    ("completions", "/v1/completions", "OpenAI completions"),
    ("embeddings", "/v1/embeddings", "OpenAI embeddings"),
    ("responses", "/v1/responses", "OpenAI Responses"),
    ("messages", "/v1/messages", "Anthropic messages"),
    ("count_tokens", "/v1/messages/count_tokens", "Anthropic token count"),
)
MODALITIES = ("text", "image", "file", "audio")  # the order they are listed in
# What every endpoint that generates takes, whatever the model.
BASE_PARAMETERS = ("max_tokens", "stop", "stream", "temperature", "top_p")


@dataclass(frozen=True, slots=True)
class Endpoint:
    path: str
    shape: str
    native_by: tuple[str, ...]  # provider kinds' labels serving it in its own shape

    @property
    def how(self) -> str:
        return "native" if self.native_by else "translated"


@dataclass(frozen=True, slots=True)
class Capabilities:
    """What a model takes (None: not declared), and for an automatic model its candidates."""

    context_window: int | None
    max_output_tokens: int | None
    input_modalities: tuple[str, ...]
    tools: bool
    json_schema: bool
    candidates: tuple[str, ...] = ()
    prefer: str | None = None

    @property
    def modality(self) -> str:
        return "+".join(self.input_modalities) + "->text"


def endpoints(
    entry: ModelEntry, models: Mapping[str, ModelEntry] | None = None
) -> tuple[Endpoint, ...]:
    """What the relay would serve (proxy.relay.can_serve): a kind's native endpoints in
    their own shape, and the translatable shapes through the canonical model. An automatic
    model answers what one of its candidates in `models` answers."""
    deployments = [d for m in _served_by(entry, models) for d in m.deployments]
    out = []
    for endpoint, path, shape in ENDPOINTS:
        native = tuple(
            sorted(
                {
                    d.provider.adapter.label
                    for d in deployments
                    if endpoint in d.provider.adapter.native
                }
            )
        )
        if native or (endpoint in TRANSLATABLE and (deployments or entry.auto is None)):
            out.append(Endpoint(path, shape, native))
    return tuple(out)


def capabilities(entry: ModelEntry, models: Mapping[str, ModelEntry] | None = None) -> Capabilities:
    """The model's catalogue; an automatic model's from its candidates found in `models`
    (without them, its own declared fields)."""
    spec = entry.auto
    if not isinstance(spec, AutoSpec):
        cat = entry.catalogue
        return Capabilities(
            cat.context_window,
            cat.max_output_tokens,
            _ordered(cat.input_modalities),
            cat.tools,
            cat.json_schema,
        )
    found = [
        (c, models[c.model])
        for c in spec.candidates
        if models is not None and c.model in models and models[c.model].auto is None
    ]
    if not found:
        cat = entry.catalogue
        return Capabilities(
            cat.context_window,
            cat.max_output_tokens,
            _ordered(cat.input_modalities),
            cat.tools,
            cat.json_schema,
            spec.names,
            spec.prefer,
        )
    cats = [m.catalogue for _, m in found]
    return Capabilities(
        context_window=_largest(c.context_window for c in cats),
        max_output_tokens=_largest(c.max_output_tokens for c in cats),
        input_modalities=_ordered(m for c in cats for m in c.input_modalities),
        tools=any(m.catalogue.tools if c.tools is None else c.tools for c, m in found),
        json_schema=any(c.json_schema for c in cats),
        candidates=tuple(c.model for c, _ in found),
        prefer=spec.prefer,
    )


def model_object(
    entry: ModelEntry,
    *,
    at: float | None = None,
    models: Mapping[str, ModelEntry] | None = None,
) -> dict:
    """The model as /v1/models lists it: OpenAI's four fields, which the SDKs parse, and
    OpenRouter's extra ones, at the prices in force at POSIX time `at` (default: now).
    `models`: the table an automatic model's candidates are found in."""
    caps = capabilities(entry, models)
    out = {
        "id": entry.name,
        "object": "model",
        "created": 0,
        "owned_by": "jinf",
        "context_length": caps.context_window,
        "architecture": {
            "input_modalities": list(caps.input_modalities),
            "output_modalities": ["text"],
            "modality": caps.modality,
        },
        "top_provider": {
            "context_length": caps.context_window,
            "max_completion_tokens": caps.max_output_tokens,
        },
        "pricing": None
        if entry.auto is not None
        else pricing(entry.price_at(time.time() if at is None else at)),
        "supported_parameters": supported_parameters(caps),
        "endpoints": [e.path for e in endpoints(entry, models)],
    }
    if entry.auto is not None:
        out["auto"] = {"candidates": list(caps.candidates), "prefer": caps.prefer}
    return out


def pricing(prices: Prices) -> dict[str, str]:
    """USD per token as exact decimal strings (OpenRouter's form), with billing.usage.
    cost_pico's defaults: a cache read at the input price, a cache write at 1.25 × it."""
    read = prices.input if prices.cached_input is None else prices.cached_input
    write = (
        Decimal(prices.input) * 5 / 4 if prices.cache_write is None else Decimal(prices.cache_write)
    )
    return {
        "prompt": usd_per_token(prices.input),
        "completion": usd_per_token(prices.output),
        "input_cache_read": usd_per_token(read),
        "input_cache_write": usd_per_token(write),
    }


def usd_per_token(micros_per_million: int | Decimal) -> str:
    """Micro-USD per million tokens as USD per token: 2_500_000 -> "0.0000025"."""
    value = Decimal(micros_per_million).scaleb(-12).normalize()
    return format(value, "f")


def supported_parameters(caps: Capabilities) -> list[str]:
    names = list(BASE_PARAMETERS)
    if caps.tools:
        names += ["tool_choice", "tools"]
    if caps.json_schema:
        names += ["response_format", "structured_outputs"]
    return sorted(names)


def _served_by(entry: ModelEntry, models: Mapping[str, ModelEntry] | None) -> list[ModelEntry]:
    spec = entry.auto
    if not isinstance(spec, AutoSpec):
        return [entry]
    if models is None:
        return []
    return [models[n] for n in spec.names if n in models and models[n].auto is None]


def _largest(values) -> int | None:
    """The largest, or None when one is not declared (then no bound is known)."""
    values = list(values)
    return None if not values or None in values else max(values)


def _ordered(modalities) -> tuple[str, ...]:
    seen = set(modalities)
    known = tuple(m for m in MODALITIES if m in seen)
    return known + tuple(sorted(seen - set(MODALITIES)))
