"""The account password in the OS keyring, when the optional ``keyring`` package is there.

``pip install 'tcpchat[keyring]'`` adds it; it talks to the Secret Service
(GNOME Keyring, KWallet), the macOS Keychain or the Windows Credential
Locker. Without it, or when no keyring answers (a bare server, a session
with no keyring daemon), the password is asked for each time: it is never
written to tcpchat's own files.
"""

from __future__ import annotations

from typing import Final

try:
    import keyring
    from keyring.errors import KeyringError

    _HAVE_KEYRING = True
except ImportError:  # the optional extra is not installed
    _HAVE_KEYRING = False

__all__ = ["SERVICE", "available", "load_password", "save_password"]

SERVICE: Final = "tcpchat"
"""The service name the passwords are filed under in the keyring."""


def _user(address: str, account: str) -> str:
    return f"{account}@{address}"


def available() -> bool:
    """Whether a keyring can be used at all (the package is installed)."""
    return _HAVE_KEYRING


def load_password(address: str, account: str) -> str:
    """The password saved for ``account`` on ``address``, or "" when there is none."""
    if not _HAVE_KEYRING:
        return ""
    try:
        return keyring.get_password(SERVICE, _user(address, account)) or ""
    except KeyringError:
        return ""


def save_password(address: str, account: str, password: str) -> bool:
    """Keep ``password`` in the keyring; False when no keyring would take it."""
    if not _HAVE_KEYRING:
        return False
    try:
        keyring.set_password(SERVICE, _user(address, account), password)
    except KeyringError:
        return False
    return True
