"""Listening, and stopping: the parts of the runner that meet the platform."""

from __future__ import annotations

import asyncio
import errno
import os
import signal
from collections.abc import Callable, Iterator

import pytest
from conftest import RunningServer

from tcpchat.server.listener import STOP_SIGNALS, stop_on_signals


def test_a_port_in_use_is_refused(
    server: RunningServer, make_server: Callable[..., RunningServer]
) -> None:
    with pytest.raises(OSError) as raised:
        make_server(host=server.host, port=server.port)
    assert raised.value.errno == errno.EADDRINUSE


def test_a_restart_binds_while_old_connections_linger(
    make_server: Callable[..., RunningServer],
) -> None:
    first = make_server()
    with first.client("alice") as alice:
        first.thread.stop()
        assert alice.closed_by_server()
    # The server closed first, so its side of the connection is in TIME_WAIT.
    again = make_server(host=first.host, port=first.port)
    with again.client("bob") as bob:
        assert bob.nick == "bob"


class WindowsLikeLoop(asyncio.SelectorEventLoop):
    """An event loop without signal handlers of its own, as on Windows."""

    def add_signal_handler(self, sig: int, callback: Callable[..., object], *args: object) -> None:
        raise NotImplementedError


@pytest.fixture
def restore_signals() -> Iterator[None]:
    saved = {sig: signal.getsignal(sig) for sig in STOP_SIGNALS}
    yield
    for sig, handler in saved.items():
        signal.signal(sig, handler)


@pytest.mark.usefixtures("restore_signals")
@pytest.mark.parametrize("loop_type", [asyncio.SelectorEventLoop, WindowsLikeLoop])
@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_a_stop_signal_stops_the_loop(loop_type: type[asyncio.AbstractEventLoop], sig: int) -> None:
    loop = loop_type()
    stopped: list[bool] = []

    def stop() -> None:
        stopped.append(True)
        loop.stop()

    try:
        stop_on_signals(loop, stop)
        loop.call_soon(os.kill, os.getpid(), sig)
        give_up = loop.call_later(5, loop.stop)
        loop.run_forever()
        give_up.cancel()
        if loop_type is asyncio.SelectorEventLoop:
            for each in STOP_SIGNALS:
                loop.remove_signal_handler(each)
    finally:
        loop.close()
    assert stopped == [True]
