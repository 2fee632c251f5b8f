"""CAP: IRCv3 capability negotiation (ircv3.net/specs/extensions/capability-negotiation).

``CAP LS`` holds registration open until ``CAP END``, so a client can
negotiate before it is welcomed. ``CAP REQ`` is all or nothing: one unknown
capability and the whole request is NAKed.
"""

from __future__ import annotations

from typing import Final

from tcpchat.irc import Message
from tcpchat.irc.numerics import ERR_INVALIDCAPCMD, ERR_SASLABORTED
from tcpchat.server.commands.accounts import MECHANISMS
from tcpchat.server.commands.multiline import cap_value as multiline_cap_value
from tcpchat.server.commands.registration import try_register
from tcpchat.server.context import CommandSpec, Context
from tcpchat.server.delivery import MULTILINE_CAP, REDACTION_CAP
from tcpchat.server.metadata import CAPS as METADATA_CAPS
from tcpchat.server.metadata import cap_value as metadata_cap_value

__all__ = ["ACCOUNT_CAPS", "COMMANDS", "HISTORY_CAPS", "SUPPORTED", "available"]

SUPPORTED: Final = (
    "away-notify",
    "batch",
    "cap-notify",
    "draft/pre-away",
    "draft/read-marker",
    "echo-message",
    "extended-join",
    "extended-monitor",
    "labeled-response",
    "message-tags",
    "multi-prefix",
    "no-implicit-names",
    "server-time",
    "setname",
    "standard-replies",
    "userhost-in-names",
)
"""Capabilities a client may always request, as advertised in ``CAP LS``."""

HISTORY_CAPS: Final = ("draft/chathistory", "draft/event-playback", REDACTION_CAP)
"""Capabilities offered only while the server keeps history (redaction finds
the message it deletes there)."""

ACCOUNT_CAPS: Final = {
    "account-notify": "",
    "account-tag": "",
    "sasl": ",".join(MECHANISMS),
}
"""Capabilities offered only while accounts are on, with their CAP LS 302 values."""


def _registration_cap(ctx: Context) -> str:
    """draft/account-registration's value: any account name (it protects the nick
    of the same name), and whether registering before connecting is allowed."""
    settings = ctx.config.accounts
    before = ["before-connect"] if settings.register_before_connect else []
    email = ["email-required"] if settings.require_email else []
    return ",".join([*before, "custom-account-name", *email])


def available(ctx: Context) -> dict[str, str]:
    """The capabilities this server offers now, sorted, with their values."""
    caps = dict.fromkeys(SUPPORTED, "")
    caps[MULTILINE_CAP] = multiline_cap_value(ctx)
    caps.update(dict.fromkeys(METADATA_CAPS, metadata_cap_value()))
    if ctx.core.history is not None:
        caps.update(dict.fromkeys(HISTORY_CAPS, ""))
    if ctx.core.accounts is not None:
        caps.update(ACCOUNT_CAPS)
        if ctx.config.accounts.allow_registration:
            caps["draft/account-registration"] = _registration_cap(ctx)
    if ctx.core.tls_port is not None:
        # IRCv3 sts: a plain connection learns where TLS is; a secure one how
        # long to insist on it.
        duration = ctx.config.tls.sts_duration
        caps["sts"] = f"duration={duration}" if ctx.session.tls else f"port={ctx.core.tls_port}"
    return dict(sorted(caps.items()))


# Keep each CAP LS line well under 512 bytes with room for the prefix.
_LS_CHUNK: Final = 400


def _reply(ctx: Context, *params: str) -> None:
    # Addressed to "*" until registration completes (capability-negotiation spec).
    user = ctx.session.user
    ctx.send(ctx.config.name, "CAP", user.nick if user is not None else "*", *params)


def _ls(ctx: Context, msg: Message) -> None:
    session = ctx.session
    if session.user is None:
        session.cap_negotiating = True
    version = msg.params[1] if len(msg.params) > 1 else ""
    if version.isdigit():
        session.cap_version = max(session.cap_version, int(version))
    if session.cap_version >= 302:
        # cap-notify is implied by CAP LS 302 (capability-negotiation, "cap-notify").
        session.set_caps(session.caps | {"cap-notify"})
    lines: list[str] = []
    current = ""
    for name, value in available(ctx).items():
        cap = f"{name}={value}" if value and session.cap_version >= 302 else name
        if current and len(current) + len(cap) + 1 > _LS_CHUNK:
            lines.append(current)
            current = ""
        current = f"{current} {cap}" if current else cap
    lines.append(current)
    for i, line in enumerate(lines):
        if i < len(lines) - 1 and session.cap_version >= 302:
            _reply(ctx, "LS", "*", line)
        else:
            _reply(ctx, "LS", line)


def _list(ctx: Context, msg: Message) -> None:
    _reply(ctx, "LIST", " ".join(sorted(ctx.session.caps)))


def _req(ctx: Context, msg: Message) -> None:
    session = ctx.session
    if session.user is None:
        session.cap_negotiating = True
    wanted = msg.params[1] if len(msg.params) > 1 else ""
    caps = set(session.caps)
    for item in wanted.split():
        name = item.removeprefix("-")
        if name not in available(ctx) or name == "sts":  # sts is a policy, not requested
            _reply(ctx, "NAK", wanted)
            return
        if item.startswith("-"):
            caps.discard(name)
        else:
            caps.add(name)
    session.set_caps(caps)
    _reply(ctx, "ACK", wanted)


def _end(ctx: Context, msg: Message) -> None:
    if ctx.session.sasl is not None:
        # Registration does not wait for an unfinished login (sasl-3.1).
        ctx.session.sasl = None
        ctx.error(ERR_SASLABORTED)
    if ctx.session.user is None:
        ctx.session.cap_negotiating = False
        try_register(ctx)


_SUBCOMMANDS: Final = {"LS": _ls, "LIST": _list, "REQ": _req, "END": _end}


def handle_cap(ctx: Context, msg: Message) -> None:
    """CAP <subcommand> [:<capabilities>]"""
    sub = _SUBCOMMANDS.get(msg.params[0].upper())
    if sub is None:
        ctx.error(ERR_INVALIDCAPCMD, msg.params[0])
        return
    sub(ctx, msg)


COMMANDS: Final = {"CAP": CommandSpec(handle_cap, min_params=1, registered=False)}
