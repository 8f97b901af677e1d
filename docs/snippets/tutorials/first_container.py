import pycontainers as pc

# 1. Run a command in a new container and wait for it, like subprocess.run.
#    "host" is the built-in image: the host's /usr, /bin, /sbin and /lib* read-only,
#    a fresh writable /tmp and a minimal /etc.
r = pc.run("host", ["sh", "-c", "echo hello; hostname"], hostname="box", capture_output=True)
print(r.returncode, r.stdout)  # 0 b'hello\nbox\n'
assert r.stdout == b"hello\nbox\n"

# 2. It is a container: PID 1 is our shell, and there is no network but lo.
r = pc.run("host", ["sh", "-c", "echo $$; ls /sys/class/net"], capture_output=True)
assert r.stdout.split() == [b"1", b"lo"]

# 3. Limits come from a cgroup of the container's own.
r = pc.run("host", ["true"], memory="64m", pids_limit=64, cpus=0.5)
assert r.returncode == 0 and not r.oom_killed

# 4. Errors are exceptions with the stage that failed and Docker's exit code.
try:
    pc.run("host", ["no-such-command"])
except pc.ContainerStartError as e:
    print(e.stage, e.exit_code)  # 127: the command was not found
    assert e.exit_code == 127

# 5. check=True raises on a non-zero exit status, as subprocess.run does.
try:
    pc.run("host", ["sh", "-c", "exit 3"], check=True)
except pc.ContainerExitError as e:
    print(e)

# 6. Bad input is refused where it is written, naming the field.
try:
    pc.Mount("relative/path", "/srv")
except pc.SpecError as e:
    print(e.field)  # Mount.target
    assert e.field == "Mount.target"
