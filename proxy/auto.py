"""The automatic model: per call, one of its candidates, from what the request shows.

A model of the routes file with `auto: {candidates: [...]}` has no deployments; each call
is served by one candidate, another model of the same table, whose name the answer's
`model` and the `x-jinf-routed-model` header carry and whose prices the call is charged.

The rules, in order (README, "The automatic model"):
1. A candidate *fits* the request when
   - it answers the endpoint (a deployment serves it, natively or translated);
   - the estimated input (a quarter of the body's bytes, the hold's estimate) plus the
     requested output (`max_tokens` and its cousins, when the request sets one) is within
     its `context_window`, and the requested output within its `max_output_tokens`;
   - the estimate is within the candidate's own `max_input_tokens`, when the auto entry
     sets one: how a small model is kept to short prompts;
   - it takes tools when the request has tools, images or files when the request has
     them, and a JSON schema when the request asks for one (`tools:`, `modalities:`,
     `json_schema:` of its model, or the candidate's own `tools:` override).
   - neither its input nor its output price is above the key's price ceiling, if any.
   None fits: a 400 (`no_candidate_fits`) naming each candidate's reason.
2. Among the fitting candidates, the *healthy* ones: not every deployment cooling down
   (proxy.balancer), a recent error ratio at most `max_error_rate` (0.5), a recent time to
   first byte at most `max_ttfb_ms` (unset: any). None healthy: the fitting ones.
3. Of those, by `prefer`: `order` (default: the first listed, so list the small, fast,
   cheap model first), `cheapest` (the lowest worst case for this call at the prices in
   force), or `fastest` (the lowest recent time to first byte; one not measured yet first).

Health is what this process measured (the balancer's state is per process).
"""

import time
from dataclasses import dataclass

from proxy import balancer
from proxy.spend import OUTPUT_FIELDS, input_estimate
from proxy.table import ModelEntry
from proxy.translate.errors import ProxyError
from proxy.translate.shapes import TRANSLATABLE

PREFER = ("order", "cheapest", "fastest")
DEFAULT_MAX_ERROR_RATE = 0.5
_IMAGE_PARTS = frozenset({"image_url", "image", "input_image"})
_FILE_PARTS = frozenset({"file", "input_file", "document"})


@dataclass(frozen=True, slots=True)
class Candidate:
    model: str
    max_input_tokens: int | None = None
    tools: bool | None = None  # None: the model's own `tools:`


@dataclass(frozen=True, slots=True)
class AutoSpec:
    candidates: tuple[Candidate, ...]
    prefer: str = "order"
    max_error_rate: float = DEFAULT_MAX_ERROR_RATE
    max_ttfb_ms: float | None = None

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(c.model for c in self.candidates)


def spec_from_json(raw: dict) -> AutoSpec:
    """The `auto:` mapping as the routes file stored it (validated there)."""
    candidates = []
    for item in raw.get("candidates") or ():
        if isinstance(item, str):
            candidates.append(Candidate(item))
        else:
            candidates.append(
                Candidate(str(item["model"]), item.get("max_input_tokens"), item.get("tools"))
            )
    ttfb = raw.get("max_ttfb_ms")
    return AutoSpec(
        candidates=tuple(candidates),
        prefer=raw.get("prefer") or "order",
        max_error_rate=float(raw.get("max_error_rate", DEFAULT_MAX_ERROR_RATE)),
        max_ttfb_ms=None if ttfb is None else float(ttfb),
    )


@dataclass(frozen=True, slots=True)
class Needs:
    """What one request asks of the model that serves it."""

    input_tokens: int  # the estimate
    output_tokens: int  # requested; 0 when the request sets no maximum
    tools: bool
    images: bool
    files: bool
    json_schema: bool


def needs(endpoint: str, body: dict, body_size: int) -> Needs:
    output = 0
    for name in OUTPUT_FIELDS:
        value = body.get(name)
        if isinstance(value, int) and not isinstance(value, bool) and value > 0:
            output = value
            break
    images, files = _attachments(body)
    return Needs(
        input_tokens=input_estimate(body_size),
        output_tokens=output,
        tools=bool(body.get("tools") or body.get("functions")),
        images=images,
        files=files,
        json_schema=_json_schema(body),
    )


def _attachments(body: dict) -> tuple[bool, bool]:
    """Whether any message carries an image or a file part (chat, messages, responses)."""
    images = files = False
    messages = body.get("messages")
    if not isinstance(messages, list):
        messages = body.get("input")
        if not isinstance(messages, list):
            return False, False
    for message in messages:
        if not isinstance(message, dict):
            continue
        content = message.get("content")
        if not isinstance(content, list):
            continue
        for part in content:
            if isinstance(part, dict):
                kind = part.get("type")
                images = images or kind in _IMAGE_PARTS
                files = files or kind in _FILE_PARTS
    return images, files


