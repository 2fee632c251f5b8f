"""CHATHISTORY over a real socket, of lines pasted to one user: the server
takes them together as message runs, history keeps each run as one record,
and every line still comes back on its own, with its own msgid."""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import Callable
from pathlib import Path

from conftest import RunningServer
from ircclient import IrcClient

from tcpchat.irc import Message
from tcpchat.server.config import HistorySettings
from tcpchat.server.events import MessageRun
from tcpchat.store.history import split_run_msgid

CAPS = ("batch", "draft/chathistory", "message-tags", "server-time")
PASTED = 300


def history(client: IrcClient, request: str) -> list[Message]:
    client.send(f"CHATHISTORY {request}")
    return [m for m in client.batch() if m.command == "PRIVMSG"]


def texts(messages: list[Message]) -> list[str]:
    return [m.params[1] for m in messages]


def everything(client: IrcClient, target: str) -> list[Message]:
    """The whole conversation, read back a page at a time from its newest."""
    got = history(client, f"LATEST {target} * 100")
    while True:
        page = history(client, f"BEFORE {target} msgid={got[0].tags['msgid']} 100")
        if not page:
            return got
        got = page + got


def test_pasted_lines_come_back_each_with_its_own_msgid(
    make_server: Callable[..., RunningServer], tmp_path: Path
) -> None:
    server = make_server(history=HistorySettings(path=str(tmp_path / "history.sqlite3")))
    runs: list[MessageRun] = []
    server.core.observers.append(
        lambda event, stamp: runs.append(event) if type(event) is MessageRun else None
    )
    with server.client("alice", CAPS) as a, server.client("bob") as b:
        a.send("PRIVMSG bob :before")
        a.send(*[f"PRIVMSG bob :paste {i}" for i in range(PASTED)])  # one write: a paste
        a.fence()
        a.send("PRIVMSG bob :after")
        sent = ["before", *(f"paste {i}" for i in range(PASTED)), "after"]
        got = [m for m in b.fence() if m.command == "PRIVMSG"]
        assert texts(got) == sent
        in_runs = sum(len(run.texts) for run in runs)
        assert in_runs > PASTED // 2  # the server did take the paste as runs
        # Delivered, so committed: a row for each run, and for each other line.
        with contextlib.closing(sqlite3.connect(tmp_path / "history.sqlite3")) as db:
            (rows,) = db.execute("SELECT count(*) FROM messages").fetchone()
        assert rows == len(sent) - in_runs + len(runs)

        kept = everything(a, "bob")
        assert texts(kept) == sent
        msgids = [m.tags["msgid"] for m in kept]
        assert len(set(msgids)) == len(msgids)
        # A message of a run has the msgid <run's msgid>.<line>; no other has a dot.
        assert sum(split_run_msgid(msgid) is not None for msgid in msgids) == in_runs
        assert len({m.tags["time"] for m in kept}) < len(kept)  # a run's share one time

        # References inside runs, from either side of the conversation.
        at = dict(zip(sent, msgids, strict=True))
        assert texts(history(a, f"AROUND bob msgid={at['paste 150']} 5")) == [
            f"paste {i}" for i in range(148, 153)
        ]
        assert texts(history(a, f"AFTER bob msgid={at['paste 10']} 3")) == [
            "paste 11",
            "paste 12",
            "paste 13",
        ]
        assert texts(history(a, f"BETWEEN bob msgid={at['paste 5']} msgid={at['paste 9']} 10")) == [
            "paste 6",
            "paste 7",
            "paste 8",
        ]
        # The other way round: the same span, counted from the first reference.
        backwards = f"BETWEEN bob msgid={at['paste 9']} msgid={at['paste 5']} 2"
        assert texts(history(a, backwards)) == ["paste 7", "paste 8"]
        b.send("CAP REQ :" + " ".join(CAPS))
        b.expect("CAP", "bob", "ACK")
        assert [m.tags["msgid"] for m in everything(b, "alice")] == msgids

        # Deleting one line of a run deletes that line alone.
        a.send(f"REDACT bob {at['paste 42']}")
        a.fence()
        left = everything(a, "bob")
        assert texts(left) == [text for text in sent if text != "paste 42"]
        assert [m.tags["msgid"] for m in left] == [at[text] for text in texts(left)]
        assert texts(history(a, f"AFTER bob msgid={at['paste 42']} 2")) == [
            "paste 43",
            "paste 44",
        ]
        a.send(f"REDACT bob {at['paste 42']}")
        assert a.expect("FAIL").params[:2] == ("REDACT", "UNKNOWN_MSGID")
