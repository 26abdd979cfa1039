"""The one model every client shape and provider kind translates through.

Client shapes (OpenAI chat, Anthropic messages, OpenAI responses) parse their requests
into a `ChatRequest` and render `Event`s back; provider kinds (openai, anthropic) build
their upstream request from a `ChatRequest` and turn their answers (whole or streamed)
into `Event`s. N shapes + M providers, not N×M. When a client's shape is the provider's
own, the relay passes bytes through instead and none of this runs.

Conventions:
- Roles are "system", "user", "assistant", "tool" (OpenAI's "developer" is "system").
- Tool-call arguments are JSON text, exactly as generated (fragments in streams).
- Finish reasons are OpenAI's: "stop", "length", "tool_calls", "content_filter".
- Usage counts input tokens including cached ones (OpenAI's convention); `cached` is
  the part of `input` read from a prompt cache, `cache_write` the part written to one
  (Anthropic prices both apart from plain input).

Nothing here (or anywhere under proxy/translate/) touches Django, the network or an
event loop: translation is plain functions over dicts and bytes.
"""

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Literal

from proxy.translate.errors import ProxyError

Role = Literal["system", "user", "assistant", "tool"]
FinishReason = Literal["stop", "length", "tool_calls", "content_filter"]


@dataclass(slots=True)
class TextPart:
    text: str
    cache_control: dict | None = None  # Anthropic's prompt-cache breakpoint on this part


@dataclass(slots=True)
class ImagePart:
    """An image by URL, or inline: `data` is base64 with its `media_type`."""

    url: str | None = None
    media_type: str | None = None
    data: str | None = None
    detail: str | None = None
    cache_control: dict | None = None  # Anthropic's prompt-cache breakpoint on this part


Part = TextPart | ImagePart


@dataclass(slots=True)
class ToolCall:
    id: str
    name: str
    arguments: str  # JSON text


@dataclass(slots=True)
class Message:
    role: Role
    content: list[Part] = field(default_factory=list)
    tool_calls: list[ToolCall] = field(default_factory=list)
    tool_call_id: str | None = None  # role "tool": the call this answers
    is_error: bool = False  # role "tool": the tool failed
    cache_control: dict | None = None  # role "tool": a cache breakpoint on the result

    @property
    def text(self) -> str:
        return "".join(p.text for p in self.content if isinstance(p, TextPart))


@dataclass(slots=True)
class Tool:
    """A function tool, or (`hosted` set) a tool the provider runs itself, such as
    "web_search", with its settings in `options`. A provider kind without the hosted
    tool refuses it (400), or drops it when the route says `drop_unsupported`."""

    name: str
    description: str | None = None
    parameters: dict = field(default_factory=lambda: {"type": "object", "properties": {}})
    strict: bool | None = None
    cache_control: dict | None = None
    hosted: str | None = None
    options: dict = field(default_factory=dict)
    param: str | None = None  # where the client put it, when not `tools[<its index>]`

    def where(self, index: int) -> str:
        """The tool's place in the client's request, for errors and x-jinf-dropped."""
        return self.param or f"tools[{index}]"


@dataclass(slots=True)
class ToolChoice:
    """ "auto" | "none" | "required" (some tool) | "tool" (the one named)."""

    mode: Literal["auto", "none", "required", "tool"] = "auto"
    name: str | None = None


@dataclass(slots=True)
class ChatRequest:
    model: str
    messages: list[Message]
    stream: bool = False
    include_usage: bool = False  # the client asked for usage in its stream
    max_tokens: int | None = None
    temperature: float | None = None
    top_p: float | None = None
    stop: list[str] = field(default_factory=list)
    tools: list[Tool] = field(default_factory=list)
    tool_choice: ToolChoice | None = None
    parallel_tool_calls: bool | None = None
    response_format: dict | None = None  # OpenAI's shape: {"type": "json_object"} …
    user: str | None = None
    # Shape-specific fields with no canonical meaning: kept so a same-kind upstream can
    # still receive them (e.g. OpenAI's `seed`, `logprobs`; Anthropic's `top_k`).
    extra: dict = field(default_factory=dict)
    # Set by the relay from the route: drop what the target cannot carry instead of 400.
    drop_unsupported: bool = False
    # What a translation left out (field names), for the x-jinf-dropped header.
    dropped: list[str] = field(default_factory=list)
    # What the client's shape keeps for rendering the answer back, never sent upstream:
    # e.g. Responses' namespaced tools, flattened for providers, by their client names.
    shape_state: dict = field(default_factory=dict)

    def unsupported(self, name: str, message: str) -> None:
        """`name` has no equivalent at the target: dropped and recorded when the route
        allows, else the 400 that names it."""
        if not self.drop_unsupported:
            raise ProxyError(
                400,
                f"{name}: {message} Set `drop_unsupported: true` on the model's route to "
                "drop it instead.",
                param=name,
                code="unsupported_parameter",
            )
        self.dropped.append(name)

    def left_out(self, name: str) -> None:
        """`name` is advice the target has no use for (a cache hint, a reasoning setting):
        always dropped, and named in x-jinf-dropped so nothing goes unseen."""
        if name not in self.dropped:
            self.dropped.append(name)


