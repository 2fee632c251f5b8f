"""Where to connect and as whom, remembered between runs.

Settings live in ``$XDG_CONFIG_HOME/tcpchat/client.json`` (or
``~/.config/tcpchat/client.json``), following the XDG base directory
specification. The file carries a version and an unknown one is ignored
rather than misread. Neither the connection password nor the account's is
ever written to it: a file in a home directory is no place for a secret
(:mod:`~tcpchat.client.keychain` hands the account's to the OS keyring).
The fingerprints of certificates the person chose to trust are kept, per
host and port, as a browser keeps its exceptions. A client certificate is
kept as the paths of its files (the certificate, and the key when it is not
in the same file): the key stays where the person put it.
"""

from __future__ import annotations

import contextlib
import getpass
import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Final

from tcpchat.client.accounts import AccountAction, Credentials
from tcpchat.client.history import DEFAULT_LINES
from tcpchat.irc import casefold, valid_channel, valid_nick

__all__ = [
    "DEFAULT_CHANNEL",
    "DEFAULT_HOST",
    "DEFAULT_PORT",
    "DEFAULT_TLS_PORT",
    "Settings",
    "config_path",
    "load_settings",
    "save_settings",
    "suggest_nick",
]

DEFAULT_HOST: Final = "127.0.0.1"
DEFAULT_PORT: Final = 9000
DEFAULT_TLS_PORT: Final = 6697
"""The port IRC over TLS uses (RFC 7194)."""
DEFAULT_CHANNEL: Final = "#lobby"
FILE_VERSION: Final = 1
# RFC 2812 allows only 9 characters; every server accepts at least that.
SAFE_NICKLEN: Final = 9
MAX_HISTORY_LINES: Final = 10_000
"""More history lines than this at a join would only slow the window down."""


@dataclass(frozen=True, slots=True)
class Settings:
    """One server to connect to, and how to present ourselves there."""

    host: str = DEFAULT_HOST
    port: int = DEFAULT_PORT
    nick: str = ""
    password: str = ""
    channels: tuple[str, ...] = (DEFAULT_CHANNEL,)
    history_lines: int = DEFAULT_LINES  # shown on joining a channel, and per scroll to the top
    tls: bool = False
    account: str = ""
    account_action: AccountAction = AccountAction.NONE
    account_password: str = ""  # never saved: the OS keyring keeps it, if anything does
    # Certificates trusted by the person, as (host:port, SHA-256 fingerprint).
    trusted: tuple[tuple[str, str], ...] = ()
    # A certificate of our own to show the server (PEM), and its key when in another file.
    client_cert: str = ""
    client_key: str = ""
    bell: bool = True  # rung when someone says our nick or writes to us, the window behind
    # Tell the others in a conversation when we are typing (IRCv3 +typing).
    send_typing: bool = True

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"

    @property
    def presents_certificate(self) -> bool:
        """Whether the connection shows a client certificate: one is set, and TLS is on."""
        return self.tls and bool(self.client_cert)

    def pinned(self) -> str:
        """The fingerprint trusted for this server, or "" when the usual checks apply."""
        return dict(self.trusted).get(self.address, "")

    def trusting(self, fingerprint: str) -> Settings:
        """These settings, with ``fingerprint`` trusted for this server (replacing any)."""
        kept = tuple((a, f) for a, f in self.trusted if a != self.address)
        return replace(self, trusted=(*kept, (self.address, fingerprint)))

    def credentials(self) -> Credentials | None:
        """What to log in or register with, when an account and its password are given."""
        if self.account_action is AccountAction.NONE or not self.account:
            return None
        if not self.account_password:
            return None
        return Credentials(self.account, self.account_password, self.account_action)


def config_path(env: Mapping[str, str] | None = None) -> Path:
    """The settings file, by the XDG rules, for ``env`` (default: this process's)."""
    env = os.environ if env is None else env
    base = env.get("XDG_CONFIG_HOME") or str(Path(env.get("HOME", "~")).expanduser() / ".config")
    return Path(base) / "tcpchat" / "client.json"


