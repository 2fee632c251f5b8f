"""What a hostile client sends: the words of every command family, and bytes of any kind.

One vocabulary serves the stateful fuzz of the core, where Hypothesis draws
from it (:class:`DrawChooser`, so that a failure shrinks to a few readable
lines), and the volume of the fuzz and the socket fuzz, where a seeded
:class:`random.Random` does (:class:`RandomChooser`, a thousand times
cheaper a line, and as repeatable). Names fold into each other under the
rfc1459 casemapping (``[x]`` and ``{x}``), parameters are mode strings such
as ``+oooo`` and ``+l-l+l``, CHATHISTORY selectors at the ends of time,
lists of targets, and bytes with CR, NUL and invalid UTF-8 in them.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from typing import Protocol, TypeVar

from conftest import OPER_NAME, OPER_PASSWORD
from hypothesis import strategies as st

from tcpchat.server.commands import COMMANDS
from tcpchat.server.commands.capabilities import ACCOUNT_CAPS, HISTORY_CAPS, SUPPORTED
from tcpchat.server.delivery import MULTILINE_CAP
from tcpchat.server.metadata import CAPS as METADATA_CAPS

__all__ = [
    "ALL_CAPS",
    "CHANNELS",
    "MODES",
    "NICKS",
    "Chooser",
    "DrawChooser",
    "RandomChooser",
    "flood",
    "line",
    "long_reason",
    "multiline",
    "mutate",
    "registration",
    "shaped",
]

T = TypeVar("T")

NICKS = (
    "alice", "Alice", "bob", "BOB", "[x]", "{x}", "c|d", "c\\d", "c~", "c^",
    "NickServ", "nickserv", "Guest1", "Guest2", "x" * 31, "9lives", "-dash", "é", "a:b", "*",
)  # fmt: skip
CHANNELS = (
    "#a", "#A", "#b", "#[x]", "#{x}", "#lobby", "#LOBBY", "#é", "#" + "c" * 60, "#",
    "&a", "0", "#a,#b,#c", "#a,#a,#A", "#a\x07", "#,", "#:x",
)  # fmt: skip
MODES = (
    "+oooo", "-oooo", "+l-l+l", "+b", "-b", "+bbbb", "+k", "-k", "+kl", "+imnst",
    "-imnst", "+v-o+o", "o", "+", "-", "+x", "+ov", "b", "+i", "-o", "+lk", "+o-o+o-o",
)  # fmt: skip
SELECTORS = (
    "timestamp=9999-12-31T23:59:59.999Z", "timestamp=0001-01-01T00:00:00+01:00",
    "timestamp=0001-01-01T00:00:00.000Z", "timestamp=2023-11-14T22:13:20.000Z",
    "timestamp=2023-11-14T22:13:20", "timestamp=", "timestamp=x", "timestamp=9" * 3,
    "msgid=fuzz-1", "msgid=fuzz-2.0", "msgid=", "*", "0", "-1", "1", "100", "9" * 30,
)  # fmt: skip
WORDS = (
    "LATEST", "BEFORE", "AFTER", "AROUND", "BETWEEN", "TARGETS", "LS", "302", "REQ", "END",
    "LIST", "ADD", "DEL", "PLAIN", "EXTERNAL", "+", "*", "-", "C", "L", "S", "IDENTIFY",
    "REGISTER", "CERT", "INFO", "HELP", "LOGOUT", OPER_NAME, OPER_PASSWORD, "long password",
    "", ":", "::", " ", "a b", "+typing=active", "\x01ACTION waves\x01",
)  # fmt: skip
ALL_CAPS = (
    *SUPPORTED,
    *HISTORY_CAPS,
    *ACCOUNT_CAPS,
    *METADATA_CAPS,
    MULTILINE_CAP,
    "draft/account-registration",
    "bogus",
)
COMMAND_NAMES = (*sorted(COMMANDS), "FOO", "privmsg", "REGISTE\x1b\x01\r\tX", "\x00", "421")
KNOWN = NICKS + CHANNELS + MODES + SELECTORS + WORDS
TAGS = (
    b"",
    b"",
    b"@label=L1 ",
    b"@label=a\\sb;+typing=active ",
    b"@msgid=forged;time=2000-01-01T00:00:00.000Z;account=root ",
    b"@+draft/reply=fuzz-1;+x=\\:\\s\\\\ ",
    b"@= ",
    b"@" + b"+k=v;" * 50 + b" ",
    b"@batch=m1 ",
    b"@batch=m1;draft/multiline-concat ",
    b"@+draft/reply=fuzz-1;+draft/react=x ",
)


LIMITS = ("1", "10", "100", "0", "-5", "9" * 30, "x")
TEXTS = ("hi", "", ":-)", "two words", "\x01ACTION waves\x01", "é" * 100, "x" * 400)
MASKS = ("*", "*!*@*", "a*", "*@127.0.0.1", "127.0.0.1", "*@*", "x!y@z", "%tcuihsnfdlaor,123")
SUBCOMMANDS = ("LATEST", "BEFORE", "AFTER", "AROUND", "BETWEEN", "TARGETS", "latest", "FROB")
TARGET_LISTS = tuple(",".join(pair) for pair in zip(NICKS, CHANNELS, strict=False))
# Commands with their parameters where the command expects them, each
# parameter picked from its own words: lines that get past the shared checks
# (461 and the like) and reach what each handler does with what it is given.
SHAPES: tuple[tuple[tuple[str, ...], ...], ...] = (
    (("CHATHISTORY",), SUBCOMMANDS, CHANNELS + NICKS, SELECTORS, SELECTORS + LIMITS, LIMITS),
    (("CHATHISTORY",), ("TARGETS",), SELECTORS, SELECTORS, LIMITS),
    (("MODE",), CHANNELS, MODES, NICKS + MASKS + LIMITS, NICKS + MASKS, NICKS + LIMITS),
    (("MODE",), NICKS, ("+i", "-i", "+o", "-o", "+x", "+iw-o", "")),
    (("KICK",), CHANNELS, NICKS + TARGET_LISTS, TEXTS),
    (("TOPIC",), CHANNELS, TEXTS),
    (("INVITE",), NICKS, CHANNELS),
    (("JOIN",), CHANNELS + TARGET_LISTS, ("", "key", "a,b,c")),
    (("PART",), CHANNELS + TARGET_LISTS, TEXTS),
    (("PRIVMSG", "NOTICE", "TAGMSG"), NICKS + CHANNELS + TARGET_LISTS, TEXTS),
    (("WHO",), NICKS + CHANNELS + MASKS, ("", "%tcuihsnfdlaor,123", "%n", "%,")),
    (("WHOIS", "WHOWAS", "ISON", "USERHOST", "NICK"), NICKS, LIMITS + NICKS),
    (("MONITOR",), ("+", "-", "C", "L", "S", "x"), TARGET_LISTS + NICKS),
    (("CAP",), ("LS", "REQ", "END", "LIST", "ACK", "x"), (*ALL_CAPS, "302", "")),
    (("AUTHENTICATE",), ("PLAIN", "EXTERNAL", "*", "+", "AGFsaWNlAGxvbmcgcGFzc3dvcmQ=", "=")),
    (("REGISTER",), (*NICKS, "*"), ("*", "a@b", ""), ("long password", "short", "")),
    (("NS", "NICKSERV"), ("REGISTER", "IDENTIFY", "CERT", "INFO", "LOGOUT", "HELP", "X"),
     (*NICKS, "ADD", "DEL", "LIST", "a" * 64), ("long password", "")),
    (("KILL", "KLINE", "UNKLINE", "WALLOPS"), NICKS + MASKS + ("10", "99999999"), MASKS, TEXTS),
    (("AWAY", "SETNAME", "QUIT", "PING", "PONG"), TEXTS),
    (("OPER",), (OPER_NAME, "nobody"), (OPER_PASSWORD, "wrong")),
    (("METADATA",), (*NICKS, *CHANNELS, "*"),
     ("GET", "SET", "LIST", "SUB", "UNSUB", "SUBS", "SYNC", "CLEAR", "X"),
     ("display-name", "avatar", "bad key!", "a" * 100, "*"), TEXTS),
    (("MARKREAD",), CHANNELS + NICKS, SELECTORS),
    (("REDACT",), CHANNELS + NICKS, ("fuzz-1", "fuzz-2.0", "x", ""), TEXTS),
    (("BATCH",), ("+m1", "-m1", "+", "-", "+m2"), (MULTILINE_CAP, "x"), CHANNELS + NICKS),
)  # fmt: skip


class Chooser(Protocol):
    """Where the choices come from: Hypothesis or a seeded Random."""

    def pick(self, options: Sequence[T]) -> T: ...

    def number(self, low: int, high: int) -> int:
        """An integer from ``low`` to ``high``, both included."""

    def blob(self, max_size: int) -> bytes:
        """Any bytes, up to ``max_size`` of them."""


class DrawChooser:
    """Choices drawn by Hypothesis, which can shrink them."""

    def __init__(self, draw: st.DrawFn) -> None:
        self.draw = draw

    def pick(self, options: Sequence[T]) -> T:
        return self.draw(st.sampled_from(options))

    def number(self, low: int, high: int) -> int:
        return self.draw(st.integers(low, high))

    def blob(self, max_size: int) -> bytes:
        return self.draw(st.binary(max_size=max_size))


class RandomChooser:
    """Choices from a seeded Random: cheap, and the same for the same seed."""

    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)

    def pick(self, options: Sequence[T]) -> T:
        return options[self.rng.randrange(len(options))]

    def number(self, low: int, high: int) -> int:
        return self.rng.randint(low, high)

    def blob(self, max_size: int) -> bytes:
        return self.rng.randbytes(self.rng.randint(0, max_size))


def word(ch: Chooser) -> bytes:
    """A parameter: a known word, a list of names, or bytes of any kind."""
    kind = ch.number(0, 3)
    if kind == 0:
        return ch.blob(24)
    if kind == 1:
        return ",".join(ch.pick(NICKS + CHANNELS) for _ in range(ch.number(2, 6))).encode()
    return ch.pick(KNOWN).encode()


def line(ch: Chooser) -> bytes:
    """One line: tags or none, any command, up to five words, maybe a trailing part."""
    parts = [ch.pick(COMMAND_NAMES).encode()]
    parts += [word(ch) for _ in range(ch.number(0, 5))]
    text = ch.pick(TAGS) + b" ".join(parts)
    if ch.number(0, 1):
        text += b" :" + word(ch)
    return text


def shaped(ch: Chooser) -> bytes:
    """A command with parameters of the kinds it takes, the last one maybe trailing."""
    shape = ch.pick(SHAPES)
    words = [ch.pick(slot) for slot in shape[: ch.number(1, len(shape))]]
    if len(words) > 1 and ch.number(0, 1):
        words[-1] = ":" + words[-1]
    return ch.pick(TAGS) + " ".join(words).encode()


def flood(ch: Chooser, most: int = 20) -> list[bytes]:
    """Messages to one target in a row, as a paste or a flood reads them."""
    head = ch.pick((b"PRIVMSG ", b"NOTICE ", b"TAGMSG ")) + ch.pick(NICKS + CHANNELS).encode()
    return [head + b" :" + ch.blob(40) for _ in range(ch.number(2, most))]


def multiline(ch: Chooser) -> list[bytes]:
    """A draft/multiline batch: opened, some lines (blank ones, concatenated
    ones, others' tags), maybe closed."""
    target = ch.pick(NICKS + CHANNELS).encode()
    ref = ch.pick((b"m1", b"m2"))
    lines = [b"BATCH +" + ref + b" " + MULTILINE_CAP.encode() + b" " + target]
    for _ in range(ch.number(0, 8)):
        tags = ch.pick((b"@batch=" + ref, b"@batch=" + ref + b";draft/multiline-concat"))
        command = ch.pick((b"PRIVMSG", b"NOTICE", b"PRIVMSG"))
        lines.append(tags + b" " + command + b" " + target + b" :" + ch.blob(30))
    if ch.number(0, 3):
        lines.append(b"BATCH -" + ref)
    return lines


def long_reason(ch: Chooser, size: int = 30_000) -> bytes:
    """About ``size`` bytes of nicks, channels, selectors and mode strings."""
    text = " ".join(ch.pick(KNOWN) for _ in range(20)).encode() or b"x"
    return (text * (size // len(text) + 1))[:size]


def mutate(ch: Chooser, original: bytes) -> bytes:
    """A line with a few bytes changed, dropped or put in."""
    data = bytearray(original)
    for _ in range(ch.number(1, 4)):
        at = ch.number(0, len(data))
        what = ch.number(0, 2)
        if what == 0:
            data[at:at] = ch.blob(3)
        elif what == 1:
            del data[at : at + ch.number(1, 3)]
        elif at < len(data):
            data[at] = ch.number(0, 255)
    return bytes(data)


def registration(nick: str, caps: Sequence[str]) -> list[bytes]:
    """The lines of a client that negotiates ``caps`` and registers as ``nick``."""
    return [
        b"CAP LS 302",
        b"CAP REQ :" + " ".join(caps).encode(),
        b"NICK " + nick.encode(),
        b"USER fuzz 0 * :Fuzz " + nick.encode(),
        b"CAP END",
    ]
