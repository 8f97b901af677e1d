import pycontainers as pc
from pycontainers.testing import wait_for_health, wait_for_log

# 1. A detached container is the child of its own small monitor (pycontainers-monitor),
#    not of this process: this script may exit and the container goes on.
c = pc.Container.create(
    "host",
    ["sh", "-c", "while true; do date; echo tick >&2; sleep 1; done"],
    detach=True,
    name="clock",
    restart="on-failure:3",
    healthcheck=pc.HealthCheck("test -d /tmp", interval="1s"),
)
c.start()

# 2. Any other process finds it by name or id.
c = pc.Container.load("clock")
print(c.id[:12], c.status)  # running

# 3. The monitor keeps a json-file log; read it (follow=True streams it).
wait_for_log(c, "tick")
for entry in c.logs(tail=2):
    print(entry.time, entry.stream, entry.data)

# 4. exec runs another process inside, confined like the first one.
r = c.exec(["ps", "-o", "pid,args"], capture_output=True)
print(r.stdout.decode())  # PID 1 is the shell
assert b"while true" in r.stdout

# 5. Health, inspect, stop, wait, delete.
wait_for_health(c)
print(c.health, c.inspect()["State"]["Status"])
c.stop(timeout=2)
print("exit status", c.wait())
c.delete()
