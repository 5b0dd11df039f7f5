"""Which web addresses may be fetched: http(s) links to public hosts, checked at every redirect,
connected to through the address that was checked (no second DNS lookup between check and use)."""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable

import httpx

from retrieval.errors import FetchError

Resolver = Callable[[str], list[str]]
_METADATA_IPS = frozenset({ipaddress.ip_address("169.254.169.254"), ipaddress.ip_address("fd00:ec2::254")})


def system_resolver(host: str) -> list[str]:
    """Every address ``host`` resolves to (raises ``OSError`` when it does not resolve)."""
    infos = socket.getaddrinfo(host, None, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(str(info[4][0]).split("%")[0] for info in infos))


def is_blocked_address(address: str) -> bool:
    """True for loopback, private, link-local, multicast, reserved, unspecified and metadata addresses."""
    ip = ipaddress.ip_address(address)
    if isinstance(ip, ipaddress.IPv6Address):
        embedded = ip.ipv4_mapped or ip.sixtofour or (ip.teredo[1] if ip.teredo else None)
        if embedded is not None and is_blocked_address(str(embedded)):
            return True
    return (
        ip in _METADATA_IPS or not ip.is_global or ip.is_loopback or ip.is_private or ip.is_link_local
        or ip.is_multicast or ip.is_reserved or ip.is_unspecified
    )


def safe_url(url: httpx.URL | str) -> str:
    """The URL as shown in messages: no user name, password, query string or fragment."""
    try:
        u = httpx.URL(str(url))
        port = f":{u.port}" if u.port else ""
        host = f"[{u.host}]" if ":" in u.host else u.host
        return f"{u.scheme}://{host}{port}{u.path}"
    except (httpx.InvalidURL, ValueError):
        return "that URL"


def check_url(url: httpx.URL) -> None:
    if url.scheme not in ("http", "https"):
        scheme = f"{url.scheme}://" if url.scheme else "a link without http:// or https://"
        raise FetchError(f"Only http:// and https:// links can be fetched, not {scheme}.",
                         hint="Give a web address starting with https://.")
    if not url.host:
        raise FetchError("That link has no host name.", hint="Give a web address such as https://example.com/news.")
    if url.userinfo:
        raise FetchError("Links with a user name or password in them are not accepted.")


def pin(url: httpx.URL, resolver: Resolver) -> tuple[httpx.URL, dict[str, str]]:
    """Check every address of the host and connect to a checked one (no second DNS lookup)."""
    host = url.host
    try:
        addresses = [str(ipaddress.ip_address(host))]
    except ValueError:
        try:
            addresses = resolver(host)
        except OSError:
            raise FetchError(f"Could not find the server {host}.", hint="Check the link for typos.") from None
    if not addresses:
        raise FetchError(f"Could not find the server {host}.", hint="Check the link for typos.")
    if any(is_blocked_address(a) for a in addresses):
        raise FetchError(f"{safe_url(url)} points to a private or local network address, which is not allowed.",
                         hint="Only public web pages can be fetched.")
    if addresses[0] == host:
        return url, {}
    host_header = host if url.port is None else f"{host}:{url.port}"
    return url.copy_with(host=addresses[0]), {"Host": host_header, "sni": host}
