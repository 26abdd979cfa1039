"""The bytes of one call kept for its organization's body log (billing.bodies): the
request as the client sent it and the answer as the client received it, up to the cap.

Only a call whose organization logs bodies carries one (Call.bodies); every other call
pays one `is None` test per write."""

from billing.bodies import MAX_BYTES, body_text


class BodyLog:
    __slots__ = ("_parts", "_size", "prompt")

    def __init__(self, prompt: bytes) -> None:
        self.prompt = prompt
        self._parts: list[bytes] = []
        self._size = 0

    def add(self, data: bytes) -> None:
        """A piece of the answer; what comes past the cap is counted, not kept."""
        if self._size <= MAX_BYTES:
            self._parts.append(data[: MAX_BYTES + 1 - self._size])
        self._size += len(data)

    def fields(self) -> dict:
        """The usage event's body fields (billing.usage.UsageEvent)."""
        prompt, prompt_cut = body_text(self.prompt)
        answer, answer_cut = body_text(b"".join(self._parts))
        return {
            "prompt": prompt,
            "answer": answer,
            "prompt_truncated": prompt_cut,
            "answer_truncated": answer_cut,
        }
