import os
import shutil
import subprocess
import tempfile

import pycontainers as pc
from pycontainers.images import default_store

# A registry to push to and pull from: a loopback one is plain HTTP, as in Docker.
REGISTRY = os.environ.get("REGISTRY", "127.0.0.1:5000")
work = tempfile.mkdtemp()

# 1. An image from a directory: a busybox rootfs made from the host's busybox-static.
rootfs = os.path.join(work, "busybox")
os.makedirs(os.path.join(rootfs, "bin"))
shutil.copy2("/bin/busybox", os.path.join(rootfs, "bin", "busybox"))
applets = subprocess.run(["/bin/busybox", "--list"], capture_output=True, text=True).stdout
for name in applets.split():
    if name != "busybox":
        os.symlink("busybox", os.path.join(rootfs, "bin", name))
image = pc.Image.from_rootfs(rootfs, "localhost/busybox:tutorial")
print(image.reference, image.id, len(image.layers))  # one layer

# 2. Run it: the image's layers read-only, plus a writable layer of the container's own.
r = pc.run("localhost/busybox:tutorial", ["sh", "-c", "echo hi from busybox"], capture_output=True)
assert r.stdout == b"hi from busybox\n"

# 3. Commit a container's changes as a new image on top of it.
with pc.Container.create("localhost/busybox:tutorial", ["sh", "-c", "echo v1 > /version"]) as c:
    c.start()
    c.wait()
    mine = c.commit("localhost/mine:1")
print(len(mine.layers))  # 2: busybox's and the container's change
r = pc.run(mine, ["cat", "/version"], capture_output=True)
assert r.stdout == b"v1\n"

# 4. Save it as an OCI archive (or "docker-archive"), load it into another store.
store = default_store()
store.save("localhost/mine:1", os.path.join(work, "mine.tar"))
other = pc.ImageStore(os.path.join(work, "other-store"))
loaded = other.load(os.path.join(work, "mine.tar"))
print([str(i.reference) for i in loaded])

# 5. Push to a registry, remove the local copy, pull it back.
store.push("localhost/mine:1", f"{REGISTRY}/tutorial/mine:1")
store.remove("localhost/mine:1")
pulled = pc.Image.pull(f"{REGISTRY}/tutorial/mine:1")
print("pulled", pulled.reference, pulled.digest)
r = pc.run(pulled, ["cat", "/version"], capture_output=True)
assert r.stdout == b"v1\n"

# Clean up: untag, then drop what no image uses any more.
for ref in ("localhost/busybox:tutorial", f"{REGISTRY}/tutorial/mine:1"):
    store.remove(ref)
store.prune()
shutil.rmtree(work)
