"""REDACT (IRCv3 draft/message-redaction): who may delete what, who is told,
and history that keeps a deleted message hidden."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from conftest import RunningServer

from tcpchat.server.config import HistorySettings

CAPS = ("message-tags", "echo-message", "batch", "draft/chathistory", "draft/message-redaction")


@pytest.fixture
def history_server(make_server: Callable[..., RunningServer], tmp_path: Path) -> RunningServer:
    return make_server(history=HistorySettings(path=str(tmp_path / "history.sqlite3")))


def test_the_capability_needs_history(server: RunningServer) -> None:
    with server.client() as c:
        assert "draft/message-redaction" not in c.cap_ls()


def test_own_message_deleted_and_hidden_from_history(history_server: RunningServer) -> None:
    with (
        history_server.client("alice", CAPS) as a,
        history_server.client("bob", CAPS) as b,
        history_server.client("carol", ("message-tags",)) as c,
    ):
        for client in (a, b, c):
            client.join("#r")
        b.send("PRIVMSG #r :oops", "PRIVMSG #r :fine")
        msgid = b.expect("PRIVMSG").tags["msgid"]
        b.expect("PRIVMSG")
        b.send(f"REDACT #r {msgid} :typo")
        for client in (a, b):
            redact = client.expect("REDACT")
            assert redact.source.startswith("bob!") and redact.params == ("#r", msgid, "typo")
        c.expect_none("REDACT", after=[b])  # no capability, no REDACT
        a.send("CHATHISTORY LATEST #r * 10")
        assert [m.params[1] for m in a.batch() if m.command == "PRIVMSG"] == ["fine"]
        b.send(f"REDACT #r {msgid}")  # gone already
        assert b.expect("FAIL").params[:4] == ("REDACT", "UNKNOWN_MSGID", "#r", msgid)


def test_who_may_delete_what(history_server: RunningServer) -> None:
    with (
        history_server.client("op", CAPS) as op,
        history_server.client("bob", CAPS) as b,
        history_server.client("eve", CAPS) as e,
    ):
        op.join("#r")  # the channel's creator: its operator
        b.join("#r")
        op.send("PRIVMSG #r :from the op")
        op_msgid = op.expect("PRIVMSG").tags["msgid"]
        b.send("PRIVMSG #r :from bob")
        bob_msgid = b.expect("PRIVMSG").tags["msgid"]
        b.send(f"REDACT #r {op_msgid}")
        assert b.expect("FAIL").params[:4] == ("REDACT", "REDACT_FORBIDDEN", "#r", op_msgid)
        op.expect_none("REDACT", after=[b])
        e.send(f"REDACT #r {bob_msgid}")  # not a member: learns nothing
        assert e.expect("FAIL").params[:3] == ("REDACT", "INVALID_TARGET", "#r")
        op.send(f"REDACT #r {bob_msgid} :spam")
        assert b.expect("REDACT").params == ("#r", bob_msgid, "spam")
        op.send("REDACT #r no-such-id")
        assert op.expect("FAIL").params[:4] == ("REDACT", "UNKNOWN_MSGID", "#r", "no-such-id")


def test_private_message_deleted_by_its_sender_only(history_server: RunningServer) -> None:
    with history_server.client("alice", CAPS) as a, history_server.client("bob", CAPS) as b:
        a.send("PRIVMSG bob :secret")
        msgid = a.expect("PRIVMSG").tags["msgid"]
        assert b.expect("PRIVMSG").tags["msgid"] == msgid
        b.send(f"REDACT alice {msgid}")
        assert b.expect("FAIL").params[1] == "REDACT_FORBIDDEN"
        a.send(f"REDACT bob {msgid}")
        assert a.expect("REDACT").params == ("bob", msgid)
        assert b.expect("REDACT").params == ("bob", msgid)
        b.send("CHATHISTORY LATEST alice * 10")
        assert [m for m in b.batch() if m.command == "PRIVMSG"] == []
