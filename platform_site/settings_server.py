"""Settings of the HTTP server's limits: body read timeout, header limits, sizes, and how
long the hot path's caches serve what they hold while the database does not answer.

Star-imported at the end of settings.py; only the names in __all__ are settings.
"""

import environ

__all__ = ["PROXY_BODY_TIMEOUT_S", "PROXY_CACHE_STALE_S", "PROXY_CACHE_WAIT_S"]
__all__ += ["PROXY_LAST_USED_FLUSH_S", "PROXY_MAX_HEADER_KB"]

_env = environ.Env()

# A request's whole body must arrive within this many seconds of its headers, or it is
# answered 408 and its connection closed (platform_site.body_limits): a client trickling
# its body cannot hold a connection, and the memory of a half-read body, for longer. The
# declared size is checked at once against PROXY_MAX_BODY_MB (413 before any body byte).
PROXY_BODY_TIMEOUT_S = _env.float("PROXY_BODY_TIMEOUT_S", default=30.0)
# A request's headers, all together, beyond this are answered 431 (platform_site.body_limits).
PROXY_MAX_HEADER_KB = _env.int("PROXY_MAX_HEADER_KB", default=64)

# While the database fails or is slow, an entry of the hot path's caches (keys, routes)
# past its ttl is still served for this long past it (proxy.loading_cache). With the
# database answering, reloads replace entries within their ttl, so revocation still
# takes 2 s; during an outage a key revoked just before it keeps working this long.
PROXY_CACHE_STALE_S = _env.float("PROXY_CACHE_STALE_S", default=120.0)
# A request on an expired entry waits for its reload this long at most before the stale
# entry is served instead (then nothing waits: the reload goes on in the background).
PROXY_CACHE_WAIT_S = _env.float("PROXY_CACHE_WAIT_S", default=0.5)

# Keys' "last used" times are written in one UPDATE per this many seconds, from a thread
# of their own (proxy.last_used), never on the thread the cache reloads use.
PROXY_LAST_USED_FLUSH_S = _env.float("PROXY_LAST_USED_FLUSH_S", default=1.0)
