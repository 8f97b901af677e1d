"""The pycontainers command line."""
