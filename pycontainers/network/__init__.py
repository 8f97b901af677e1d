"""Container networking: IPAM and links (bridge, veth) over netlink with pyroute2; published
ports and their host-port leases; netfilter rules through libnftables.

pyroute2 and libnftables (cffi) are loaded lazily, on first use; so are this package's names.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from pycontainers._lazy import lazy_exports

# Names load on first use: reading one container's endpoint (``ps``, ``inspect``) must not
# load the links (asyncio), nftables and port-lease modules.
_EXPORTS = {
    "AddressExhausted": "pycontainers.network.ipam",
    "Ipam": "pycontainers.network.ipam",
    "IpamCorrupt": "pycontainers.network.ipam",
    "IpamError": "pycontainers.network.ipam",
    "Netfilter": "pycontainers.network.nft",
    "NetfilterError": "pycontainers.network.nft",
    "NetworkError": "pycontainers.network.links",
    "PortAllocator": "pycontainers.network.ports",
    "PortError": "pycontainers.network.ports",
    "PortInUse": "pycontainers.network.ports",
    "PortLeasesCorrupt": "pycontainers.network.ports",
    "PortMapping": "pycontainers.network.ports",
    "Subnet": "pycontainers.network.ipam",
    "VethPair": "pycontainers.network.links",
    "check_ifname": "pycontainers.network.links",
    "create_veth_into": "pycontainers.network.links",
    "delete_link": "pycontainers.network.links",
    "ensure_bridge": "pycontainers.network.links",
    "host_veth_name": "pycontainers.network.links",
    "link_names": "pycontainers.network.links",
    "parse_ports": "pycontainers.network.ports",
}

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

if TYPE_CHECKING:
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


__getattr__, __dir__ = lazy_exports(__name__, globals(), _EXPORTS)
