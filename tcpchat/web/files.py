"""The page's files: which URL paths exist, and the bytes and headers of each.

The web client is plain HTML, CSS and JavaScript shipped inside the package
(``tcpchat/web/static``), read once at start-up. Only the paths in
:data:`PAGES` are served; a URL never becomes a file name, so no request
can reach a file outside them, whatever dots or slashes it holds.

Every response carries a Content-Security-Policy that allows scripts,
styles and connections only from the page's own origin: no inline script,
no outside URL, so a message that somehow became markup could run nothing.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from importlib import resources
from typing import Final

__all__ = ["PAGES", "StaticFile", "load_files", "security_headers"]

PAGES: Final = {
    "/": ("index.html", "text/html; charset=utf-8"),
    "/index.html": ("index.html", "text/html; charset=utf-8"),
    "/style.css": ("style.css", "text/css; charset=utf-8"),
    "/app.mjs": ("app.mjs", "text/javascript; charset=utf-8"),
    "/irc.mjs": ("irc.mjs", "text/javascript; charset=utf-8"),
    "/chat.mjs": ("chat.mjs", "text/javascript; charset=utf-8"),
    "/history.mjs": ("history.mjs", "text/javascript; charset=utf-8"),
    "/view.mjs": ("view.mjs", "text/javascript; charset=utf-8"),
    "/ircv3.mjs": ("ircv3.mjs", "text/javascript; charset=utf-8"),
    "/icon.svg": ("icon.svg", "image/svg+xml"),
    "/favicon.ico": ("icon.svg", "image/svg+xml"),
    "/manifest.webmanifest": ("manifest.webmanifest", "application/manifest+json"),
}
"""URL path -> (file in tcpchat/web/static, Content-Type)."""


@dataclass(frozen=True, slots=True)
class StaticFile:
    body: bytes
    content_type: str
    etag: str


def load_files() -> dict[str, StaticFile]:
    """Every served path's file, read from the package once."""
    folder = resources.files("tcpchat.web") / "static"
    cache: dict[str, bytes] = {}
    files = {}
    for path, (name, content_type) in PAGES.items():
        body = cache.get(name)
        if body is None:
            body = cache[name] = (folder / name).read_bytes()
        etag = '"' + hashlib.sha256(body).hexdigest()[:20] + '"'
        files[path] = StaticFile(body, content_type, etag)
    return files


def security_headers(host: str) -> list[tuple[str, str]]:
    """Headers for every response: the page may load and connect only to its own
    origin (``host``, as the browser named it, for the WebSocket: older browsers
    do not count ws: as 'self')."""
    connect = f"'self' ws://{host} wss://{host}" if _plain_host(host) else "'self'"
    policy = (
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        f"connect-src {connect}; manifest-src 'self'; base-uri 'none'; form-action 'none'; "
        "frame-ancestors 'none'"
    )
    return [
        ("Content-Security-Policy", policy),
        ("X-Content-Type-Options", "nosniff"),
        ("Referrer-Policy", "no-referrer"),
        ("Cross-Origin-Opener-Policy", "same-origin"),
    ]


def _plain_host(host: str) -> bool:
    """Whether ``host`` can stand in a header as it is: a name or address and a port."""
    return bool(host) and len(host) < 256 and all(c.isalnum() or c in ".-:[]" for c in host)
