"""Domain errors raised by services; views and the API turn them into messages and statuses."""


class DomainError(Exception):
    """A request the domain refuses; `message` is a sentence that says what to do next."""

    code = "invalid"
    status = 400

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


class NotAllowed(DomainError):
    code = "permission_denied"
    status = 403


class Conflict(DomainError):
    code = "conflict"
    status = 409


class FieldError(DomainError):
    """A value the domain refuses, and the input field it came from, so that the API can
    answer 400 naming it and a form can show the message beside it."""

    def __init__(self, field: str, message: str):
        super().__init__(message)
        self.field = field
