"""pycontainers."""
