"""Filesystems: rootfs planning, mounts, users inside a rootfs."""
