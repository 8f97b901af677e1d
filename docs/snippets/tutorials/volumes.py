import os
import tempfile

import pycontainers as pc

# 1. A named volume outlives the containers that use it.
notes = pc.Volume.create("notes")
print(notes.mountpoint)  # a directory under the data root: <root>/volumes/notes/_data

write = ["sh", "-c", "echo remember the milk > /data/todo.txt"]
pc.run("host", write, mounts=[pc.Mount("/data", "notes", type="volume")], check=True)

read = pc.run(
    "host",
    ["cat", "/data/todo.txt"],
    mounts=[pc.Mount("/data", "notes", type="volume", read_only=True)],
    capture_output=True,
)
assert read.stdout == b"remember the milk\n"
print([v.name for v in pc.Volume.list()])

# 2. A bind mount shows a host directory; read_only=True keeps the container out of it.
shared = tempfile.mkdtemp()
with open(os.path.join(shared, "config.ini"), "w") as f:
    f.write("[app]\ndebug = true\n")
r = pc.run(
    "host",
    ["sh", "-c", "cat /etc/app/config.ini; touch /etc/app/new 2>&1 || true"],
    mounts=[pc.Mount("/etc/app", shared, read_only=True)],
    capture_output=True,
)
print(r.stdout.decode())  # the file, then "Read-only file system"
assert b"debug = true" in r.stdout and b"Read-only file system" in r.stdout

# 3. A tmpfs: memory-backed scratch space, gone with the container.
r = pc.run(
    "host",
    ["sh", "-c", "df -k /scratch | tail -1"],
    mounts=[pc.Mount("/scratch", type="tmpfs", options=("size=16m",))],
    capture_output=True,
)
print(r.stdout.decode())  # tmpfs  16384 ...

# Volumes are removed explicitly (or with `pycontainers volume prune`).
notes.remove()
os.remove(os.path.join(shared, "config.ini"))
os.rmdir(shared)
