"""JOIN, PART, TOPIC, NAMES, LIST, INVITE and KICK, with their error replies."""

from __future__ import annotations

from conftest import RunningServer


def test_first_joiner_is_operator_and_sees_names(server: RunningServer) -> None:
    with server.client("alice") as a, server.client("bob") as b:
        a.send("JOIN #new")
        assert a.expect("JOIN").params == ("#new",)
        assert a.expect("353").params == ("alice", "=", "#new", "@alice")
        b.send("JOIN #NEW")
        b.expect("JOIN", "#new")
        assert b.expect("353").params[-1] == "@alice bob"
        assert a.expect("JOIN").source == "bob!~u@127.0.0.1"


def test_default_channel_always_exists(server: RunningServer) -> None:
    with server.client("alice") as a:
        a.send("LIST")
        rows = [m for m in a.collect_until("323") if m.command == "322"]
        assert [r.params[1] for r in rows] == ["#lobby"]
        a.join("#lobby")
        a.send("NAMES #lobby")
        assert a.expect("353").params[-1] == "alice"  # nobody owns the lobby
        a.send("TOPIC #lobby :anyone may set the lobby's topic")
        a.expect("TOPIC", "#lobby")
        a.send("PART #lobby")
        a.expect("PART")
        a.send("LIST #lobby")
        assert a.expect("322").params[1:3] == ("#lobby", "0")


def test_join_several_with_keys_and_join_zero(server: RunningServer) -> None:
    with server.client("alice") as a:
        a.send("JOIN #a,#b,#c")
        for name in ("#a", "#b", "#c"):
            a.expect("366", "alice", name)
        a.send("JOIN 0")
        parted = {a.expect("PART").params[0] for _ in range(3)}
        assert parted == {"#a", "#b", "#c"}


def test_join_errors(make_server) -> None:  # type: ignore[no-untyped-def]
    server = make_server(max_channels=2)
    with server.client("alice") as a, server.client("bob") as b:
        a.join("#k")
        a.send("MODE #k +kl secret 1")
        a.expect("MODE")
        b.send("JOIN #k")
        b.expect("475", "bob", "#k")
        b.send("JOIN #k secret")
        b.expect("471", "bob", "#k")
        a.send("MODE #k -l+i")
        a.expect("MODE")
        b.send("JOIN #k secret")
        b.expect("473", "bob", "#k")
        b.send("JOIN bad,#x,#y,#z")
        b.expect("403", "bob", "bad")
        b.expect("366", "bob", "#x")
        b.expect("366", "bob", "#y")
        b.expect("405", "bob", "#z")


def test_ban_blocks_join_and_speech(server: RunningServer) -> None:
    with server.client("alice") as a, server.client("bob") as b:
        a.join("#b")
        b.join("#b")
        a.send("MODE #b +b bob")
        assert a.expect("MODE").params == ("#b", "+b", "bob!*@*")
        b.send("PRIVMSG #b :hello?")
        b.expect("404", "bob", "#b")
        b.send("PART #b")
        b.expect("PART")
        b.send("JOIN #b")
        b.expect("474", "bob", "#b")
        a.send("MODE #b b")
        assert a.expect("367").params[1:3] == ("#b", "bob!*@*")
        a.expect("368")


def test_part_errors_and_reason(server: RunningServer) -> None:
    with server.client("alice") as a, server.client("bob") as b:
        a.join("#p")
        b.join("#p")
        b.send("PART #p :gone fishing")
        assert a.expect("PART").params == ("#p", "gone fishing")
        b.send("PART #p")
        b.expect("442", "bob", "#p")
        b.send("PART #nowhere")
        b.expect("403", "bob", "#nowhere")


def test_topic(server: RunningServer) -> None:
    with server.client("alice") as a, server.client("bob") as b:
        a.join("#t")
        b.join("#t")
        a.send("TOPIC #t")
        a.expect("331")
        a.send("TOPIC #t :fresh topic")
        assert b.expect("TOPIC").params == ("#t", "fresh topic")
        b.send("TOPIC #t")
        assert b.expect("332").params[1:] == ("#t", "fresh topic")
        assert b.expect("333").params[2].startswith("alice!")
        b.send("TOPIC #t :mine now")
        b.expect("482", "bob", "#t")
        a.send("MODE #t -t")
        b.expect("MODE")
        b.send("TOPIC #t :mine now")
        b.expect("TOPIC", "#t", "mine now")
        b.send("TOPIC #elsewhere :x")
        b.expect("403")


def test_kick(server: RunningServer) -> None:
    with server.client("alice") as a, server.client("bob") as b, server.client("carol") as c:
        for client in (a, b, c):
            client.join("#kick")
        b.send("KICK #kick carol")
        b.expect("482", "bob", "#kick")
        a.send("KICK #kick carol :behave")
        assert c.expect("KICK").params == ("#kick", "carol", "behave")
        assert b.expect("KICK").params == ("#kick", "carol", "behave")
        a.send("KICK #kick carol")
        a.expect("441", "alice", "carol", "#kick")
        a.send("KICK #kick nobody")
        a.expect("401", "alice", "nobody")
        c.send("KICK #kick bob")
        c.expect("442", "carol", "#kick")


def test_invite_lets_into_invite_only_channel(server: RunningServer) -> None:
    with server.client("alice") as a, server.client("bob") as b:
        a.join("#inv")
        a.send("MODE #inv +i")
        a.expect("MODE")
        a.send("INVITE bob #inv")
        assert a.expect("341").params[1:] == ("bob", "#inv")
        invite = b.expect("INVITE")
        assert invite.params == ("bob", "#inv") and invite.source is not None
        b.join("#inv")
        b.send("INVITE alice #inv")
        b.expect("443")
        a.send("INVITE nobody #inv")
        a.expect("401")


def test_names_and_list_hide_secret_channels(server: RunningServer) -> None:
    with server.client("alice") as a, server.client("bob") as b:
        a.join("#secret")
        a.send("MODE #secret +s")
        a.expect("MODE")
        b.send("LIST")
        names = [m.params[1] for m in b.collect_until("323") if m.command == "322"]
        assert "#secret" not in names
        b.send("NAMES #secret")
        b.expect("366", "bob", "#secret")
        a.send("NAMES #secret")
        assert a.expect("353").params[1:] == ("@", "#secret", "@alice")
