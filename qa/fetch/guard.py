"""Server-side request forgery guard: only public internet addresses may be fetched.

A URL from a feed or a list can name ``localhost``, a router's ``192.168.1.1``, or the cloud
metadata service at ``169.254.169.254``; a host name can resolve to any of those, and resolve
differently a second time (DNS rebinding). So the host is resolved once, every address it
resolves to is checked, and the connection goes to a checked address, never to the name again.
Redirects are checked the same way, hop by hop. ``allow_private`` opens private and loopback
ranges explicitly (a fetch from an intranet, or tests on 127.0.0.1).
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from qa.errors import QAError

Address = ipaddress.IPv4Address | ipaddress.IPv6Address
Resolver = Callable[[str, int], Sequence[str]]

# Named in refusals; `is_global` below is what decides.
_RANGES: tuple[tuple[str, str], ...] = (
    ("0.0.0.0/8", "this-network"),
    ("10.0.0.0/8", "private"),
    ("100.64.0.0/10", "carrier-grade NAT"),
    ("127.0.0.0/8", "loopback"),
    ("169.254.0.0/16", "link-local (cloud metadata lives at 169.254.169.254)"),
    ("172.16.0.0/12", "private"),
    ("192.0.0.0/24", "IETF protocol assignments"),
    ("192.168.0.0/16", "private"),
    ("198.18.0.0/15", "benchmarking"),
    ("224.0.0.0/4", "multicast"),
    ("240.0.0.0/4", "reserved"),
    ("::1/128", "loopback"),
    ("::/128", "unspecified"),
    ("fc00::/7", "unique local (private; fd00:ec2::254 is a cloud metadata address)"),
    ("fe80::/10", "link-local"),
    ("ff00::/8", "multicast"),
)
_PRIVATE_KINDS = ("private", "loopback", "unique local", "carrier-grade NAT")


class ForbiddenAddressError(QAError):
    """A URL that leads to an address the policy refuses."""


def _kind(address: Address) -> str:
    for network, kind in _RANGES:
        if address in ipaddress.ip_network(network):
            return kind
    return "not a public internet address"


def system_resolver(host: str, port: int) -> list[str]:
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


@dataclass(frozen=True)
class AddressPolicy:
    """Which addresses may be fetched: public ones, plus private and loopback when allowed.

    Link-local (cloud metadata), multicast, unspecified and reserved addresses are refused even
    with ``allow_private``.
    """

    allow_private: bool = False
    resolver: Resolver = field(default=system_resolver, compare=False)

    def check(self, address: str) -> Address:
        """The address, parsed, or ForbiddenAddressError naming its range."""
        ip = ipaddress.ip_address(address.split("%", 1)[0])  # drop an IPv6 zone id
        if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
            ip = ip.ipv4_mapped  # ::ffff:127.0.0.1 is 127.0.0.1
        if ip.is_global and not ip.is_multicast:
            return ip
        kind = _kind(ip)
        if self.allow_private and any(kind.startswith(k) for k in _PRIVATE_KINDS):
            return ip
        raise ForbiddenAddressError(
            f"refused to connect to {ip} ({kind}). Only public addresses are fetched; "
            + (
                "this range stays refused even with --allow-private."
                if self.allow_private or not any(kind.startswith(k) for k in _PRIVATE_KINDS)
                else "pass --allow-private to fetch from private or loopback addresses."
            )
        )

    def resolve(self, host: str, port: int) -> Address:
        """One checked address of ``host``: every address it resolves to must pass."""
        try:
            literal = ipaddress.ip_address(host.strip("[]").split("%", 1)[0])
        except ValueError:
            literal = None
        if literal is not None:
            return self.check(str(literal))
        try:
            addresses = list(self.resolver(host, port))
        except (OSError, UnicodeError) as err:
            raise QAError(f"cannot resolve {host!r} ({err})") from None
        if not addresses:
            raise QAError(f"{host!r} resolves to no address")
        checked = [self.check(a) for a in addresses]  # one bad answer refuses the host
        return checked[0]
