"""The addresses to give people: this machine's, when the server listens on all.

A teacher who starts the server on all addresses (``--host 0.0.0.0``) needs
to read out an address the class can reach, not ``0.0.0.0``. The standard
library has no portable list of a machine's addresses, so this asks the
kernel where it can (Linux: each interface's IPv4 address, and
``/proc/net/if_inet6``), and the resolver for the machine's own name
elsewhere. Loopback and link-local addresses are left out: no other
machine can use them.
"""

from __future__ import annotations

import contextlib
import ipaddress
import socket
import struct
import sys
from pathlib import Path

__all__ = ["local_addresses", "page_urls"]

_SIOCGIFADDR = 0x8915  # Linux ioctl: an interface's IPv4 address


def _linux_ipv4() -> list[str]:
    import fcntl

    found = []
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        for _, name in socket.if_nameindex():
            request = struct.pack("256s", name.encode()[:15])
            try:
                answer = fcntl.ioctl(sock.fileno(), _SIOCGIFADDR, request)
            except OSError:  # an interface with no IPv4 address
                continue
            found.append(socket.inet_ntoa(answer[20:24]))
    return found


def _linux_ipv6() -> list[str]:
    found = []
    with contextlib.suppress(OSError):
        for line in Path("/proc/net/if_inet6").read_text().splitlines():
            digits = line.split()[0]
            found.append(str(ipaddress.IPv6Address(bytes.fromhex(digits))))
    return found


def _resolved() -> list[str]:
    with contextlib.suppress(OSError):
        infos = socket.getaddrinfo(socket.gethostname(), None, type=socket.SOCK_STREAM)
        return [str(info[4][0]) for info in infos]
    return []


def local_addresses(family: int = 0) -> list[str]:
    """This machine's addresses that others could reach (``family``: AF_INET,
    AF_INET6, or 0 for both), IPv4 first, each once."""
    candidates: list[str] = []
    if sys.platform.startswith("linux"):
        with contextlib.suppress(OSError, ImportError):
            candidates += _linux_ipv4()
        candidates += _linux_ipv6()
    if not candidates:
        candidates = _resolved()
    kept: dict[str, None] = {}
    for text in candidates:
        address = ipaddress.ip_address(text.partition("%")[0])
        if address.is_loopback or address.is_link_local or address.is_unspecified:
            continue
        if family == socket.AF_INET and address.version != 4:
            continue
        if family == socket.AF_INET6 and address.version != 6:
            continue
        kept[str(address)] = None
    return sorted(kept, key=lambda a: ipaddress.ip_address(a).version)


def _url(scheme: str, host: str, port: int) -> str:
    shown = f"[{host}]" if ":" in host else host
    default = (scheme == "http" and port == 80) or (scheme == "https" and port == 443)
    return f"{scheme}://{shown}/" if default else f"{scheme}://{shown}:{port}/"


def page_urls(listening: list[tuple[str, int]], scheme: str) -> list[str]:
    """A URL for each address the page can be reached at: the listening
    address, or every address of the machine where it listens on all."""
    urls: dict[str, None] = {}
    for host, port in listening:
        if host in ("0.0.0.0", "::"):
            family = socket.AF_INET if host == "0.0.0.0" else 0
            hosts = local_addresses(family) or ["localhost"]
        else:
            hosts = [host]
        for name in hosts:
            urls[_url(scheme, name, port)] = None
    return list(urls)
