"""The double itself: localstripe listens on loopback only, and answers like Stripe to a
replayed Idempotency-Key."""

from pathlib import Path

import pytest
import stripe

from tests.billing.stripe.doubles import SECRET_KEY


def listening_addresses(port: int) -> list[str]:
    found = []
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        path = Path(table)
        if not path.exists():
            continue
        for line in path.read_text().splitlines()[1:]:
            fields = line.split()
            address, hex_port = fields[1].rsplit(":", 1)
            if int(hex_port, 16) == port and fields[3] == "0A":  # LISTEN
                found.append(address)
    return found


def test_the_double_listens_on_127_0_0_1_only(stripe_double):
    if not Path("/proc/net/tcp").exists():
        pytest.skip("needs Linux's /proc/net/tcp")
    assert listening_addresses(stripe_double.port) == ["0100007F"]  # 127.0.0.1, no '::'


def test_a_replayed_key_gets_the_first_answer_and_other_parameters_are_refused(stripe_on):
    client = stripe.StripeClient(SECRET_KEY, base_addresses={"api": stripe_on.url})
    first = client.v1.customers.create(params={"name": "a"}, options={"idempotency_key": "k1"})
    again = client.v1.customers.create(params={"name": "a"}, options={"idempotency_key": "k1"})
    assert again.id == first.id
    assert len(client.v1.customers.list().data) == 1
    with pytest.raises(stripe.IdempotencyError):
        client.v1.customers.create(params={"name": "b"}, options={"idempotency_key": "k1"})
