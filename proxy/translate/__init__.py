"""Translation between client shapes and provider kinds: pure functions over dicts and
bytes, with no Django, no network and no event loop (tests/proxy/translate/test_pure.py).

canonical.py   the one request and event model every shape and kind translates through
sse.py         server-sent events in and out
wire.py        an upstream request as plain values; JSON that survives deep nesting
providers/     one folder per provider kind, registered in providers.KINDS
shapes/        one module per client shape, registered in shapes.SHAPES
"""
