"""OPER, KILL and operator overrides."""

from __future__ import annotations

from conftest import OPER_NAME, OPER_PASSWORD, RunningServer


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
