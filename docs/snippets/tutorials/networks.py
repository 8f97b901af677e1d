import urllib.request

import pycontainers as pc
from pycontainers.testing import wait_for_http, wait_for_port

# 1. A user network: its own bridge, subnet and name resolution between its containers.
net = pc.Network.create("tutorial", subnet="10.89.42.0/24")
print(net.bridge, net.subnet, net.gateway)

# 2. A web server on it, published on the host's port 8080 (Docker's -p 8080:80).
web = pc.Container.create(
    "host",
    [
        "sh",
        "-c",
        "mkdir -p /tmp/www && echo hello from web > /tmp/www/index.html "
        "&& exec busybox httpd -f -p 80 -h /tmp/www",
    ],
    detach=True,
    name="web",
    network="tutorial",
    ports={"80/tcp": ("127.0.0.1", 8080)},
)
web.start()
try:
    wait_for_port(web, 80)

    # 3. Another container on the network reaches it by name.
    r = pc.run(
        "host", ["busybox", "wget", "-qO-", "http://web/"], network="tutorial", capture_output=True
    )
    print(r.stdout)  # b'hello from web\n'
    assert r.stdout == b"hello from web\n"

    # 4. The host reaches it through the published port.
    body = wait_for_http("http://127.0.0.1:8080/")
    assert body == b"hello from web\n"
    with urllib.request.urlopen("http://127.0.0.1:8080/") as reply:
        print(reply.status, reply.read())

    # 5. A container without network has only lo.
    r = pc.run("host", ["ls", "/sys/class/net"], network="none", capture_output=True)
    assert r.stdout == b"lo\n"
finally:
    web.stop(timeout=1)
    web.wait()
    web.delete()
    net.remove()
