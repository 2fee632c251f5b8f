"""One set of accounts for the whole network: registered on one node, used on
any, kept in Redis; while Redis is away a client is told to try again."""

from __future__ import annotations

import base64
from collections.abc import Callable
from pathlib import Path

import pytest
from conftest import RunningServer, register_account
from ircclient import IrcClient
from redisnode import RedisServer

from tcpchat.cluster.accounts import RedisAccounts
from tcpchat.server.config import AccountSettings
from tcpchat.store.accounts import Account, AccountExists
from tcpchat.store.health import StoreUnavailable

Nodes = Callable[..., RunningServer]
CAPS = ("sasl", "account-tag", "message-tags")


PASSWORD = "a long enough password"


def sasl_plain(client: IrcClient, account: str, caps: tuple[str, ...] = ("sasl",)) -> None:
    """Register as ``phone`` logging in to ``account`` with SASL PLAIN, up to
    the server's answer. Another nick than the account's: its owner's quit on
    another node may not have reached this one yet."""
    client.send("CAP LS 302", f"CAP REQ :{' '.join(caps)}", "NICK phone", "USER u 0 * :P")
    client.expect("CAP", "*", "ACK")
    client.send("AUTHENTICATE PLAIN")
    client.expect("AUTHENTICATE", "+")
    token = base64.b64encode(f"\0{account}\0{PASSWORD}".encode()).decode()
    client.send("AUTHENTICATE " + token)


@pytest.fixture
def nodes(make_node: Nodes, tmp_path: Path) -> tuple[RunningServer, RunningServer]:
    # The file is what a server on its own would use; a cluster's nodes must not.
    settings = AccountSettings(path=str(tmp_path / "unused.sqlite3"), nick_grace=1)
    return make_node("a", accounts=settings), make_node("b", accounts=settings)


def test_an_account_registered_on_one_node_logs_in_on_another(
    nodes: tuple[RunningServer, RunningServer], tmp_path: Path
) -> None:
    a, b = nodes
    register_account(a, "alice", PASSWORD)
    with b.client() as again:
        sasl_plain(again, "alice", CAPS)
        assert again.expect("900").params[2] == "alice"
        again.expect("903")
        again.send("CAP END")
        again.expect("001")
    with b.client("bob") as bob:
        bob.send("REGISTER Alice * :another long password")
        assert bob.expect("FAIL").params[:2] == ("REGISTER", "ACCOUNT_EXISTS")
    assert not (tmp_path / "unused.sqlite3").exists()


def test_the_store_keeps_everything_an_account_has(redis_server: RedisServer) -> None:
    one, other = (RedisAccounts(redis_server.url, "net") for _ in range(2))
    account = Account("Alice", "scrypt$x", "a@example.org", 5)
    one.create(account)
    with pytest.raises(AccountExists):
        other.create(Account("ALICE", "scrypt$y", "", 6))  # one name, whichever node asks
    assert other.get("alice") == account
    other.add_certfp("alice", "AB12")
    other.add_certfp("alice", "cd34")
    assert one.certfps("ALICE") == ["ab12", "cd34"]
    assert one.by_certfp("ab12") == account
    assert not one.remove_certfp("bob", "ab12")
    assert one.remove_certfp("alice", "ab12") and one.certfps("alice") == ["cd34"]
    one.set_read_markers([("alice", "#b", 20), ("alice", "#a", 10), ("alice", "bob", 30)])
    one.set_read_markers([("alice", "#b", 40)], forget=[("alice", "bob")])
    assert other.read_markers("Alice") == {"#a": 10, "#b": 40}
    one.set_metadata("alice", "display-name", "Al")
    one.set_metadata("alice", "color", "red")
    one.set_metadata("alice", "color", None)
    assert other.metadata("alice") == {"display-name": "Al"}
    assert RedisAccounts(redis_server.url, "another-network").get("alice") is None


def test_without_redis_a_call_says_to_try_again(redis_server: RedisServer) -> None:
    accounts = RedisAccounts(redis_server.url, "net")
    accounts.create(Account("alice", "scrypt$x", "", 5))
    redis_server.stop()
    with pytest.raises(StoreUnavailable, match="try again"):
        accounts.get("alice")
    redis_server.start()
    assert accounts.get("alice") is not None


def test_while_redis_is_away_registering_is_refused_for_a_moment(
    nodes: tuple[RunningServer, RunningServer], redis_server: RedisServer
) -> None:
    a, _ = nodes
    with a.client("carol") as carol:
        redis_server.stop()
        carol.send(f"REGISTER * * :{PASSWORD}")
        fail = carol.expect("FAIL")
        assert fail.params[:2] == ("REGISTER", "TEMPORARILY_UNAVAILABLE")
        assert "try again" in fail.params[-1]
        redis_server.start()
        carol.send(f"REGISTER * * :{PASSWORD}")
        assert carol.expect("REGISTER", timeout=15).params[:2] == ("SUCCESS", "carol")


def test_while_redis_is_away_a_sasl_login_is_refused_for_a_moment(
    nodes: tuple[RunningServer, RunningServer], redis_server: RedisServer
) -> None:
    a, _ = nodes
    register_account(a, "dave", PASSWORD)
    redis_server.stop()
    try:
        with a.client() as again:
            sasl_plain(again, "dave")
            reply = again.expect_where(lambda m: m.command in ("904", "903"), "904 or 903")
            assert reply.command == "904" and reply.params[-1].endswith("try again")
    finally:
        redis_server.start()
