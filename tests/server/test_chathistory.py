"""CHATHISTORY, event playback, labeled responses, and history that outlives the server."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import pytest
from conftest import RunningServer
from ircclient import IrcClient

from tcpchat.irc import Message
from tcpchat.server.config import HistorySettings

CAPS = (
    "batch",
    "server-time",
    "message-tags",
    "echo-message",
    "draft/chathistory",
    "labeled-response",
)


@pytest.fixture
def history_server(make_server: Callable[..., RunningServer], tmp_path: Path) -> RunningServer:
    return make_server(history=HistorySettings(path=str(tmp_path / "history.sqlite3")))


def send_messages(client: IrcClient, target: str, count: int) -> list[Message]:
    echoes = []
    for i in range(count):
        client.send(f"PRIVMSG {target} :message {i}")
        echoes.append(client.expect("PRIVMSG"))
        time.sleep(0.002)  # distinct server-time stamps
    return echoes


def texts(messages: list[Message]) -> list[str]:
    return [m.params[-1] for m in messages]


def test_isupport_and_caps_advertise_history(history_server: RunningServer) -> None:
    with history_server.client() as c:
        caps = c.cap_ls()
        assert {"draft/chathistory", "draft/event-playback", "labeled-response"} <= set(caps)
        c.send("CAP END")
        burst = c.register("alice")
        tokens = {t for m in burst if m.command == "005" for t in m.params[1:-1]}
        assert "CHATHISTORY=100" in tokens and "MSGREFTYPES=msgid,timestamp" in tokens


def test_every_subcommand(history_server: RunningServer) -> None:
    with history_server.client("alice", CAPS) as a:
        a.join("#h")
        echoes = send_messages(a, "#h", 10)
        ids = [m.tags["msgid"] for m in echoes]
        times = [m.tags["time"] for m in echoes]
        all_texts = texts(echoes)

        a.send("CHATHISTORY LATEST #h * 100")
        got = a.batch()
        assert texts(got) == all_texts
        assert [m.tags["msgid"] for m in got] == ids
        assert got[0].source is not None and got[0].source.startswith("alice!")
        a.send("CHATHISTORY LATEST #h * 3")
        assert texts(a.batch()) == all_texts[-3:]
        a.send(f"CHATHISTORY LATEST #h msgid={ids[4]} 100")
        assert texts(a.batch()) == all_texts[5:]
        a.send(f"CHATHISTORY BEFORE #h msgid={ids[6]} 100")
        assert texts(a.batch()) == all_texts[:6]
        a.send(f"CHATHISTORY BEFORE #h timestamp={times[6]} 2")
        assert texts(a.batch()) == all_texts[4:6]
        a.send(f"CHATHISTORY AFTER #h msgid={ids[3]} 3")
        assert texts(a.batch()) == all_texts[4:7]
        a.send(f"CHATHISTORY AFTER #h timestamp={times[3]} 100")
        assert texts(a.batch()) == all_texts[4:]
        a.send(f"CHATHISTORY BETWEEN #h msgid={ids[0]} msgid={ids[-1]} 3")
        assert texts(a.batch()) == all_texts[1:4]
        a.send(f"CHATHISTORY BETWEEN #h msgid={ids[-1]} msgid={ids[0]} 3")
        assert texts(a.batch()) == all_texts[-4:-1]
        a.send(f"CHATHISTORY BETWEEN #h timestamp={times[0]} timestamp={times[-1]} 100")
        assert texts(a.batch()) == all_texts[1:-1]
        a.send(f"CHATHISTORY AROUND #h msgid={ids[7]} 3")
        assert texts(a.batch()) == all_texts[6:9]
        a.send(f"CHATHISTORY AROUND #h msgid={ids[7]} 1")
        assert texts(a.batch()) == all_texts[7:8]
        a.send(f"CHATHISTORY AROUND #h timestamp={times[7]} 3")
        assert all_texts[7] in texts(a.batch())


def test_errors(history_server: RunningServer) -> None:
    with history_server.client("alice", CAPS) as a, history_server.client("bob") as b:
        b.join("#private")
        a.send("CHATHISTORY LATEST #private * 10")
        fail = a.expect("FAIL")
        assert fail.params[:4] == ("CHATHISTORY", "INVALID_TARGET", "LATEST", "#private")
        a.send("CHATHISTORY LATEST #nonexistent * 10")
        assert a.expect("FAIL").params[1] == "INVALID_TARGET"
        a.send("CHATHISTORY LATEST bob * 0")
        assert a.expect("FAIL").params[1:3] == ("INVALID_PARAMS", "LATEST")
        a.send("CHATHISTORY BEFORE bob nonsense 10")
        assert a.expect("FAIL").params[1] == "INVALID_PARAMS"
        a.send("CHATHISTORY BETWEEN bob *")
        assert a.expect("FAIL").params[1] == "NEED_MORE_PARAMS"
        a.send("CHATHISTORY FROB bob * 1")
        assert a.expect("FAIL").params[1] == "INVALID_PARAMS"
        # Times that are valid ISO 8601 but before year 1 or after 9999 in UTC.
        a.send("CHATHISTORY BEFORE bob timestamp=0001-01-01T00:00:00+01:00 10")
        assert a.expect("FAIL").params[1:3] == ("INVALID_PARAMS", "BEFORE")
        a.send("CHATHISTORY AFTER bob timestamp=9999-12-31T23:59:59.999-01:00 10")
        assert a.expect("FAIL").params[1:3] == ("INVALID_PARAMS", "AFTER")


def test_private_history_is_for_the_two_parties(history_server: RunningServer) -> None:
    with (
        history_server.client("alice", CAPS) as a,
        history_server.client("bob", CAPS) as b,
        history_server.client("eve", CAPS) as e,
    ):
        a.send("PRIVMSG bob :just between us")
        a.expect("PRIVMSG")
        b.expect("PRIVMSG")
        b.send("PRIVMSG alice :indeed")
        b.expect("PRIVMSG")
        a.expect("PRIVMSG")
        b.send("CHATHISTORY LATEST ALICE * 10")
        assert texts(b.batch()) == ["just between us", "indeed"]
        a.send("CHATHISTORY LATEST bob * 10")
        assert texts(a.batch()) == ["just between us", "indeed"]
        e.send("CHATHISTORY LATEST alice * 10")
        assert e.batch() == []
        e.send("CHATHISTORY LATEST bob * 10")
        assert e.batch() == []


def test_event_playback_only_when_asked(history_server: RunningServer) -> None:
    with (
        history_server.client("alice", CAPS) as a,
        history_server.client("bob", (*CAPS, "draft/event-playback")) as b,
    ):
        a.join("#ev")
        b.join("#ev")
        a.send("TOPIC #ev :a topic")
        a.expect("TOPIC")
        a.send("PRIVMSG #ev :hello")
        a.expect("PRIVMSG")
        b.expect("PRIVMSG")
        a.send("CHATHISTORY LATEST #ev * 10")
        assert [m.command for m in a.batch()] == ["PRIVMSG"]
        b.send("CHATHISTORY LATEST #ev * 10")
        assert [m.command for m in b.batch()] == ["JOIN", "JOIN", "TOPIC", "PRIVMSG"]
        a.send("@+reply=x;+draft/react=y TAGMSG #ev")
        b.expect("TAGMSG")
        a.send("CHATHISTORY LATEST #ev * 10")
        assert "TAGMSG" not in [m.command for m in a.batch()]
        b.send("CHATHISTORY LATEST #ev * 1")
        replayed = b.batch()
        assert replayed[0].command == "TAGMSG" and replayed[0].tags["+draft/react"] == "y"


def test_targets(history_server: RunningServer) -> None:
    with history_server.client("alice", CAPS) as a, history_server.client("bob") as b:
        a.join("#t1")
        a.send("PRIVMSG #t1 :one")
        a.expect("PRIVMSG")
        time.sleep(0.005)
        a.send("PRIVMSG bob :two")
        a.expect("PRIVMSG")
        b.expect("PRIVMSG")
        a.send(
            "CHATHISTORY TARGETS timestamp=2020-01-01T00:00:00.000Z "
            "timestamp=2262-01-01T00:00:00.000Z 10"
        )
        rows = a.batch()
        assert [m.params[:2] for m in rows] == [("TARGETS", "#t1"), ("TARGETS", "bob")]


def test_labeled_response(history_server: RunningServer) -> None:
    with history_server.client("alice", CAPS) as a:
        a.send("@label=one PING :x")
        pong = a.expect("PONG")
        assert pong.tags["label"] == "one"
        a.send("@label=two PONG :nothing")
        ack = a.expect("ACK")
        assert ack.tags["label"] == "two"
        a.send("@label=three JOIN #lab")
        start = a.expect("BATCH")
        assert start.tags["label"] == "three" and start.params[1] == "labeled-response"
        lines = []
        while (m := a.read()).command != "BATCH":
            lines.append(m)
        assert {m.command for m in lines} >= {"JOIN", "353", "366"}
        assert all(m.tags["batch"] == start.params[0][1:] for m in lines)
        a.send("@label=four CHATHISTORY LATEST #lab * 10")
        outer = a.expect("BATCH")
        inner = a.read()
        assert outer.tags["label"] == "four"
        assert inner.params[1] == "chathistory" and inner.tags["batch"] == outer.params[0][1:]


def test_history_survives_a_restart(
    make_server: Callable[..., RunningServer], tmp_path: Path
) -> None:
    settings = HistorySettings(path=str(tmp_path / "kept.sqlite3"))
    first = make_server(history=settings)
    with first.client("alice", CAPS) as a:
        a.join("#kept")
        send_messages(a, "#kept", 3)
    first.thread.stop()
    second = make_server(history=settings)
    with second.client("alice", CAPS) as a:
        a.join("#kept")
        a.send("CHATHISTORY LATEST #kept * 10")
        assert texts(a.batch()) == ["message 0", "message 1", "message 2"]


def test_catch_up_after_being_cut_off(history_server: RunningServer) -> None:
    with history_server.client("alice", CAPS) as a:
        a.join("#live")
        bob = history_server.client("bob", CAPS)
        bob.join("#live")
        a.send("PRIVMSG #live :before the drop")
        last_seen = bob.expect("PRIVMSG").tags["msgid"]
        bob.sock.close()  # the link dies under bob
        a.expect("QUIT")
        sent = texts(send_messages(a, "#live", 5))
        with history_server.client("bob", CAPS) as back:
            back.join("#live")
            back.send(f"CHATHISTORY AFTER #live msgid={last_seen} 100")
            missed = back.batch()
            assert texts(missed) == sent
            assert len({m.tags["msgid"] for m in missed}) == 5


def test_reactions_are_kept_and_typing_is_not(history_server: RunningServer) -> None:
    caps = (*CAPS, "draft/event-playback")
    with history_server.client("alice", caps) as a:
        a.join("#t")
        a.send("PRIVMSG #t :hello")
        msgid = a.expect("PRIVMSG").tags["msgid"]
        a.send(f"@+reply={msgid};+draft/react=x TAGMSG #t", "@+typing=active TAGMSG #t")
        a.expect("TAGMSG")
        a.expect("TAGMSG")
        a.send("CHATHISTORY LATEST #t * 10")
        kept = [m for m in a.batch() if m.command == "TAGMSG"]
        assert [m.tags.get("+draft/react") for m in kept] == ["x"]
        assert kept[0].tags["+reply"] == msgid
