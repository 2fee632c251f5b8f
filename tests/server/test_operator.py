"""OPER, KILL and operator overrides."""

from __future__ import annotations

import pytest
from conftest import OPER_NAME, OPER_PASSWORD, RunningServer
from ircclient import IrcClient


def test_oper_and_kill(server: RunningServer) -> None:
    with server.client("alice") as a, server.client("bob") as b, server.client("carol") as c:
        b.join("#k")
        c.join("#k")
        a.send("KILL bob :spam")
        a.expect("481")
        a.send(f"OPER {OPER_NAME} wrong")
        a.expect("464")
        a.send(f"OPER nobody {OPER_PASSWORD}")
        a.expect("491")
        a.send(f"OPER {OPER_NAME} {OPER_PASSWORD}")
        assert a.expect("MODE").params == ("alice", "+o")
        a.expect("381")
        a.send("KILL bob :spam")
        assert "Killed (alice (spam))" in b.expect("ERROR").params[0]
        assert c.expect("QUIT").params == ("Killed (alice (spam))",)
        a.send("KILL ghost")
        a.expect("401")


def test_operator_override_kick_and_mode(server: RunningServer) -> None:
    with server.client("alice") as a, server.client("bob") as b:
        b.join("#own")
        a.send(f"OPER {OPER_NAME} {OPER_PASSWORD}")
        a.expect("381")
        a.send("MODE #own +m")
        assert b.expect("MODE").params == ("#own", "+m")
        a.send("KICK #own bob :override")
        assert b.expect("KICK").params == ("#own", "bob", "override")


def oper(client: IrcClient) -> None:
    client.send(f"OPER {OPER_NAME} {OPER_PASSWORD}")
    client.expect("381")


@pytest.mark.parametrize(
    "command", ["KILL bob", "KLINE *@1.2.3.4", "UNKLINE *@1.2.3.4", "WALLOPS :hi", "REHASH"]
)
def test_operator_commands_are_refused_to_others(server: RunningServer, command: str) -> None:
    with server.client("bob") as b:
        b.send(command)
        b.expect("481")


def test_kline_removes_and_keeps_out(server: RunningServer) -> None:
    with server.client("admin") as a, server.client("troll") as t:
        oper(a)
        a.send("KLINE 5 ~u@127.0.0.* :behave")
        assert "would ban you too" in a.expect("NOTICE").params[1]
        a.send("KLINE 5 ~troll@* :behave")
        assert "Banned ~troll@*" in a.expect("NOTICE").params[1]
    with server.client() as t:
        t.send("NICK troll", "USER troll 0 * :T")
        t.expect("465")
        assert "K-Lined: behave" in t.expect("ERROR").params[0]
    with server.client("admin2") as a:
        oper(a)
        a.send("UNKLINE ~troll@*")
        assert "Lifted" in a.expect("NOTICE").params[1]
    with server.client() as t:
        t.send("NICK troll", "USER troll 0 * :T")
        t.expect("001")


def test_kline_disconnects_matching_users(server: RunningServer) -> None:
    with server.client("admin") as a, server.client() as victim, server.client("witness") as w:
        victim.nick = "victim"
        victim.send("NICK victim", "USER bad 0 * :V")
        victim.expect("001")
        victim.join("#k")
        w.join("#k")
        oper(a)
        a.send("KLINE ~bad@* :spam")
        assert "K-Lined: spam" in victim.expect("ERROR").params[0]
        assert w.expect("QUIT").params == ("K-Lined: spam",)


def test_wallops_reach_operators_only(server: RunningServer) -> None:
    with server.client("op1") as o1, server.client("op2") as o2, server.client("pleb") as p:
        oper(o1)
        oper(o2)
        o1.send("WALLOPS :maintenance at noon")
        assert o2.expect("WALLOPS").params == ("maintenance at noon",)
        assert o1.expect("WALLOPS").params == ("maintenance at noon",)
        p.expect_none("WALLOPS", after=[o1])


def test_rehash_without_a_config_file(server: RunningServer) -> None:
    with server.client("admin") as a:
        oper(a)
        a.send("REHASH")
        assert "REHASH failed" in a.expect("NOTICE").params[1]
