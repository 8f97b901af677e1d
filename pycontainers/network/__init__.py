"""Container networking: IPAM and links (bridge, veth) over netlink with pyroute2; published
ports and their host-port leases; netfilter rules through libnftables.

pyroute2 and libnftables (cffi) are loaded lazily, on first use.
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
from pycontainers.network.nft import Netfilter, NetfilterError
from pycontainers.network.ports import (
    PortAllocator,
    PortError,
    PortInUse,
    PortLeasesCorrupt,
    PortMapping,
    parse_ports,
)

__all__ = [
    "AddressExhausted",
    "Ipam",
    "IpamCorrupt",
    "IpamError",
    "Netfilter",
    "NetfilterError",
    "NetworkError",
    "PortAllocator",
    "PortError",
    "PortInUse",
    "PortLeasesCorrupt",
    "PortMapping",
    "Subnet",
    "VethPair",
    "check_ifname",
    "create_veth_into",
    "delete_link",
    "ensure_bridge",
    "host_veth_name",
    "link_names",
    "parse_ports",
]
