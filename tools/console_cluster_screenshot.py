"""Take the README's screenshot of the console of a cluster's node.

Run it on a display (a virtual one will do) with ImageMagick and redis-server
installed:

    Xvfb :5 -screen 0 1280x800x24 & DISPLAY=:5 python tools/console_cluster_screenshot.py out.png

It starts a redis-server of its own (in a temporary directory, on a free
loopback port), two nodes of one network on it, ``north`` with its console
and ``south`` without, lets a few people join on either node and chat, and
saves the console's window (its nodes table, its users with their nodes) as
a PNG.
"""

from __future__ import annotations

import logging
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import tkinter as tk
from pathlib import Path

from client_screenshot import (
    pump,
    save_window,
)  # beside this file: run as a script, tools/ is on the path

from tcpchat.client.connection import ClientThread
from tcpchat.client.intents import Intent, Say, SetTopic
from tcpchat.client.settings import Settings
from tcpchat.gui.console_window import ConsoleWindow
from tcpchat.server.config import (
    AccountSettings,
    ClusterSettings,
    Config,
    HistorySettings,
    Limits,
    WebSettings,
)
from tcpchat.server.listener import ServerThread
from tcpchat.server.operator_console import ConsoleLink


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_redis(directory: str) -> tuple[subprocess.Popen[bytes], str]:
    """A redis-server of this run's own; it and its address."""
    executable = shutil.which("redis-server")
    if executable is None:
        raise SystemExit("redis-server is not installed (Debian: apt install redis-server)")
    port = free_port()
    command = [executable, "--port", str(port), "--bind", "127.0.0.1", "--dir", directory]
    process = subprocess.Popen([*command, "--save", ""], stdout=subprocess.DEVNULL)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return process, f"redis://127.0.0.1:{port}/0"
        except OSError:
            time.sleep(0.05)
    process.kill()
    raise SystemExit("redis-server did not start")


def node_config(redis: str, node: str) -> Config:
    return Config(
        port=0,
        limits=Limits(flood_rate=0.0),
        history=HistorySettings(enabled=False),
        accounts=AccountSettings(enabled=False),
        cluster=ClusterSettings(redis=redis, node=node),
        web=WebSettings(enabled=False),
    )


def main(out: Path) -> int:
    logging.basicConfig(level=logging.INFO)
    with tempfile.TemporaryDirectory() as data:
        redis, url = start_redis(data)
        try:
            return take(out, url)
        finally:
            redis.terminate()
            redis.wait(10)


def take(out: Path, url: str) -> int:
    north = ServerThread(node_config(url, "north"))
    link = ConsoleLink(north.runner)
    north_host, north_port = north.start().addresses[0]
    south = ServerThread(node_config(url, "south"))
    south_port = south.start().addresses[0][1]
    root = tk.Tk()
    window = ConsoleWindow(root, link, f"{north_host}:{north_port}", north.stop, "#lobby")
    people: dict[str, ClientThread] = {}

    def person(port: int, nick: str, *channels: str) -> None:
        thread = ClientThread(Settings("127.0.0.1", port, nick, "", channels), lambda _u: None)
        thread.start()
        people[nick] = thread
        pump(root, 0.4)

    def act(nick: str, *intents: Intent) -> None:
        for intent in intents:
            people[nick].submit(intent)
        pump(root, 0.3)

    person(north_port, "alice", "#lobby")
    person(south_port, "bob", "#team", "#lobby")
    person(south_port, "carol", "#team", "#lobby")
    person(north_port, "dave", "#lobby")
    person(south_port, "erin", "#lobby")
    act("bob", SetTopic("#team", "Release 1.0 on Friday"))
    act("alice", Say("#lobby", "Halo server!"))
    window.send_text("Hai client! Two nodes today: north and south.")
    pump(root, 0.3)
    act("bob", Say("#lobby", "I am on south"))
    act("carol", Say("#team", "bob: the build is green"))
    act("dave", Say("#lobby", "north here"))
    pump(root, 3.0)  # the nodes' heartbeats count everyone, and the table shows it
    window.user_table.select("bob")
    pump(root, 0.3)
    save_window(root, out)
    for thread in people.values():
        thread.stop()
    south.stop()
    window.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main(Path(sys.argv[1] if len(sys.argv) > 1 else "console-cluster.png")))
