"""Take the README's screenshot of the server console with a lively server.

Run it on a display (a virtual one will do) with ImageMagick installed:

    Xvfb :5 -screen 0 1280x800x24 & DISPLAY=:5 python tools/console_screenshot.py out.png

It starts a tcpchat server with its console on a free loopback port, lets a
few people (driven by the client core, in threads) join channels, chat and
leave, has the operator answer, then saves the window as a PNG.
"""

from __future__ import annotations

import logging
import sys
import tkinter as tk
from pathlib import Path

from client_screenshot import (
    pump,
    save_window,
)  # beside this file: run as a script, tools/ is on the path

from tcpchat.client.connection import ClientThread
from tcpchat.client.intents import Intent, Part, Say, SetTopic
from tcpchat.client.settings import Settings
from tcpchat.gui.console_window import ConsoleWindow
from tcpchat.server.config import AccountSettings, Config, HistorySettings, Limits
from tcpchat.server.listener import ServerThread
from tcpchat.server.operator_console import ConsoleLink, Kick


def main(out: Path) -> int:
    logging.basicConfig(level=logging.INFO)  # the console shows the server's log lines too
    config = Config(
        port=0,
        limits=Limits(flood_rate=0.0),
        history=HistorySettings(enabled=False),
        accounts=AccountSettings(enabled=False),
    )
    server = ServerThread(config)
    link = ConsoleLink(server.runner)
    host, port = server.start().addresses[0]
    root = tk.Tk()
    window = ConsoleWindow(root, link, f"{host}:{port}", server.stop, "#lobby")
    people: dict[str, ClientThread] = {}

    def person(nick: str, *channels: str) -> None:
        thread = ClientThread(Settings(host, port, nick, "", channels), lambda _u: None)
        thread.start()
        people[nick] = thread
        pump(root, 0.4)

    def act(nick: str, *intents: Intent) -> None:
        for intent in intents:
            people[nick].submit(intent)
        pump(root, 0.3)

    person("alice", "#lobby")
    person("bob", "#team", "#lobby")
    person("carol", "#team", "#lobby")
    person("dave", "#games", "#lobby")
    person("erin", "#lobby")
    act("bob", SetTopic("#team", "Release 1.0 on Friday"))
    act("dave", SetTopic("#games", "Chess at 5"))
    act("alice", Say("#lobby", "Halo server!"))
    window.send_text("Hai client! Welcome, everyone.")
    pump(root, 0.3)
    act("bob", Say("#team", "morning all"))
    act("carol", Say("#team", "bob: the build is green"))
    act("erin", Say("#lobby", "is the wifi down for anyone else?"))
    act("dave", Say("#games", "anyone for a game?"))
    act("erin", Part("#lobby", "lunch"))
    link.submit(Kick("#lobby", "dave", "too loud, dave"))
    window.send_text("Lunch is at noon today")
    pump(root, 2.5)
    window.user_table.select("carol")
    pump(root, 0.3)
    save_window(root, out)
    for thread in people.values():
        thread.stop()
    window.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main(Path(sys.argv[1] if len(sys.argv) > 1 else "console.png")))
