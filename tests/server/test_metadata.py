"""METADATA (IRCv3 draft/metadata-2, and the newer draft's numerics):
reading, setting, subscriptions, notifications, limits and persistence."""

from __future__ import annotations

import base64
from collections.abc import Callable
from pathlib import Path

from conftest import RunningServer, register_account
from ircclient import IrcClient

from tcpchat.server.config import AccountSettings
from tcpchat.server.metadata import MAX_KEYS, MAX_VALUE_BYTES, SET_BURST
from tcpchat.server.throttle import ConnectThrottle

V2 = ("draft/metadata-2", "batch")
V3 = ("draft/metadata-3", "batch")


def test_set_get_list_and_whois(server: RunningServer) -> None:
    with server.client("alice", V2) as a, server.client("bob", V2) as b:
        caps = a.cap_ls()
        assert any(c.startswith("draft/metadata-2=before-connect,max-subs=") for c in caps)
        a.send("METADATA * SET display-name :Alice L.")
        assert a.expect("761").params == ("alice", "alice", "display-name", "*", "Alice L.")
        b.send("METADATA alice GET display-name avatar")
        got = b.batch()
        assert [m.command for m in got] == ["761", "766"]
        assert got[0].params[-1] == "Alice L." and got[1].params[2] == "avatar"
        b.send("METADATA alice LIST")
        assert [m.params[2:] for m in b.batch()] == [("display-name", "*", "Alice L.")]
        b.send("WHOIS alice")
        assert b.expect("760").params[1:] == ("alice", "display-name", "*", "Alice L.")
        a.send("METADATA * SET display-name")
        assert a.expect("766").params[2] == "display-name"
        a.send("METADATA * SET display-name")
        assert a.expect("FAIL").params[:2] == ("METADATA", "KEY_NOT_SET")


def test_subscribers_are_told_in_their_draft(server: RunningServer) -> None:
    """Changes reach subscribers that share a channel, as METADATA (-2) or
    RPL_KEYVALUE (-3); not the one who made them, not the unsubscribed."""
    with (
        server.client("alice", V2) as a,
        server.client("two", V2) as two,
        server.client("three", V3) as three,
        server.client("nosub", V2) as nosub,
        server.client("away", V2) as far,
    ):
        for client in (two, three, far):
            client.send("METADATA * SUB display-name avatar")
            assert client.expect("770").params[1:] == ("display-name", "avatar")
        for client in (a, two, three, nosub):
            client.join("#m")
        a.send("METADATA * SET avatar :https://example.org/a.png")
        a.expect("761")
        told = two.expect("METADATA")
        assert told.params == ("alice", "avatar", "*", "https://example.org/a.png")
        assert three.expect("761").params == (
            "three",
            "alice",
            "avatar",
            "*",
            "https://example.org/a.png",
        )
        nosub.expect_none("METADATA", after=[a])
        far.expect_none("METADATA")  # shares no channel
        a.expect_none("METADATA")
        far.join("#m")  # joining: the members' metadata, for its subscriptions
        assert far.expect("METADATA").params[:2] == ("alice", "avatar")
        a.send("METADATA #m SET display-name :The M channel")  # alice is its operator
        a.expect("761")
        assert two.expect("METADATA").params == ("#m", "display-name", "*", "The M channel")
        two.send("METADATA #m SET display-name :mine now")
        assert two.expect("FAIL").params[:4] == (
            "METADATA",
            "KEY_NO_PERMISSION",
            "#m",
            "display-name",
        )


def test_limits_and_bad_input_get_fail(server: RunningServer) -> None:
    with server.client("alice", V3) as a, server.client("bob", V2) as b:
        a.send("METADATA * SET Bad!Key :x")
        assert a.expect("FAIL").params[:3] == ("METADATA", "KEY_INVALID", "Bad!Key")
        a.send("METADATA * SET display-name :" + "x" * (MAX_VALUE_BYTES + 1))
        assert a.expect("FAIL").params[:2] == ("METADATA", "INVALID_VALUE")
        b.send("METADATA * SET display-name :" + "x" * (MAX_VALUE_BYTES + 1))
        assert b.expect("FAIL").params[:2] == ("METADATA", "VALUE_INVALID")
        a.send_raw(b"METADATA * SET display-name :caf\xe9\r\n")
        assert a.expect("FAIL").params[:2] == ("METADATA", "INVALID_UTF8")
        a.send("METADATA nobody LIST")
        assert a.expect("FAIL").params[:3] == ("METADATA", "INVALID_TARGET", "nobody")
        a.send("METADATA bob SET display-name :not bob")
        assert a.expect("FAIL").params[1] == "KEY_NO_PERMISSION"
        a.send("METADATA * FROB")
        assert a.expect("FAIL").params[:3] == ("METADATA", "SUBCOMMAND_INVALID", "FROB")
        codes = []
        for i in range(MAX_KEYS + 1):
            a.send(f"METADATA * SET k{i} :v")
            reply = a.read()
            codes.append(reply.params[1] if reply.command == "FAIL" else reply.command)
        # The burst of changes runs out first, then the limit of keys would.
        assert codes[: SET_BURST - 2] == ["761"] * (SET_BURST - 2)
        assert "RATE_LIMITED" in codes


def test_before_connect_and_kept_with_the_account(
    make_server: Callable[..., RunningServer], tmp_path: Path
) -> None:
    settings = AccountSettings(path=str(tmp_path / "accounts.sqlite3"))
    server = make_server(accounts=settings)
    register_account(server, "alice", "sesame-open")
    token = base64.b64encode(b"\0alice\0sesame-open").decode()

    def connect(value: str | None) -> tuple[IrcClient, list[str]]:
        c = server.client()
        c.send("CAP LS 302", "CAP REQ :sasl draft/metadata-2 batch")
        c.expect("CAP", "*", "ACK")
        if value is not None:
            c.send(f"METADATA * SET color :{value}")
            assert c.expect("761").params[:3] == ("*", "*", "color")
        c.send("AUTHENTICATE PLAIN")
        c.expect("AUTHENTICATE", "+")
        c.send(f"AUTHENTICATE {token}", "NICK alice", "USER u 0 * :A", "CAP END")
        burst = c.collect_until("376")
        own = [m.params for m in burst if m.command == "METADATA"]
        return c, [p[-1] for p in own]

    first, own = connect("#c90076")
    assert own == ["#c90076"]
    first.close()
    server.thread.stop()
    again = make_server(accounts=settings)
    server = again
    second, own = connect(None)
    assert own == ["#c90076"]  # kept with the account, across a restart
    second.close()


def test_keys_per_user_are_bounded(server: RunningServer) -> None:
    server.core.metadata_throttle = ConnectThrottle(0, 1)  # rate 0: no rate limit
    with server.client("alice", V2) as a:
        for i in range(MAX_KEYS):
            a.send(f"METADATA * SET k{i} :v")
            a.expect("761")
        a.send(f"METADATA * SET k{MAX_KEYS} :v")
        assert a.expect("FAIL").params[:3] == ("METADATA", "LIMIT_REACHED", "alice")
        a.send("METADATA * SET k0 :changed")  # a key that is set may still change
        assert a.expect("761").params[-1] == "changed"
        a.send("METADATA * CLEAR")
        assert len(a.batch()) == MAX_KEYS
        a.send("METADATA * LIST")
        assert a.batch() == []
