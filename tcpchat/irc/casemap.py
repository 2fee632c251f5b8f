"""Case-insensitive names: the ``rfc1459`` casemapping.

RFC 1459 section 2.2 makes ``{}|^`` the lower-case forms of ``[]\\~`` because
of the Scandinavian origin of IRC. Nicks and channel names are compared by
their folded form, and the server advertises ``CASEMAPPING=rfc1459``.
"""

from __future__ import annotations

__all__ = ["CASEMAPPING", "casefold"]

CASEMAPPING = "rfc1459"

_TABLE = str.maketrans(
    "ABCDEFGHIJKLMNOPQRSTUVWXYZ[]\\~",
    "abcdefghijklmnopqrstuvwxyz{}|^",
)


def casefold(name: str) -> str:
    """The folded form of a nick or channel name, for comparison and lookup."""
    return name.translate(_TABLE)
