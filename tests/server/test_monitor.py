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
