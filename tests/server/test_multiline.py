"""Messages of several lines (IRCv3 draft/multiline): the batch to clients
that take it, its lines to those that do not, limits refused with FAIL."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from conftest import RunningServer

from tcpchat.server.config import HistorySettings

BASE = ("message-tags", "batch", "echo-message", "server-time", "labeled-response")
MULTI = (*BASE, "draft/multiline")


def _send_batch(client, target: str, *lines: str, opening_tags: str = "") -> None:  # type: ignore[no-untyped-def]
    head = f"@{opening_tags} " if opening_tags else ""
    client.send(f"{head}BATCH +b1 draft/multiline {target}")
    for line in lines:
        client.send(line)
    client.send("BATCH -b1")


def test_batch_relayed_whole_or_as_lines(server: RunningServer) -> None:
    with (
        server.client("alice", MULTI) as a,
        server.client("bob", MULTI) as b,
        server.client("carol", BASE) as c,
    ):
        for client in (a, b, c):
            client.join("#m")
        _send_batch(
            a,
            "#m",
            "@batch=b1 PRIVMSG #m :first line",
            "@batch=b1 PRIVMSG #m :",
            "@batch=b1 PRIVMSG #m :how is ",
            "@batch=b1;draft/multiline-concat PRIVMSG #m :everyone?",
            opening_tags="label=L1;+draft/reply=abc",
        )
        opening = a.expect("BATCH")
        assert opening.tags["label"] == "L1" and opening.params[1:] == ("draft/multiline", "#m")
        ref = opening.params[0][1:]
        inner = [a.read() for _ in range(5)]
        assert [m.params for m in inner[:4]] == [
            ("#m", "first line"),
            ("#m", ""),
            ("#m", "how is "),
            ("#m", "everyone?"),
        ]
        assert all(m.tags["batch"] == ref and "msgid" not in m.tags for m in inner[:4])
        assert "draft/multiline-concat" in inner[3].tags
        assert inner[4].command == "BATCH" and inner[4].params == (f"-{ref}",)
        start = b.expect("BATCH")
        assert start.tags["msgid"] == opening.tags["msgid"] and start.tags["+draft/reply"] == "abc"
        fallback = [c.expect("PRIVMSG") for _ in range(3)]
        assert [m.params[1] for m in fallback] == ["first line", "how is ", "everyone?"]
        assert fallback[0].tags["msgid"] == start.tags["msgid"]
        assert ["msgid" in m.tags for m in fallback] == [True, False, False]
        assert all(m.tags["+draft/reply"] == "abc" for m in fallback)
        c.expect_none("PRIVMSG")


def test_limits_and_mistakes_get_fail_and_relay_nothing(make_server) -> None:  # type: ignore[no-untyped-def]
    server = make_server(multiline_max_lines=3, multiline_max_bytes=600)
    with server.client("alice", MULTI) as a, server.client("bob", MULTI) as b:
        ls = a.cap_ls()
        assert "draft/multiline=max-bytes=600,max-lines=3" in ls
        a.join("#m")
        b.join("#m")
        _send_batch(a, "#m", *["@batch=b1 PRIVMSG #m :x"] * 4)
        assert a.expect("FAIL").params[:3] == ("BATCH", "MULTILINE_MAX_LINES", "3")
        _send_batch(
            a, "#m", "@batch=b1 PRIVMSG #m :" + "y" * 400, "@batch=b1 PRIVMSG #m :" + "z" * 300
        )
        assert a.expect("FAIL").params[:3] == ("BATCH", "MULTILINE_MAX_BYTES", "600")
        _send_batch(a, "#m", "@batch=b1 PRIVMSG #other :x")
        assert a.expect("FAIL").params[:4] == ("BATCH", "MULTILINE_INVALID_TARGET", "#m", "#other")
        _send_batch(
            a, "#m", "@batch=b1 PRIVMSG #m :x", "@batch=b1;draft/multiline-concat PRIVMSG #m :"
        )
        assert a.expect("FAIL").params[:2] == ("BATCH", "MULTILINE_INVALID")
        _send_batch(a, "#m", "@batch=b1 PRIVMSG #m :", "@batch=b1 PRIVMSG #m :")
        assert a.expect("FAIL").params[:2] == ("BATCH", "MULTILINE_INVALID")  # all blank
        a.send("BATCH +b2 draft/multiline #m", "@batch=zz PRIVMSG #m :wrong ref")
        assert a.expect("FAIL").params[:2] == ("BATCH", "MULTILINE_INVALID")
        b.expect_none("PRIVMSG", after=[a])
        b.expect_none("BATCH")


def test_kept_in_history_as_its_lines_and_redacted_whole(
    make_server: Callable[..., RunningServer], tmp_path: Path
) -> None:
    server = make_server(history=HistorySettings(path=str(tmp_path / "h.sqlite3")))
    caps = (*MULTI, "draft/chathistory", "draft/message-redaction")
    with server.client("alice", caps) as a, server.client("bob", caps) as b:
        _send_batch(a, "bob", "@batch=b1 PRIVMSG bob :one", "@batch=b1 PRIVMSG bob :two")
        msgid = a.expect("BATCH").tags["msgid"]
        assert [m.params[1] for m in b.batch()] == ["one", "two"]
        b.send("CHATHISTORY LATEST alice * 10")
        assert [m.params[1] for m in b.batch()] == ["one", "two"]
        a.send(f"REDACT bob {msgid}")
        b.expect("REDACT")
        b.send("CHATHISTORY LATEST alice * 10")
        assert b.batch() == []
