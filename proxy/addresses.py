"""The client's address, for keys with an IP allowlist (`mintkey --ips`).

The socket's peer, unless the peer is one of TRUSTED_PROXIES (a load balancer): then the
right-most X-Forwarded-For entry that is not itself a trusted proxy. Entries to its left
were written by the client and prove nothing.
"""

import ipaddress
from functools import cache

from django.conf import settings

from proxy.auth import KeyInfo
from proxy.translate.errors import ProxyError

Address = ipaddress.IPv4Address | ipaddress.IPv6Address


@cache
def _trusted(cidrs: tuple[str, ...]) -> tuple:
    return tuple(ipaddress.ip_network(c, strict=False) for c in cidrs)


def _parse(text: str) -> Address | None:
    try:
        address = ipaddress.ip_address(text.strip().strip("[]"))
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
        return address.ipv4_mapped
    return address


def client_address(scope: dict, headers: dict[bytes, bytes]) -> Address | None:
    peer = _parse((scope.get("client") or ("",))[0] or "")
    trusted = _trusted(tuple(settings.TRUSTED_PROXIES))
    if peer is None or not any(peer in net for net in trusted):
        return peer
    forwarded = headers.get(b"x-forwarded-for", b"").decode("latin-1").split(",")
    for hop in reversed(forwarded):
        address = _parse(hop)
        if address is None:
            return peer  # a malformed chain: trust only what we saw
        if not any(address in net for net in trusted):
            return address
    return peer


def check_allowed(key: KeyInfo, scope: dict, headers: dict[bytes, bytes]) -> None:
    """403 when the key has an allowlist and the request comes from elsewhere."""
    if not key.allowed_ips:
        return
    address = client_address(scope, headers)
    if address is not None and any(
        address.version == net.version and address in net for net in key.allowed_ips
    ):
        return
    raise ProxyError(
        403,
        f"This key may not be used from {address or 'this address'}. Its allowed addresses "
        "are set in the portal under Keys.",
        type="permission_error",
        code="ip_not_allowed",
    )
