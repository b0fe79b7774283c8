"""Where the operator may connect on a tenant's behalf: allowed destinations per channel type, deny by default.

Anyone who may create a ModelMonitor configures outbound calls made from the operator's network position and
with its identity: a webhook URL, an SMS provider's base URL or SNS endpoint, an SMTP host. Unchecked, that is
server-side request forgery (the cloud metadata service at 169.254.169.254, the API server, cluster services).
So every destination is checked before connecting, after DNS resolution:

1. its scheme must be one the channel type allows (``https`` unless more are listed);
2. its host must match an allowed host (``name`` or ``*.domain``), or every address it resolves to must lie
   in an allowed CIDR;
3. every address it resolves to must be public, or inside an allowed CIDR: loopback, link-local (cloud
   metadata), private and cluster-internal, carrier-grade NAT, unique-local, multicast and reserved ranges are
   refused even for an allowed name (a tenant's DNS could point an allowed name at them).

Redirects are never followed (``allow_redirects=False``; a 3xx is a failed delivery), so no unchecked host is
reached that way. What remains (stated in docs/reliability.md): a name is resolved again by the HTTP/SMTP
library after the check, so a DNS server answering differently within that moment is not caught.

The operator's cloud identity (an SNS client without credentials in the tenant's Secret, e.g. IRSA) is used
for a tenant's channel only when its namespace is listed in ``cloud_identity_namespaces``.
"""

from __future__ import annotations

import fnmatch
import ipaddress
import socket
import urllib.parse
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field

from modelmonitor.alerts.errors import HostNotAllowedError

__all__ = [
    "CHANNEL_KINDS",
    "DestinationRule",
    "OutboundPolicy",
    "default_resolve",
    "parse_allow_flags",
]

# mlflow (spec.model.registry.mlflow) and git (spec.rollback.target.git) are the operator's own calls too; s3
# (spec.data.store.endpoint) is reached by the evaluation pods the operator starts (services/monitors.py).
CHANNEL_KINDS = ("email", "webhook", "sms", "mlflow", "git", "s3")
IpNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
IpAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
Resolver = Callable[[str, int], list[str]]

# Ranges a tenant must not reach through the operator unless an allowed CIDR covers them.
_INTERNAL = tuple(ipaddress.ip_network(cidr) for cidr in (
    "0.0.0.0/8", "10.0.0.0/8", "100.64.0.0/10", "127.0.0.0/8", "169.254.0.0/16", "172.16.0.0/12",
    "192.0.0.0/24", "192.168.0.0/16", "198.18.0.0/15", "224.0.0.0/4", "240.0.0.0/4",
    "::/128", "::1/128", "::ffff:0:0/96", "64:ff9b::/96", "fc00::/7", "fe80::/10", "ff00::/8",
))
_DEFAULT_PORTS = {"http": 80, "https": 443}


def default_resolve(host: str, port: int) -> list[str]:
    """Every address `host` resolves to (an IP literal resolves to itself)."""
    return sorted({str(info[4][0]) for info in socket.getaddrinfo(host, port, proto=socket.IPPROTO_TCP)})


def _internal(address: IpAddress) -> bool:
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return _internal(address.ipv4_mapped)
    return any(address.version == network.version and address in network for network in _INTERNAL)


@dataclass(frozen=True)
class DestinationRule:
    """The destinations one channel type may reach."""

    hosts: tuple[str, ...] = ()
    cidrs: tuple[IpNetwork, ...] = ()
    schemes: tuple[str, ...] = ("https",)

    def host_listed(self, host: str) -> bool:
        return any(fnmatch.fnmatchcase(host.lower(), pattern.lower()) for pattern in self.hosts)

    def covers(self, address: IpAddress) -> bool:
        return any(address.version == network.version and address in network for network in self.cidrs)


