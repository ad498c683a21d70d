"""Which addresses the collector may connect to, checked after DNS resolution on every connection.

A source names a host; the host is resolved once, every address it resolves to is checked, and the
socket is opened to a checked address (no second lookup, so DNS rebinding cannot slip a different
address in between). The Host header and TLS SNI/certificate check still use the host name. Because
the check sits in the connection class, it runs for the first request and for every redirect hop.
"""

from __future__ import annotations

import ipaddress
import socket
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool
from urllib3.exceptions import ConnectTimeoutError, NameResolutionError, NewConnectionError
from urllib3.util.connection import allowed_gai_family, create_connection

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

UNIQUE_LOCAL = ipaddress.ip_network("fc00::/7")
SETTING = "collect.allow_private_addresses"


class AddressRefused(Exception):
    """A connection the address policy forbids. Deliberately not an OSError: urllib3 must not retry
    it nor word it as a connection failure (which would tell an open port from a closed one)."""


@dataclass(frozen=True)
class AddressPolicy:
    allow_private: bool = False
    allowed_networks: tuple[IPNetwork, ...] = ()

    @classmethod
    def from_settings(cls, allow_private: bool, networks: Sequence[str]) -> AddressPolicy:
        return cls(allow_private, tuple(ipaddress.ip_network(net, strict=False) for net in networks))

    def refusal(self, address: IPAddress) -> str | None:
        """Why `address` may not be fetched, or None when it may."""
        if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
            address = address.ipv4_mapped
        if any(address in network for network in self.allowed_networks):
            return None
        always = _always_refused(address)
        if always:
            return f"{always} (only collect.allowed_networks can open it)"
        rule = _private_rule(address)
        if rule and not self.allow_private:
            return f"{rule} ({SETTING} is off)"
        return None


def _always_refused(address: IPAddress) -> str | None:
    # Never a feed, and link-local holds the cloud metadata endpoints (169.254.169.254).
    if address.is_unspecified:
        return "an unspecified address"
    if address.is_multicast:
        return "a multicast address"
    if address.is_link_local:
        return "a link-local address"
    return None


def _private_rule(address: IPAddress) -> str | None:
    if address.is_loopback:
        return "a loopback address"
    if address in UNIQUE_LOCAL:
        return "a unique-local address"
    if address.is_private:
        return "a private address"
    if address.is_reserved or not address.is_global:
        return "a reserved address"
    return None


def check_host(host: str, port: int, policy: AddressPolicy) -> list[tuple[Any, ...]]:
    """Resolve `host` once; refuse it if any address it resolves to is refused; return the addresses."""
    bare = host.strip("[]")
    infos = socket.getaddrinfo(bare, port, allowed_gai_family(), socket.SOCK_STREAM)
    for info in infos:
        text = str(info[4][0]).split("%", 1)[0]
        address = ipaddress.ip_address(text)
        reason = policy.refusal(address)
        if reason:
            named = f"{address} is" if bare == text else f"{bare} resolves to {address},"
            raise AddressRefused(f"refused: {named} {reason}")
    return infos


def connect_checked(
    host: str, port: int, policy: AddressPolicy, timeout: Any, source_address: Any, socket_options: Any
) -> socket.socket:
    """A socket to one of the checked addresses of `host` (tried in the resolver's order)."""
    error: OSError | None = None
    for info in check_host(host, port, policy):
        family, address = info[0], info[4]
        target = address[0] if family == socket.AF_INET else f"[{address[0]}]"
        try:
            # A literal address: urllib3's create_connection resolves it without asking DNS.
            return create_connection((target, port), timeout, source_address, socket_options)
        except OSError as failed:
            error = failed
    raise error or OSError("the host name resolved to no address")


class _CheckedMixin:
    address_policy: AddressPolicy

    def _new_conn(self) -> socket.socket:  # urllib3's, with the policy between resolving and connecting
        conn: Any = self
        try:
            sock = connect_checked(
                conn._dns_host, conn.port, self.address_policy, conn.timeout, conn.source_address, conn.socket_options
            )
        except socket.gaierror as error:
            raise NameResolutionError(conn.host, conn, error) from error
        except TimeoutError as error:
            raise ConnectTimeoutError(conn, f"Connection to {conn.host} timed out.") from error
        except OSError as error:
            raise NewConnectionError(conn, f"Failed to establish a new connection: {error}") from error
        sys.audit("http.client.connect", conn, conn.host, conn.port)
        return sock


class CheckedHTTPAdapter(HTTPAdapter):
    """An HTTPAdapter whose connections (http and https) obey an AddressPolicy."""

    def __init__(self, policy: AddressPolicy, **kwargs: Any) -> None:
        http = type("CheckedHTTPConnection", (_CheckedMixin, HTTPConnection), {"address_policy": policy})
        https = type("CheckedHTTPSConnection", (_CheckedMixin, HTTPSConnection), {"address_policy": policy})
        self._pool_classes = {
            "http": type("CheckedHTTPConnectionPool", (HTTPConnectionPool,), {"ConnectionCls": http}),
            "https": type("CheckedHTTPSConnectionPool", (HTTPSConnectionPool,), {"ConnectionCls": https}),
        }
        super().__init__(**kwargs)

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, **kwargs)
        # A fresh dict: the manager's default is urllib3's module-level one, shared by everyone.
        self.poolmanager.pool_classes_by_scheme = dict(self._pool_classes)

    def proxy_manager_for(self, proxy: str, **proxy_kwargs: Any) -> Any:
        raise AddressRefused("refused: fetching through a proxy would bypass the address checks")
