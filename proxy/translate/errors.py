"""Errors in OpenAI's envelope, with the contract's statuses. Client shapes re-frame
them in their own envelope (`shapes.<shape>.error_body`)."""

import json
from dataclasses import dataclass


@dataclass
class ProxyError(Exception):
    status: int
    message: str
    type: str = "invalid_request_error"
    code: str | None = None
    param: str | None = None
    retry_after: str | None = None

    def body(self) -> bytes:
        return json.dumps(
            {
                "error": {
                    "message": self.message,
                    "type": self.type,
                    "param": self.param,
                    "code": self.code,
                }
            }
        ).encode()


def unauthorized(message: str) -> ProxyError:
    return ProxyError(401, message, type="authentication_error", code="invalid_api_key")


def bad_request(message: str, param: str | None = None, code: str | None = None) -> ProxyError:
    return ProxyError(400, message, param=param, code=code)
