"""The addresses students type to reach this machine: its LAN addresses, never 0.0.0.0."""

from __future__ import annotations

import ipaddress
import socket

WILDCARDS = ("0.0.0.0", "::", "")


def join_hosts(bound: str) -> list[str]:
    """The hosts other machines reach a server bound to `bound` at: `bound` itself, or
    for a wildcard the machine's own addresses (private LAN ones first; loopback and
    link-local left out; 127.0.0.1 when there is nothing else)."""
    if bound not in WILDCARDS:
        return [bound]
    families = (socket.AF_INET, socket.AF_INET6) if bound == "::" else (socket.AF_INET,)
    found: list[ipaddress.IPv4Address | ipaddress.IPv6Address] = []
    import psutil

    for addresses in psutil.net_if_addrs().values():
        for address in addresses:
            if address.family not in families:
                continue
            try:
                ip = ipaddress.ip_address(address.address.split("%", 1)[0])
            except ValueError:
                continue
            if not (ip.is_loopback or ip.is_link_local or ip.is_unspecified):
                found.append(ip)
    found.sort(key=lambda ip: (ip.version, not ip.is_private, ip.packed))
    hosts = [str(ip) for ip in dict.fromkeys(found)]
    return hosts or ["127.0.0.1"]


def host_in_url(host: str) -> str:
    """`host` as a URL writes it: an IPv6 address in brackets."""
    return f"[{host}]" if ":" in host else host


__all__ = ["host_in_url", "join_hosts"]
