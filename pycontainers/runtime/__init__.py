"""Container lifecycle: run(), Container, state on disk, stdio."""