@dataclass(frozen=True)
class OutboundPolicy:
    """Allowed destinations per channel type (``email``, ``webhook``, ``sms``); none listed: none allowed."""

    rules: Mapping[str, DestinationRule] = field(default_factory=dict)
    cloud_identity_namespaces: frozenset[str] = frozenset()
    resolve: Resolver = default_resolve

    def check_url(self, kind: str, url: str, *, channel: str) -> None:
        """Raise ``HostNotAllowedError`` (naming the channel and host, never the URL) unless `url` is allowed."""
        parsed = urllib.parse.urlsplit(url)
        scheme, host = parsed.scheme.lower(), parsed.hostname or ""
        rule = self.rules.get(kind, DestinationRule())
        if scheme not in rule.schemes:
            raise HostNotAllowedError(
                f"channel {channel!r}: scheme {scheme or '(none)'!r} of host {host!r} is not allowed for {kind} "
                f"channels (allowed: {', '.join(rule.schemes) or 'none'})", reason="DestinationNotAllowed")
        try:
            port = parsed.port or _DEFAULT_PORTS.get(scheme, 443)
        except ValueError:
            raise HostNotAllowedError(f"channel {channel!r}: the URL of host {host!r} has an invalid port",
                                      reason="DestinationNotAllowed") from None
        self.check_host(kind, host, port, channel=channel)

    def check_host(self, kind: str, host: str, port: int, *, channel: str) -> None:
        """Raise ``HostNotAllowedError`` unless `host` (and every address it resolves to) is allowed."""
        rule = self.rules.get(kind, DestinationRule())
        if not host:
            raise HostNotAllowedError(f"channel {channel!r}: no host to connect to", reason="DestinationNotAllowed")
        try:
            addresses = [ipaddress.ip_address(text.split("%", 1)[0]) for text in self.resolve(host, port)]
        except (OSError, ValueError) as error:
            raise HostNotAllowedError(f"channel {channel!r}: host {host!r} cannot be resolved ({error}); "
                                      "not connecting", reason="DestinationUnresolved") from None
        if not addresses:
            raise HostNotAllowedError(f"channel {channel!r}: host {host!r} resolves to no address",
                                      reason="DestinationUnresolved")
        if not rule.host_listed(host) and not all(rule.covers(address) for address in addresses):
            raise HostNotAllowedError(
                f"channel {channel!r}: host {host!r} is not an allowed destination for {kind} channels "
                "(the operator's outbound allow-list, chart value operator.outbound)", reason="DestinationNotAllowed")
        for address in addresses:
            if _internal(address) and not rule.covers(address):
                raise HostNotAllowedError(
                    f"channel {channel!r}: host {host!r} resolves to {address}, an internal address (loopback, "
                    f"link-local, private or cluster range) not allowed for {kind} channels",
                    reason="DestinationNotAllowed")

    def cloud_identity_allowed(self, namespace: str) -> bool:
        return namespace in self.cloud_identity_namespaces


def parse_allow_flags(values: Iterable[str], cloud_identity_namespaces: Iterable[str] = (),
                      resolve: Resolver = default_resolve) -> OutboundPolicy:
    """``--allow-outbound`` values (``webhook:host=hooks.slack.com``, ``email:cidr=10.1.0.0/16``,
    ``sms:scheme=http``) into a policy. A kind given a scheme keeps only its listed schemes (default https)."""
    hosts: dict[str, list[str]] = {}
    cidrs: dict[str, list[IpNetwork]] = {}
    schemes: dict[str, list[str]] = {}
    for value in values:
        kind, _, rest = value.partition(":")
        what, _, item = rest.partition("=")
        if kind not in CHANNEL_KINDS or what not in ("host", "cidr", "scheme") or not item:
            raise ValueError(f"--allow-outbound {value!r}: expected <{'|'.join(CHANNEL_KINDS)}>:"
                             "<host|cidr|scheme>=<value>, e.g. webhook:host=hooks.slack.com")
        if what == "host":
            hosts.setdefault(kind, []).append(item)
        elif what == "cidr":
            try:
                cidrs.setdefault(kind, []).append(ipaddress.ip_network(item, strict=False))
            except ValueError:
                raise ValueError(f"--allow-outbound {value!r}: {item!r} is not a CIDR") from None
        else:
            schemes.setdefault(kind, []).append(item.lower())
    rules = {kind: DestinationRule(hosts=tuple(hosts.get(kind, ())), cidrs=tuple(cidrs.get(kind, ())),
                                   schemes=tuple(schemes.get(kind, ["https"])))
             for kind in CHANNEL_KINDS}
    return OutboundPolicy(rules=rules, cloud_identity_namespaces=frozenset(cloud_identity_namespaces),
                          resolve=resolve)
