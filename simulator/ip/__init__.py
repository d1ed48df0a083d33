"""The IP layer: IPv4 datagrams, ICMP and routing tables (RFC 791, 792, 1812).

Sans-IO and clock-free like every protocol layer here: functions take bytes and
return bytes or plain values; the simulation decides when things happen.
"""

from __future__ import annotations

from simulator.ip.checksum import internet_checksum, ones_complement_sum, pseudo_header_sum
from simulator.ip.icmp import (
    DEST_UNREACHABLE,
    ECHO_REPLY,
    ECHO_REQUEST,
    HOST_UNREACHABLE,
    NET_UNREACHABLE,
    PORT_UNREACHABLE,
    PROTOCOL_UNREACHABLE,
    TIME_EXCEEDED,
    TTL_EXCEEDED_IN_TRANSIT,
    IcmpMessage,
    describe,
    destination_unreachable,
    echo_reply,
    echo_reply_to,
    echo_request,
    may_send_error,
    parse_icmp,
    time_exceeded,
)
from simulator.ip.packet import (
    PROTO_ICMP,
    PROTO_TCP,
    PROTO_UDP,
    IPv4Header,
    address_text,
    build_ipv4,
    decrement_ttl,
    header_checksum_ok,
    header_length,
    pack_address,
    parse_ipv4,
    payload_of,
    update_checksum,
)
from simulator.ip.routing import Decision, Route, RoutingTable, next_hop_for, table_lines

__all__ = [
    "DEST_UNREACHABLE",
    "ECHO_REPLY",
    "ECHO_REQUEST",
    "HOST_UNREACHABLE",
    "NET_UNREACHABLE",
    "PORT_UNREACHABLE",
    "PROTOCOL_UNREACHABLE",
    "PROTO_ICMP",
    "PROTO_TCP",
    "PROTO_UDP",
    "TIME_EXCEEDED",
    "TTL_EXCEEDED_IN_TRANSIT",
    "Decision",
    "IPv4Header",
    "IcmpMessage",
    "Route",
    "RoutingTable",
    "address_text",
    "build_ipv4",
    "decrement_ttl",
    "describe",
    "destination_unreachable",
    "echo_reply",
    "echo_reply_to",
    "echo_request",
    "header_checksum_ok",
    "header_length",
    "internet_checksum",
    "may_send_error",
    "next_hop_for",
    "ones_complement_sum",
    "pack_address",
    "parse_icmp",
    "parse_ipv4",
    "payload_of",
    "pseudo_header_sum",
    "table_lines",
    "time_exceeded",
    "update_checksum",
]
