"""Loopback Stripe for the tests: localstripe (PyPI) plus what it lacks, in one process
bound to 127.0.0.1 only.

localstripe serves PaymentIntents, refunds, customers, invoice items and invoices, but
listens on every interface ('::') and has no Checkout Sessions, no invoice finalization
and no Idempotency-Key replay. This module runs localstripe's own aiohttp application
on 127.0.0.1 with:
  - /v1/checkout/sessions (create, retrieve) and a test-only
    POST /_config/double/checkout/{id}/pay that pays a session the way a buyer would: it
    creates and confirms a PaymentIntent at localstripe;
  - POST /v1/invoices/{id}/finalize, and the invoice parameters localstripe refuses
    (collection_method, days_until_due, auto_advance, default_payment_method) kept on
    the invoice instead;
  - Stripe's idempotency: a POST replaying a key gets the first answer, and a key
    reused with other parameters gets 400 idempotency_error;
  - GET /_config/double/requests (every request with its Idempotency-Key) and
    DELETE /_config/double/data (forget everything, between tests).

    python -m tests.billing.stripe.doubles --port 12345

The test side (`StripeDouble`) starts it as a subprocess and signs webhooks the way
Stripe does, with the real SDK's `stripe.WebhookSignature`."""

import argparse
import json
import socket
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
WEBHOOK_SECRET = "whsec_test_double"
SECRET_KEY = "sk_test_double"


# --- the server (runs in its own process; no Django here) ------------------------------


def serve(port: int) -> None:
    import secrets

    from aiohttp import web
    from localstripe import resources, server
    from localstripe.errors import UserError
    from localstripe.resources import Invoice, PaymentIntent, store

    # localstripe pickles its store to /tmp on every write; ours lives in memory only.
    resources.Store.dump_to_disk = lambda self: None

    sessions: dict[str, dict] = {}
    replies: dict[str, tuple[str, int, bytes]] = {}
    log: list[dict] = []

    @web.middleware
    async def idempotency(request, handler):
        body = await request.read()
        key = request.headers.get("Idempotency-Key")
        if not request.path.startswith("/_config/double/"):
            log.append({"method": request.method, "path": request.path, "key": key})
        if request.method != "POST" or not key:
            return await handler(request)
        fingerprint = f"{request.path}?{body.decode()}"
        if key in replies:
            seen, status, text = replies[key]
            if seen != fingerprint:
                return web.json_response(
                    {
                        "error": {
                            "type": "idempotency_error",
                            "message": "Keys for idempotent requests can only be used "
                            "with the same parameters they were first used with.",
                        }
                    },
                    status=400,
                )
            return web.Response(
                body=text,
                status=status,
                content_type="application/json",
                headers={"Idempotent-Replayed": "true"},
            )
        response = await handler(request)
        if 200 <= response.status < 300:  # Stripe replays errors too; ours retry
            replies[key] = (fingerprint, response.status, response.body)
        return response

    server.app.middlewares.append(idempotency)

    create_invoice = Invoice._api_create.__func__
    kept = ("collection_method", "days_until_due", "auto_advance", "default_payment_method")

    def invoice_create(cls, **data):
        """localstripe makes invoices of subscriptions only; a one-off invoice of the
        customer's pending items is Invoice's own constructor."""
        extra = {name: data.pop(name) for name in kept if name in data}
        if data.get("subscription"):
            invoice = create_invoice(cls, **data)
        else:
            data.pop("pending_invoice_items_behavior", None)
            invoice = cls(**data)
        for name, value in extra.items():
            setattr(invoice, name, value)
        return invoice

    Invoice._api_create = classmethod(invoice_create)

    async def invoice_finalize(request):
        invoice = Invoice._api_retrieve(request.match_info["id"])
        if invoice.status != "draft":
            raise UserError(400, "This invoice is already finalized.")
        invoice._finalize()
        return server.json_response(invoice._export())

    def session_export(session: dict) -> dict:
        return dict(session)

    async def session_create(request):
        data = await server.get_post_data(request) or {}
        items = data.get("line_items") or []
        amount = sum(
            int(item["price_data"]["unit_amount"]) * int(item.get("quantity", 1)) for item in items
        )
        currency = items[0]["price_data"]["currency"] if items else "usd"
        session_id = "cs_test_" + secrets.token_hex(12)
        session = {
            "id": session_id,
            "object": "checkout.session",
            "mode": data.get("mode"),
            "status": "open",
            "payment_status": "unpaid",
            "amount_total": amount,
            "currency": currency,
            "customer": data.get("customer"),
            "client_reference_id": data.get("client_reference_id"),
            "metadata": data.get("metadata") or {},
            "payment_intent": None,
            "payment_intent_data": data.get("payment_intent_data") or {},
            "success_url": data.get("success_url"),
            "cancel_url": data.get("cancel_url"),
            "url": f"http://127.0.0.1:{port}/pay/{session_id}",
            "created": int(time.time()),
            "livemode": False,
        }
        sessions[session_id] = session
        return server.json_response(session_export(session))

    async def session_retrieve(request):
        session = sessions.get(request.match_info["id"])
        if session is None:
            raise UserError(404, "No such checkout session")
        return server.json_response(session_export(session))

    async def session_pay(request):
        """The buyer pays: a PaymentIntent at localstripe, confirmed with the card."""
        session = sessions.get(request.match_info["id"])
        if session is None:
            raise UserError(404, "No such checkout session")
        data = await request.json()
        intent_data = session["payment_intent_data"]
        intent = PaymentIntent._api_create(
            amount=session["amount_total"],
            currency=session["currency"],
            customer=session["customer"],
            payment_method=data["payment_method"],
            metadata=intent_data.get("metadata") or {},
            confirm=True,
        )
        session["payment_intent"] = intent.id
        session["status"] = "complete"
        session["payment_status"] = "unpaid" if data.get("delayed") else "paid"
        return server.json_response(session_export(session))

    async def requests_log(request):
        return server.json_response(log)

    async def forget(request):
        store.clear()
        sessions.clear()
        replies.clear()
        log.clear()
        return web.Response()

    server.app.router.add_post("/v1/checkout/sessions", session_create)
    server.app.router.add_get("/v1/checkout/sessions/{id}", session_retrieve)
    server.app.router.add_post("/v1/invoices/{id}/finalize", invoice_finalize)
    server.app.router.add_post("/_config/double/checkout/{id}/pay", session_pay)
    server.app.router.add_get("/_config/double/requests", requests_log)
    server.app.router.add_delete("/_config/double/data", forget)
    # 127.0.0.1 only, whatever localstripe's own start() would bind.
    web.run_app(server.app, host="127.0.0.1", port=port, print=None, access_log=None)


