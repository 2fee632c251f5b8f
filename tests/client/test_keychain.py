"""The account password in a keyring: a real keyring backend class, kept in memory."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

keyring = pytest.importorskip("keyring")

from keyring.backend import KeyringBackend  # noqa: E402
from keyring.errors import KeyringError, PasswordDeleteError  # noqa: E402

from tcpchat.client import keychain  # noqa: E402


class MemoryKeyring(KeyringBackend):
    """A keyring that keeps passwords in a dict, as the OS ones keep them on disk."""

    priority = 1

    def __init__(self) -> None:
        super().__init__()
        self.passwords: dict[tuple[str, str], str] = {}

    def get_password(self, service: str, username: str) -> str | None:
        return self.passwords.get((service, username))

    def set_password(self, service: str, username: str, password: str) -> None:
        self.passwords[(service, username)] = password

    def delete_password(self, service: str, username: str) -> None:
        if self.passwords.pop((service, username), None) is None:
            raise PasswordDeleteError(username)


class BrokenKeyring(MemoryKeyring):
    """Like a desktop session whose keyring daemon is not running."""

    def get_password(self, service: str, username: str) -> str | None:
        raise KeyringError("no keyring daemon")

    def set_password(self, service: str, username: str, password: str) -> None:
        raise KeyringError("no keyring daemon")


@pytest.fixture
def restore_keyring() -> Iterator[None]:
    before = keyring.get_keyring()
    yield
    keyring.set_keyring(before)


def test_saved_and_loaded_per_server_and_account(restore_keyring: None) -> None:
    memory = MemoryKeyring()
    keyring.set_keyring(memory)
    assert keychain.available()
    assert keychain.load_password("irc.example:6697", "alice") == ""
    assert keychain.save_password("irc.example:6697", "alice", "s3cret")
    assert keychain.load_password("irc.example:6697", "alice") == "s3cret"
    assert keychain.load_password("other.example:6697", "alice") == ""
    assert memory.passwords == {("tcpchat", "alice@irc.example:6697"): "s3cret"}


def test_a_keyring_that_fails_means_asking_each_time(restore_keyring: None) -> None:
    keyring.set_keyring(BrokenKeyring())
    assert not keychain.save_password("irc.example:6697", "alice", "s3cret")
    assert keychain.load_password("irc.example:6697", "alice") == ""
