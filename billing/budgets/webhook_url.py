"""Which alert webhook URLs a budget may carry.

The gateway POSTs alerts from inside its own network. An operator may point them anywhere; a
tenant admin may not point them at the gateway's neighbours (loopback, private, link-local
addresses: a metadata service, an internal admin port), or the gateway would make requests there
on the tenant's behalf. The host is resolved when the budget is saved; a name that later resolves
elsewhere (DNS rebinding) is not caught here.
"""

from __future__ import annotations

import ipaddress
import socket
from urllib.parse import urlsplit


class WebhookURLError(ValueError):
    pass


def _addresses(host: str) -> list[ipaddress.IPv4Address | ipaddress.IPv6Address]:
    try:
        return [ipaddress.ip_address(host)]
    except ValueError:
        pass
    try:
        infos = socket.getaddrinfo(host, None, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError, ValueError) as exc:
        raise WebhookURLError(f"the alert webhook's host {host!r} does not resolve") from exc
    return [ipaddress.ip_address(info[4][0].split("%", 1)[0]) for info in infos]


def check_webhook_url(url: str, allow_private: bool) -> None:
    """Raise WebhookURLError unless `url` is an http(s) URL with a host; unless `allow_private`,
    one whose host resolves to public addresses only."""
    try:
        parts = urlsplit(url)
        hostname, _ = parts.hostname, parts.port  # both parse (and raise) lazily: "http://[::1", a port of 99999
    except ValueError as exc:
        raise WebhookURLError(f"the alert webhook is not a valid URL: {exc}") from exc
    if parts.scheme not in ("http", "https") or not hostname:
        raise WebhookURLError("the alert webhook must be an http(s) URL with a host")
    if allow_private:
        return
    for address in _addresses(hostname):
        if not address.is_global:
            raise WebhookURLError(f"the alert webhook may not point at a non-public address ({address}); ask an operator")
