"""MODE for channels and users."""

from __future__ import annotations

from conftest import RunningServer


def test_channel_mode_query(server: RunningServer) -> None:
    with server.client("alice") as a, server.client("bob") as b:
        a.join("#q")
        a.send("MODE #q +k pw")
        a.expect("MODE")
        a.send("MODE #q")
        assert a.expect("324").params[1:] == ("#q", "+knt", "pw")
        assert a.expect("329").params[1] == "#q"
        b.send("MODE #q")
        assert b.expect("324").params[1:] == ("#q", "+knt", "*")  # key hidden from outsiders
        b.send("MODE #nope")
        b.expect("403")


def test_op_and_voice_changes(server: RunningServer) -> None:
    with server.client("alice") as a, server.client("bob") as b:
        a.join("#o")
        b.join("#o")
        a.send("MODE #o +ov bob bob")
        got = b.expect("MODE")
        assert got.params == ("#o", "+ov", "bob", "bob")
        b.send("MODE #o -o alice")
        assert a.expect("MODE", "#o", "-o").params == ("#o", "-o", "alice")
        a.send("MODE #o +t")
        a.expect("482")
        b.send("MODE #o +o nobody")
        b.expect("401")


def test_unknown_mode_and_limits(server: RunningServer) -> None:
    with server.client("alice") as a:
        a.join("#u")
        a.send("MODE #u +z")
        assert a.expect("472").params[1] == "z"
        a.send("MODE #u +l notanumber")
        a.expect("696")
        a.send("MODE #u +imnst")
        assert a.expect("MODE").params == ("#u", "+ims")  # n and t were already set
        a.send("MODE #u -n+l 5")
        assert a.expect("MODE").params == ("#u", "-n+l", "5")


def test_user_modes(server: RunningServer) -> None:
    with server.client("alice") as a, server.client("bob"):
        a.send("MODE alice")
        assert a.expect("221").params[1] == "+"
        a.send("MODE alice +i")
        assert a.expect("MODE").params == ("alice", "+i")
        a.send("MODE alice +o")  # only OPER grants +o
        a.send("MODE alice")
        assert a.expect("221").params[1] == "+i"
        a.send("MODE alice +x")
        a.expect("501")
        a.send("MODE bob +i")
        a.expect("502")


def test_invalid_key_is_refused_without_echoing_it(server: RunningServer) -> None:
    with server.client("alice") as a:
        a.join("#key")
        a.send("MODE #key +k :a b")
        assert a.expect("696").params[1:4] == ("#key", "k", "*")
        a.send("MODE #key +l :")
        assert a.expect("696").params[1:4] == ("#key", "l", "*")
