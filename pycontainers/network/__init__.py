"""Container networking: IPAM and links (bridge, veth) over netlink with pyroute2.

pyroute2 is imported lazily, on the first netlink call.
"""

from pycontainers.network.ipam import AddressExhausted, Ipam, IpamCorrupt, IpamError, Subnet
from pycontainers.network.links import (
    NetworkError,
    VethPair,
    check_ifname,
    create_veth_into,
    delete_link,
    ensure_bridge,
    host_veth_name,
    link_names,
)

__all__ = [
    "AddressExhausted",
    "Ipam",
    "IpamCorrupt",
    "IpamError",
    "NetworkError",
    "Subnet",
    "VethPair",
    "check_ifname",
    "create_veth_into",
    "delete_link",
    "ensure_bridge",
    "host_veth_name",
    "link_names",
]
