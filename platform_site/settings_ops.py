"""Settings of the operations endpoints (/healthz, /readyz, /metrics) and the logs."""
