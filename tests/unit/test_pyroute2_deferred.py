"""pyroute2 loaded without its package body (pycontainers.network._pyroute2): only what tc
needs is imported, and the rest of the package still works for anyone who asks. A
container's own links (pycontainers.network.links) import no pyroute2 at all.
"""

from __future__ import annotations

import subprocess
import sys

CODE = """
import sys
from pycontainers.network.links import link_names

assert "lo" in link_names()  # a real netlink dump, without pyroute2
assert not [m for m in sys.modules if m.startswith("pyroute2")]
from pycontainers.network._pyroute2 import iproute, netlink_error

with iproute() as ipr:  # what tc uses
    assert "lo" in [link.get("IFLA_IFNAME") for link in ipr.get_links()]
before = sorted(m for m in sys.modules if m.startswith("pyroute2"))
import pyroute2
from pyroute2 import IPRoute, NetlinkError

print(len(before), int("pyroute2.ndb.main" in before), int(pyroute2.NDB.__name__ == "NDB"),
      int(IPRoute is pyroute2.iproute.IPRoute), int(NetlinkError is netlink_error()),
      int("pyroute2.ndb.main" in sys.modules))
"""


def test_iproute_skips_the_package_body_and_the_package_still_loads_whole() -> None:
    r = subprocess.run([sys.executable, "-c", CODE], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    count, ndb_before, ndb_name, same_iproute, same_error, ndb_after = map(int, r.stdout.split())
    assert 0 < count < 130  # pyroute2's whole package is some 160 modules
    assert ndb_before == 0
    assert (ndb_name, same_iproute, same_error, ndb_after) == (1, 1, 1, 1)
