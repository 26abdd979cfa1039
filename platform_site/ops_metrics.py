"""Who may read /metrics, and its text.

The reader's address is the one keys' IP allowlists use (proxy.addresses): the socket's
peer, unless the peer is in TRUSTED_PROXIES, then the client its X-Forwarded-For names.
That matters behind a load balancer on the same host: its connections come from
loopback, so without it in TRUSTED_PROXIES anyone it forwards /metrics for would be let
in. METRICS_ALLOW empty lets no one in.

With PROMETHEUS_MULTIPROC_DIR set, the text sums the files every web process writes
there (prometheus_client.multiprocess); the directory must be emptied before the web
processes start (platform_site.run), or a dead process's counters are summed forever.
"""

import ipaddress
import os
from functools import cache

from django.conf import settings
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, CollectorRegistry, generate_latest
from prometheus_client.multiprocess import MultiProcessCollector

from proxy.addresses import client_address


@cache
def _networks(cidrs: tuple[str, ...]) -> tuple:
    return tuple(ipaddress.ip_network(c.strip(), strict=False) for c in cidrs if c.strip())


def allowed(scope: dict) -> bool:
    headers = dict(scope.get("headers") or ())
    address = client_address(scope, headers)
    if address is None:
        return False
    return any(
        address.version == net.version and address in net
        for net in _networks(tuple(settings.METRICS_ALLOW))
    )


def exposition() -> tuple[bytes, str]:
    """The metrics text and its content type: this process's, or every process's."""
    directory = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if not directory:
        return generate_latest(REGISTRY), CONTENT_TYPE_LATEST
    registry = CollectorRegistry()
    MultiProcessCollector(registry, path=directory)
    return generate_latest(registry), CONTENT_TYPE_LATEST
