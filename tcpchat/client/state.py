"""The client's picture of the network: channels, their members, and the server's rules.

Names are keyed by their casefolded form and keep the form shown, as the
server does. Member prefixes follow ISUPPORT ``PREFIX`` (Modern IRC,
"RPL_ISUPPORT: PREFIX"); with ``multi-prefix`` a member may hold several
(``@+``) and the highest is the one drawn. Mode strings are read with
``CHANMODES`` so that modes with a parameter take theirs, and no other.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Final

from tcpchat.irc import casefold
from tcpchat.irc.masks import split_hostmask

__all__ = ["Channel", "Member", "ServerRules"]

# What every server in RFC 2812 does, until ISUPPORT says otherwise.
_DEFAULT_PREFIX: Final = ("ov", "@+")
_DEFAULT_CHANMODES: Final = ("b", "k", "l", "imnst")


@dataclass(slots=True)
class ServerRules:
    """What the server announced in RPL_ISUPPORT (005) that the client relies on."""

    prefix_modes: str = _DEFAULT_PREFIX[0]
    prefix_symbols: str = _DEFAULT_PREFIX[1]
    chanmodes: tuple[str, str, str, str] = _DEFAULT_CHANMODES
    network: str = ""
    history_limit: int = 0  # CHATHISTORY=<n>: the most one history request returns

    def apply(self, tokens: list[str]) -> None:
        """Take in the ``KEY=value`` tokens of one 005 line."""
        for token in tokens:
            key, _, value = token.partition("=")
            if key == "PREFIX" and value.startswith("(") and ")" in value:
                modes, _, symbols = value[1:].partition(")")
                if len(modes) == len(symbols):
                    self.prefix_modes, self.prefix_symbols = modes, symbols
            elif key == "CHANMODES":
                parts = [*value.split(","), "", "", "", ""]
                self.chanmodes = (parts[0], parts[1], parts[2], parts[3])
            elif key == "NETWORK":
                self.network = value
            elif key == "CHATHISTORY" and value.isdigit():
                self.history_limit = int(value)

    def takes_param(self, mode: str, adding: bool) -> bool:
        """Whether ``mode`` consumes a parameter in a MODE line (Modern IRC, "CHANMODES")."""
        lists, always, when_set, _ = self.chanmodes
        if mode in self.prefix_modes or mode in lists or mode in always:
            return True
        return adding and mode in when_set

    def split_prefixes(self, name: str) -> tuple[str, str]:
        """A NAMES entry as (prefix symbols, nick), dropping ``!user@host`` if present."""
        i = 0
        while i < len(name) and name[i] in self.prefix_symbols:
            i += 1
        return name[:i], split_hostmask(name[i:])[0]

    def rank(self, symbols: str) -> int:
        """0 for the highest prefix; members with none come last."""
        ranks = [self.prefix_symbols.index(s) for s in symbols if s in self.prefix_symbols]
        return min(ranks, default=len(self.prefix_symbols))


@dataclass(slots=True)
class Member:
    nick: str
    symbols: str = ""  # prefix symbols held, e.g. "@+"


@dataclass(slots=True)
class Channel:
    name: str
    topic: str = ""
    members: dict[str, Member] = field(default_factory=dict)
    # NAMES replies (353) gather here until 366 ends the list.
    names_in_progress: dict[str, Member] | None = None

    def member(self, nick: str) -> Member | None:
        return self.members.get(casefold(nick))

    def add(self, nick: str, symbols: str = "") -> None:
        self.members[casefold(nick)] = Member(nick, symbols)

    def remove(self, nick: str) -> bool:
        return self.members.pop(casefold(nick), None) is not None

    def rename(self, old: str, new: str) -> bool:
        member = self.members.pop(casefold(old), None)
        if member is None:
            return False
        member.nick = new
        self.members[casefold(new)] = member
        return True

    def set_prefix(self, nick: str, symbol: str, adding: bool, rules: ServerRules) -> None:
        member = self.member(nick)
        if member is None:
            return
        held = set(member.symbols) | {symbol} if adding else set(member.symbols) - {symbol}
        member.symbols = "".join(s for s in rules.prefix_symbols if s in held)

    def gather_name(self, nick: str, symbols: str) -> None:
        """One entry of a NAMES reply; the list replaces the members when it ends."""
        if self.names_in_progress is None:
            self.names_in_progress = {}
        self.names_in_progress[casefold(nick)] = Member(nick, symbols)

    def finish_names(self) -> None:
        """RPL_ENDOFNAMES: the gathered list is now the membership."""
        if self.names_in_progress is not None:
            self.members = self.names_in_progress
            self.names_in_progress = None

    def display_names(self, rules: ServerRules) -> tuple[str, ...]:
        """Members as drawn: highest prefix first, then by name."""
        members = sorted(
            self.members.values(), key=lambda m: (rules.rank(m.symbols), casefold(m.nick))
        )
        return tuple(f"{m.symbols[:1]}{m.nick}" for m in members)
