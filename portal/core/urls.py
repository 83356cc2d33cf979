"""Outbound URLs the portal will call (job webhooks): http(s), no credentials, and a host
that is a public address unless QH_WEBHOOKS_ALLOW_PRIVATE=1 (no requests to the portal's own
network on a user's behalf).
"""

from __future__ import annotations

import ipaddress
import socket
from urllib.parse import urlsplit

from flask import current_app

from portal.core.errors import ValidationFailed

MAX_URL = 2000


def _allow_private() -> bool:
    return bool(current_app.config.get("WEBHOOKS_ALLOW_PRIVATE"))


def _public(address: str) -> bool:
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped:
        ip = ip.ipv4_mapped
    return ip.is_global and not ip.is_multicast


def check_destination(host: str, port: int) -> None:
    """Refuse a host that is (or resolves to) a private, loopback, link-local or otherwise
    non-public address, unless QH_WEBHOOKS_ALLOW_PRIVATE=1. Raises ValueError."""
    if _allow_private():
        return
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError) as exc:
        raise ValueError(f"the host {host!r} cannot be resolved") from exc
    if not infos or not all(_public(info[4][0]) for info in infos):
        raise ValueError(f"the host {host!r} is not a public address")


def check_url(url: str | None) -> str | None:
    """A valid webhook URL (stripped) or None; ValidationFailed (422) otherwise."""
    if url is None or not str(url).strip():
        return None
    url = str(url).strip()

    def refuse(why: str):
        raise ValidationFailed(f"webhook_url: {why}.", details={"webhook_url": [why]})

    if len(url) > MAX_URL:
        refuse(f"at most {MAX_URL} characters")
    if any(ord(c) < 33 or ord(c) == 127 for c in url):
        refuse("spaces and control characters are not accepted")
    try:
        parts = urlsplit(url)
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        refuse("not a valid URL")
    if parts.scheme not in ("http", "https"):
        refuse("only http and https URLs are accepted")
    if not parts.hostname:
        refuse("the URL has no host")
    if parts.username or parts.password:
        refuse("credentials in the URL are not accepted (verify the signature instead)")
    try:
        check_destination(parts.hostname, port)
    except ValueError as exc:
        refuse(str(exc))
    return url
