"""``tcpchat console`` and ``TCP_SERVER.py`` as processes: the original scenario and no display.

The end-to-end test is the classroom exercise itself: ``python TCP_SERVER.py``
and ``python TCP_CLIENT.py`` in two processes on a virtual display, the
person at the server typing "Hai client!" into the console window and the
person at the client typing "Halo server!" back, with real key presses
(xdotool). Both processes' terminal logs and a raw IRC client watching
``#lobby`` show what arrived.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from ircclient import IrcClient
from ngircd import free_port
from processes import stop_process
from tkdrive import xdotool

ROOT = Path(__file__).resolve().parents[2]
DEADLINE = 15.0
# The web page on a port of the system's choosing: two runs at once never meet on 8080.
QUIET_SERVER = ("--no-history", "--no-accounts", "--web-port", "0")


def wait_until(test: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + DEADLINE
    while not test():
        if time.monotonic() > deadline:
            raise AssertionError(f"never saw {what}")
        time.sleep(0.05)


def connect(port: int, nick: str) -> IrcClient:
    """A raw client registered on the server at ``port``, once it listens."""
    deadline = time.monotonic() + DEADLINE
    while True:
        try:
            client = IrcClient("127.0.0.1", port)
        except ConnectionRefusedError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)
        else:
            client.register(nick)
            return client


@pytest.fixture
def start(tmp_path: Path) -> Iterator[Callable[..., tuple[subprocess.Popen[bytes], Path]]]:
    """Start tcpchat processes with their output in files; stop any still running at the end."""
    processes: list[subprocess.Popen[bytes]] = []

    def run(
        *command: str, env: dict[str, str] | None = None
    ) -> tuple[subprocess.Popen[bytes], Path]:
        out = tmp_path / f"out{len(processes)}.txt"
        environment = {
            **(env if env is not None else os.environ),
            "PYTHONUNBUFFERED": "1",
            "XDG_CONFIG_HOME": str(tmp_path),
        }
        with out.open("wb") as sink:
            process = subprocess.Popen(
                [sys.executable, *command], cwd=ROOT, env=environment, stdout=sink, stderr=sink
            )
        processes.append(process)
        return process, out

    yield run
    for process in processes:
        stop_process(process)


def type_into_window(title: str, text: str) -> None:
    """Focus the window whose title matches ``title`` and type ``text`` and Enter into it."""
    found: list[str] = []

    def window_found() -> bool:
        try:
            found[:] = xdotool("search", "--name", title).split()
        except subprocess.CalledProcessError:  # no such window yet
            return False
        return bool(found)

    wait_until(window_found, f"a window named {title!r}")
    xdotool("windowfocus", "--sync", found[0])
    xdotool("type", "--delay", "20", text)
    xdotool("key", "Return")


def test_the_original_two_windows_talk(
    display: str, start: Callable[..., tuple[subprocess.Popen[bytes], Path]]
) -> None:
    if shutil.which("xdotool") is None:
        pytest.skip("xdotool is not installed (Debian package xdotool)")
    port = str(free_port())
    server, server_out = start("TCP_SERVER.py", "--port", port, *QUIET_SERVER)
    with connect(int(port), "watcher") as watcher:
        watcher.join("#lobby")
        client, client_out = start("TCP_CLIENT.py", "--port", port, "--nick", "shim")
        watcher.expect_where(
            lambda m: m.command == "JOIN" and (m.source or "").startswith("shim!"), "shim joins"
        )
        type_into_window("^tcpchat console", "Hai client!")
        said = watcher.expect("PRIVMSG")
        assert said.source is not None and said.source.startswith("Server!")
        assert said.params == ("#lobby", "Hai client!")
        wait_until(lambda: "<Server> Hai client!" in client_out.read_text(), "it in the client")
        type_into_window("^tcpchat: shim", "Halo server!")
        said = watcher.expect("PRIVMSG")
        assert said.source is not None and said.source.startswith("shim!")
        assert said.params == ("#lobby", "Halo server!")
        wait_until(
            lambda: "#lobby <shim> Halo server!" in server_out.read_text(), "it in the console"
        )
    client.terminate()
    client.wait(DEADLINE)
    server.send_signal(signal.SIGTERM)
    assert server.wait(DEADLINE) == 0, server_out.read_text()


def test_without_a_display_it_says_so_and_serves(
    start: Callable[..., tuple[subprocess.Popen[bytes], Path]],
) -> None:
    port = str(free_port())
    env = {k: v for k, v in os.environ.items() if k != "DISPLAY"}
    server, out = start("-m", "tcpchat", "console", "--port", port, *QUIET_SERVER, env=env)
    with connect(int(port), "alice") as alice:
        alice.join("#lobby")
        server.send_signal(signal.SIGTERM)
        assert alice.expect("ERROR").params[0].endswith("(Server shutting down)")
    assert server.wait(DEADLINE) == 0
    said = out.read_text().splitlines()
    no_display = [line for line in said if "no display" in line]
    assert len(no_display) == 1 and no_display[0].startswith("tcpchat: no display")
    assert "Traceback" not in out.read_text()


def test_a_port_in_use_is_one_line_and_status_2(display: str) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = str(taken.getsockname()[1])
        result = subprocess.run(
            [sys.executable, "-m", "tcpchat", "console", "--port", port, *QUIET_SERVER],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
    assert result.returncode == 2
    assert "already in use" in result.stderr and "Traceback" not in result.stderr


def test_a_cluster_without_redis_is_one_line_and_status_2(display: str) -> None:
    redis = f"redis://127.0.0.1:{free_port()}/0"  # nothing listens there
    cluster = ("--cluster", redis, "--node", "a")
    result = subprocess.run(
        [sys.executable, "-m", "tcpchat", "console", "--port", "0", *QUIET_SERVER, *cluster],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert result.returncode == 2
    assert f"cannot reach Redis at {redis}" in result.stderr and "Traceback" not in result.stderr


def test_without_tk_it_says_what_to_install_and_serves(
    start: Callable[..., tuple[subprocess.Popen[bytes], Path]],
) -> None:
    port = str(free_port())
    env = {**os.environ, "PYTHONPATH": str(ROOT / "tests" / "notk")}  # a Python without Tk
    server, out = start("TCP_SERVER.py", "--port", port, *QUIET_SERVER, env=env)
    with connect(int(port), "alice") as alice:
        alice.join("#lobby")
        server.send_signal(signal.SIGTERM)
        assert alice.expect("ERROR").params[0].endswith("(Server shutting down)")
    assert server.wait(DEADLINE) == 0
    said = [line for line in out.read_text().splitlines() if "Tk" in line]
    assert len(said) == 1 and said[0].startswith("tcpchat: the windows need Tk")
    assert "python3-tk" in said[0] and said[0].endswith("Serving without the console.")
    assert "Traceback" not in out.read_text()