def _json_schema(body: dict) -> bool:
    fmt = body.get("response_format")  # chat
    if isinstance(fmt, dict) and fmt.get("type") == "json_schema":
        return True
    text = body.get("text")  # responses
    if isinstance(text, dict):
        fmt = text.get("format")
        return isinstance(fmt, dict) and fmt.get("type") == "json_schema"
    return False


def unfit(model: ModelEntry, candidate: Candidate, endpoint: str, need: Needs) -> str | None:
    """Why the candidate cannot serve the request, or None when it fits."""
    if not any(
        endpoint in d.provider.adapter.native or endpoint in TRANSLATABLE for d in model.deployments
    ):
        return f"does not answer /v1 {endpoint}"
    cat = model.catalogue
    if (
        cat.context_window is not None
        and need.input_tokens + need.output_tokens > cat.context_window
    ):
        return (
            f"its context window of {cat.context_window:,} tokens is below the "
            f"{need.input_tokens + need.output_tokens:,} this request may need"
        )
    if cat.max_output_tokens is not None and need.output_tokens > cat.max_output_tokens:
        return f"it writes at most {cat.max_output_tokens:,} output tokens"
    if candidate.max_input_tokens is not None and need.input_tokens > candidate.max_input_tokens:
        return f"it takes prompts up to {candidate.max_input_tokens:,} tokens here"
    tools = cat.tools if candidate.tools is None else candidate.tools
    if need.tools and not tools:
        return "it takes no tools"
    if need.images and "image" not in cat.input_modalities:
        return "it takes no images"
    if need.files and "file" not in cat.input_modalities:
        return "it takes no files"
    if need.json_schema and not cat.json_schema:
        return "it takes no JSON schema"
    return None


@dataclass(frozen=True, slots=True)
class _Fit:
    model: ModelEntry
    healthy: bool
    ttfb_ms: float


def choose(
    auto: ModelEntry,
    models: dict[str, ModelEntry],
    endpoint: str,
    body: dict,
    body_size: int,
    *,
    max_price_micros: int | None = None,
) -> ModelEntry:
    """The candidate of automatic model `auto` that serves this request (rules above),
    under the key's price ceiling when it has one."""
    spec: AutoSpec = auto.auto  # type: ignore[assignment]
    need = needs(endpoint, body, body_size)
    now = time.monotonic()
    at = time.time()
    fits: list[_Fit] = []
    reasons: list[str] = []
    for candidate in spec.candidates:
        model = models.get(candidate.model)
        if model is None or model.auto is not None:
            continue
        why = unfit(model, candidate, endpoint, need)
        if why is None and max_price_micros is not None:
            prices = model.price_at(at)
            if max(prices.input, prices.output) > max_price_micros:
                why = "it is priced above this key's price ceiling"
        if why is not None:
            reasons.append(f"{candidate.model}: {why}")
            continue
        fits.append(_health(model, spec, now))
    if not fits:
        raise ProxyError(
            400,
            f"No candidate of the automatic model '{auto.name}' can serve this request ("
            + "; ".join(reasons or ["none is served"])
            + "). Shorten the request, drop what a candidate cannot take, or name a model.",
            param="model",
            code="no_candidate_fits",
        )
    pool = [f for f in fits if f.healthy] or fits
    if spec.prefer == "cheapest":
        return min(
            pool, key=lambda f: _worst_pico(f.model, need, at)
        ).model  # min keeps the first listed of equals
    if spec.prefer == "fastest":
        return min(pool, key=lambda f: f.ttfb_ms).model
    return pool[0].model


def _health(model: ModelEntry, spec: AutoSpec, now: float) -> _Fit:
    """Healthy when a deployment is not cooling down and meets the thresholds; its time
    to first byte is the best measured among them (0 when none is measured yet)."""
    best: float | None = None
    healthy = False
    for d in model.deployments:
        live = balancer.live(d.id, now)
        if live.cooling or live.error_rate > spec.max_error_rate:
            continue
        if spec.max_ttfb_ms is not None and (live.ttfb_ms or 0.0) > spec.max_ttfb_ms:
            continue
        healthy = True
        ttfb = live.ttfb_ms or 0.0
        best = ttfb if best is None else min(best, ttfb)
    return _Fit(model, healthy, float("inf") if best is None else best)


def _worst_pico(model: ModelEntry, need: Needs, at: float) -> int:
    prices = model.price_at(at)
    return need.input_tokens * prices.input + need.output_tokens * prices.output