# --- Events: what an answer is made of, whole or streamed -------------------------------


@dataclass(slots=True)
class Start:
    id: str
    model: str


@dataclass(slots=True)
class TextDelta:
    text: str


@dataclass(slots=True)
class ToolCallStart:
    index: int  # 0, 1, … in the order the calls began
    id: str
    name: str


@dataclass(slots=True)
class ToolCallDelta:
    index: int
    arguments: str  # the next fragment of the JSON text


@dataclass(slots=True)
class Finish:
    reason: FinishReason
    stop_sequence: str | None = None


@dataclass(slots=True)
class Usage:
    input: int = 0
    output: int = 0
    cached: int = 0
    cache_write: int = 0


@dataclass(frozen=True, slots=True)
class Cost:
    """What a request's usage costs: exact pico-USD, and the USD float clients see."""

    pico: int
    usd: float


Pricer = Callable[[Usage], Cost]


def tokens(value: object) -> int:
    """A token count an upstream reported: a non-negative integer, else 0."""
    if isinstance(value, int) and not isinstance(value, bool) and value > 0:
        return value
    return 0


Event = Start | TextDelta | ToolCallStart | ToolCallDelta | Finish | Usage


class UpstreamFailed(Exception):
    """The upstream's answer broke (bad JSON, an error event, a cut stream).

    `partial` is what the same read yielded before the break (rendered bytes, or
    canonical events), which still goes to the client ahead of the error. `status` is
    the HTTP status the upstream's own error type means (529/503 overloaded, 429 rate
    limited, 400 invalid request …), so the client's shape can name the same kind."""

    partial: list = []

    def __init__(self, message: str, status: int = 502) -> None:
        super().__init__(message)
        self.status = status

    @classmethod
    def of_error(cls, error: object) -> "UpstreamFailed":
        """An error object of either API (`{"type", "message"}`), or anything else."""
        if not isinstance(error, dict):
            return cls(str(error or "upstream error"))
        kind = error.get("type") if isinstance(error.get("type"), str) else error.get("code")
        return cls(
            str(error.get("message") or kind or "upstream error"), ERROR_STATUS.get(kind, 502)
        )


# Error types of both APIs mid-stream, as the status each means.
ERROR_STATUS: dict[object, int] = {
    "invalid_request_error": 400, "authentication_error": 401, "permission_error": 403,
    "not_found_error": 404, "request_too_large": 413, "rate_limit_error": 429,
    "rate_limit_exceeded": 429, "insufficient_quota": 429, "api_error": 502,
    "server_error": 502, "overloaded_error": 529, "timeout_error": 504,
}  # fmt: skip


@contextmanager
def carrying(partial: list) -> Iterator[None]:
    """An UpstreamFailed raised inside leaves carrying `partial` (a list filled as the
    read goes)."""
    try:
        yield
    except UpstreamFailed as exc:
        exc.partial = partial
        raise


@dataclass(slots=True)
class Answer:
    """A whole answer, folded from events: what a non-streamed response renders from."""

    id: str = ""
    model: str = ""
    text: str = ""
    tool_calls: list[ToolCall] = field(default_factory=list)
    finish: Finish | None = None
    usage: Usage | None = None

    def add(self, event: Event) -> None:
        match event:
            case Start(id=id_, model=model):
                self.id, self.model = id_, model
            case TextDelta(text=text):
                self.text += text
            case ToolCallStart(index=index, id=id_, name=name):
                while len(self.tool_calls) <= index:
                    self.tool_calls.append(ToolCall(id="", name="", arguments=""))
                self.tool_calls[index].id, self.tool_calls[index].name = id_, name
            case ToolCallDelta(index=index, arguments=arguments):
                self.tool_calls[index].arguments += arguments
            case Finish():
                self.finish = event
            case Usage():
                self.usage = event

    @classmethod
    def of(cls, events: list[Event]) -> "Answer":
        answer = cls()
        for event in events:
            answer.add(event)
        return answer
