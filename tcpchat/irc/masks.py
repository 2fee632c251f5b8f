"""Wildcard masks (``*`` any run, ``?`` one character), as in bans and WHO.

Masks are compared on casefolded text; callers fold both sides. Compiled
patterns are cached because the same ban list is checked on every JOIN.
"""

from __future__ import annotations

import re
from functools import lru_cache

__all__ = ["mask_matches", "normalize_ban_mask", "split_hostmask"]


@lru_cache(maxsize=1024)
def _compile(mask: str) -> re.Pattern[str]:
    pattern = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in mask)
    return re.compile(pattern + r"\Z", re.DOTALL)


def mask_matches(mask: str, text: str) -> bool:
    """Whether ``text`` matches the wildcard ``mask`` (both already folded)."""
    return _compile(mask).match(text) is not None


def normalize_ban_mask(mask: str) -> str:
    """Complete a partial ban mask to ``nick!user@host`` form, as servers do.

    ``bob`` means ``bob!*@*``; ``*@host`` means ``*!*@host``; ``u@h`` means ``*!u@h``.
    """
    if "!" in mask:
        nick, _, rest = mask.partition("!")
        if "@" not in rest:
            rest += "@*"
        return f"{nick or '*'}!{rest}"
    if "@" in mask:
        return f"*!{mask}"
    return f"{mask}!*@*"


def split_hostmask(source: str) -> tuple[str, str, str]:
    """``nick!user@host`` as its three parts (``nick@host`` has no user); a
    server name is all nick."""
    nick_user, _, host = source.partition("@")
    nick, _, user = nick_user.partition("!")
    return nick, user, host
