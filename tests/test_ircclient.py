"""The tests' IRC client: its fence must be able to fail."""

from __future__ import annotations

import pytest
from conftest import RunningServer


def test_expect_none_fails_when_the_line_arrives(server: RunningServer) -> None:
    with server.client("alice") as a, server.client("bob") as b:
        a.join("#f")
        b.join("#f")
        a.send("PRIVMSG #f :seen")
        with pytest.raises(AssertionError, match="expected no PRIVMSG"):
            b.expect_none("PRIVMSG", after=[a])
        # What the fence read is still there for later reads, in order.
        assert b.expect("PRIVMSG").params == ("#f", "seen")
        a.send("PRIVMSG #f :again", "NOTICE bob :psst")
        got = b.expect_none("TOPIC", after=[a])
        assert [m.command for m in got] == ["PRIVMSG", "NOTICE"]
        assert b.expect("NOTICE").params == ("bob", "psst")


def test_a_fence_holds_everything_owed_before_it(server: RunningServer) -> None:
    with server.client("alice") as a:
        a.send("PRIVMSG nobody :x", "NOTICE alice :self")
        assert [m.command for m in a.fence()] == ["401", "NOTICE"]
        assert a.fence() == []
