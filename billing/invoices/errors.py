"""The error a refused billing action raises: its message is a sentence for the person."""


class BillingError(Exception):
    """A transition the invoice's state refuses (finalize a mismatching invoice, void
    without a reason…). `message` says what happened and what to do next; views show it
    as it is."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message
