"""Settings of the HTTP server's limits: body read timeout, header limits, sizes."""
