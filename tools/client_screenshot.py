"""Take the README's screenshot of the desktop client in a lively conversation.

Run it on a display (a virtual one will do) with ImageMagick installed:

    Xvfb :5 -screen 0 1280x800x24 & DISPLAY=:5 python tools/client_screenshot.py out.png

It starts a tcpchat server with history (in a temporary directory) on a free
loopback port, lets bob and carol talk in #team, then opens the client
window as alice, so the last lines show as history; a few other people
(driven by the client core, in threads) chat, act, join and leave, and the
window is saved as a PNG. It shows what today's IRCv3 brings too: display
names and colours, a bot, a reply, reactions, a deleted message, a pasted
block sent as one message, and someone typing.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
import time
import tkinter as tk
from pathlib import Path

from tcpchat.client.connection import ClientThread
from tcpchat.client.intents import Delete, Intent, Part, Raw, React, Say, SetProfile, SetTopic
from tcpchat.client.settings import Settings
from tcpchat.gui.client_window import ClientWindow
from tcpchat.server.config import Config, HistorySettings, Limits
from tcpchat.server.listener import ServerThread


def pump(root: tk.Tk, seconds: float) -> None:
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        root.update()
        time.sleep(0.01)


def save_window(root: tk.Tk, out: Path) -> None:
    """Save the whole window with its menu bar, from the screen's corner to the window's."""
    root.update_idletasks()
    width = root.winfo_rootx() + root.winfo_width()
    height = root.winfo_rooty() + root.winfo_height()
    crop = f"{width}x{height}+0+0"
    subprocess.run(
        ["import", "-window", "root", "-crop", crop, "+repage", str(out)], check=True, timeout=30
    )


def main(out: Path) -> int:
    with tempfile.TemporaryDirectory() as data:
        return take(out, HistorySettings(path=str(Path(data) / "history.sqlite3")))


def take(out: Path, history: HistorySettings) -> int:
    server = ServerThread(Config(port=0, history=history, limits=Limits(flood_rate=0.0)))
    host, port = server.start().addresses[0]
    people: dict[str, ClientThread] = {}

    def person(nick: str, *channels: str) -> None:
        thread = ClientThread(Settings(host, port, nick, "", channels), lambda _u: None)
        thread.start()
        people[nick] = thread

    def act(root: tk.Tk, nick: str, *intents: Intent) -> None:
        for intent in intents:
            people[nick].submit(intent)
        pump(root, 0.3)

    person("bob", "#team")
    time.sleep(0.5)  # bob founds #team and is its operator
    person("carol", "#team", "#lobby")
    person("dave", "#team")
    person("buildbot", "#team")
    time.sleep(0.5)
    people["carol"].submit(SetProfile("display-name", "Carol Chen"))
    people["carol"].submit(SetProfile("color", "#8e24aa"))
    people["buildbot"].submit(Raw("MODE buildbot +B"))
    for nick, text in (
        ("bob", "standup in 10 minutes"),
        ("carol", "the build is green again"),
        ("bob", "great, thanks carol"),
    ):
        people[nick].submit(Say("#team", text))
        time.sleep(0.2)
    root = tk.Tk()
    settings = Settings(host, port, "alice", "", ("#team", "#lobby"))
    window = ClientWindow(root, settings, None, log_lines=False)
    window.connect(settings)
    pump(root, 1.0)
    act(
        root, "bob", SetTopic("#team", "Release 1.0 on Friday 🚀 | notes: https://example.org/plan")
    )
    act(root, "bob", Raw("MODE #team +v carol"))
    act(root, "bob", Say("#team", "morning all! ☕"))
    link = "https://docs.python.org/3/library/tkinter.html"
    act(root, "carol", Say("#team", f"hey alice, did you see {link} ?"))
    window.send_text("yes! the new client is lovely 😀")
    pump(root, 0.3)
    team = window.conversations["#team"]
    mine = next(reversed(team.messages))
    act(root, "bob", React("#team", mine, "\U0001f44d"))
    act(root, "carol", React("#team", mine, "\U0001f44d"), React("#team", mine, "\u2764"))
    act(root, "buildbot", Say("#team", "build #512 passed on main (3m12s)"))
    act(root, "dave", Say("#team", "oops, wrong channel"))
    oops = next(reversed(team.messages))
    act(root, "dave", Delete("#team", oops))
    standup = next(m for m, line in team.messages.items() if line.text.startswith("standup"))
    act(root, "carol", Say("#team", "I'll be two minutes late", reply_to=standup))
    act(root, "dave", Say("#team", "waves from the train 🚆", action=True))
    person("erin", "#team")
    pump(root, 0.6)
    act(root, "erin", Say("#team", "مرحبا! right-to-left text works too"))
    act(root, "erin", Part("#team", "lunch"))
    act(root, "dave", Say("#team", "carol: can you review my patch?"))
    act(root, "carol", Say("#lobby", "anyone up for lunch?"), Say("alice", "alice, got a minute?"))
    window.send_text("/me is testing the desktop client")
    window.paste_lines(["release checklist:", "  1. tag", "  2. notes"], ask=lambda _t, _q: True)
    pump(root, 0.5)
    act(root, "bob", Raw("@+typing=active TAGMSG #team"))
    pump(root, 1.0)
    save_window(root, out)
    window.close()
    for thread in people.values():
        thread.stop()
    server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main(Path(sys.argv[1] if len(sys.argv) > 1 else "client.png")))
