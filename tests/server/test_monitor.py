"""MONITOR: being told when watched nicks come and go."""

from __future__ import annotations

from conftest import RunningServer


def test_monitor_online_offline_and_renames(server: RunningServer) -> None:
    with server.client("watcher") as w:
        w.send("MONITOR + friend,Other")
        assert w.expect("731").params[1] == "friend,Other"
        with server.client("friend") as f:
            assert w.expect("730").params[1] == "friend!~u@127.0.0.1"
            f.send("NICK pal")
            f.expect("NICK")
            assert w.expect("731").params[1] == "friend"
            w.send("MONITOR S")
            assert w.expect("731").params[1] == "friend,other"
            f.send("NICK friend")
            f.expect("NICK")
            assert w.expect("730").params[1].startswith("friend!")
            f.send("QUIT")
        assert w.expect("731").params[1] == "friend"
        w.send("MONITOR L")
        assert w.expect("732").params[1] == "friend,other"
        w.expect("733")
        w.send("MONITOR - friend", "MONITOR L")
        assert w.expect("732").params[1] == "other"
        w.send("MONITOR C", "MONITOR L")
        w.expect("733")


def test_monitor_list_is_bounded(server: RunningServer) -> None:
    with server.client("watcher") as w:
        w.send("MONITOR + " + ",".join(f"n{i}" for i in range(101)))
        full = w.expect("734")
        assert full.params[1] == "100"


def test_extended_monitor_tells_watchers_of_away_setname_and_account(
    server: RunningServer,
) -> None:
    """extended-monitor: a watcher with away-notify and setname gets a watched
    user's AWAY and SETNAME; one without extended-monitor, or sharing a
    channel (it has the line already, once), gets no second copy."""
    caps = ("extended-monitor", "away-notify", "setname")
    with (
        server.client("watcher", caps) as w,
        server.client("plain", ("away-notify", "setname")) as p,
        server.client("member", caps) as m,
        server.client("friend") as f,
    ):
        for client in (w, p, m):
            client.send("MONITOR + friend")
            client.expect("730")
        f.join("#c")
        m.join("#c")
        f.send("AWAY :lunch")
        f.expect("306")
        away = w.expect("AWAY")
        assert away.source == "friend!~u@127.0.0.1" and away.params == ("lunch",)
        assert m.expect("AWAY").params == ("lunch",)  # as a channel member
        f.send("SETNAME :Friend Two")
        assert w.expect("SETNAME").params == ("Friend Two",)
        assert m.expect("SETNAME").params == ("Friend Two",)
        p.expect_none("AWAY", after=[f])
        p.expect_none("SETNAME")
        m.expect_none("AWAY")  # no second copy through MONITOR
        m.expect_none("SETNAME")
        f.send("AWAY")
        f.expect("305")
        assert w.expect("AWAY").params == ()