def suggest_nick(login: str | None = None) -> str:
    """A nickname to offer: the login name when it is a valid nick, else ``guest``."""
    if login is None:
        try:
            login = getpass.getuser()
        except (OSError, KeyError):
            login = ""
    nick = "".join(c for c in login if c.isascii() and (c.isalnum() or c in "-_"))
    nick = nick[:SAFE_NICKLEN]
    return nick if valid_nick(nick, SAFE_NICKLEN) else "guest"


def load_settings(path: Path) -> Settings:
    """The settings saved at ``path``, or the defaults when there are none usable."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return Settings()
    if not isinstance(data, dict) or data.get("version") != FILE_VERSION:
        return Settings()
    settings = Settings()
    host, port, nick = data.get("host"), data.get("port"), data.get("nick")
    channels, history_lines = data.get("channels"), data.get("history_lines")
    if isinstance(host, str) and host:
        settings = replace(settings, host=host)
    if isinstance(port, int) and 0 < port < 65536:
        settings = replace(settings, port=port)
    if isinstance(nick, str):
        settings = replace(settings, nick=nick)
    if isinstance(channels, list):
        names = tuple(c for c in channels if isinstance(c, str) and valid_channel(c, 200))
        settings = replace(settings, channels=_unique(names))
    if isinstance(history_lines, int) and 0 < history_lines <= MAX_HISTORY_LINES:
        settings = replace(settings, history_lines=history_lines)
    if isinstance(data.get("bell"), bool):
        settings = replace(settings, bell=data["bell"])
    send_typing = data.get("send_typing")
    if isinstance(send_typing, bool):
        settings = replace(settings, send_typing=send_typing)
    return _load_security(settings, data)


def _load_security(settings: Settings, data: dict[str, object]) -> Settings:
    """TLS, the account (never its password), the trusted and client certificates."""
    tls, account, action = data.get("tls"), data.get("account"), data.get("account_action")
    trusted = data.get("trusted_certificates")
    cert, key = data.get("client_certificate"), data.get("client_key")
    if isinstance(tls, bool):
        settings = replace(settings, tls=tls)
    if isinstance(cert, str) and isinstance(key, str):
        settings = replace(settings, client_cert=cert, client_key=key if cert else "")
    if isinstance(account, str):
        settings = replace(settings, account=account)
    if action in {a.value for a in AccountAction}:
        settings = replace(settings, account_action=AccountAction(action))
    if isinstance(trusted, dict):
        pins = tuple((a, f) for a, f in trusted.items() if isinstance(f, str) and _hex64(f))
        settings = replace(settings, trusted=pins)
    return settings


def _hex64(text: str) -> bool:
    return len(text) == 64 and all(c in "0123456789abcdef" for c in text)


def save_settings(path: Path, settings: Settings) -> None:
    """Write ``settings`` to ``path`` (without the password), atomically."""
    data = {
        "version": FILE_VERSION,
        "host": settings.host,
        "port": settings.port,
        "nick": settings.nick,
        "channels": list(settings.channels),
        "history_lines": settings.history_lines,
        "tls": settings.tls,
        "account": settings.account,
        "account_action": settings.account_action.value,
        "trusted_certificates": dict(settings.trusted),
        "client_certificate": settings.client_cert,
        "client_key": settings.client_key,
        "bell": settings.bell,
        "send_typing": settings.send_typing,
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
    with contextlib.suppress(OSError):
        tmp.chmod(0o600)
    tmp.replace(path)


def _unique(channels: tuple[str, ...]) -> tuple[str, ...]:
    seen: set[str] = set()
    out = []
    for name in channels:
        if casefold(name) not in seen:
            seen.add(casefold(name))
            out.append(name)
    return tuple(out)