# --- the test side ---------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class StripeDouble:
    """The double's process, its URL, and helpers to drive it."""

    def __init__(self, log_path: Path):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = log_path
        self.proc: subprocess.Popen | None = None

    def start(self) -> "StripeDouble":
        import httpx

        log = self.log_path.open("wb")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "tests.billing.stripe.doubles", "--port", str(self.port)],
            cwd=ROOT,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"the Stripe double exited: {self.log_path.read_text()}")
            try:
                httpx.get(f"{self.url}/_config/double/requests", timeout=1)
                return self
            except httpx.HTTPError:
                time.sleep(0.1)
        raise RuntimeError("the Stripe double did not start in 30 s")

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def reset(self) -> None:
        import httpx

        httpx.delete(f"{self.url}/_config/double/data", timeout=10).raise_for_status()

    def requests(self) -> list[dict]:
        import httpx

        return httpx.get(f"{self.url}/_config/double/requests", timeout=10).json()

    def pay_session(self, session_id: str, payment_method: str, delayed: bool = False) -> dict:
        import httpx

        reply = httpx.post(
            f"{self.url}/_config/double/checkout/{session_id}/pay",
            json={"payment_method": payment_method, "delayed": delayed},
            timeout=10,
        )
        reply.raise_for_status()
        return reply.json()

    def card(self, customer_id: str, number: str = "4242424242424242") -> str:
        """A card PaymentMethod attached to the customer, through the real SDK."""
        import stripe

        client = stripe.StripeClient(SECRET_KEY, base_addresses={"api": self.url})
        method = client.v1.payment_methods.create(
            params={
                "type": "card",
                "card": {"number": number, "exp_month": 12, "exp_year": 2040, "cvc": "123"},
            }
        )
        client.v1.payment_methods.attach(method.id, params={"customer": customer_id})
        return method.id


def signed(event: dict, secret: str = WEBHOOK_SECRET) -> tuple[str, str]:
    """The body and Stripe-Signature header Stripe would send for `event`."""
    import stripe

    body = json.dumps(event)
    return body, stripe.WebhookSignature.generate_signature_header(body, secret)


_event_seq = [0]


def event(event_type: str, obj: dict, event_id: str | None = None) -> dict:
    _event_seq[0] += 1
    return {
        "id": event_id or f"evt_test_{_event_seq[0]}_{int(time.time() * 1000)}",
        "object": "event",
        "type": event_type,
        "created": int(time.time()),
        "livemode": False,
        "api_version": "2025-01-27.acacia",
        "data": {"object": obj},
    }


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    serve(parser.parse_args().port)
