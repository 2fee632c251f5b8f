"""Take the README's screenshots of the web page: a desktop window and a phone.

Needs Chromium and ChromeDriver (Debian's ``chromium`` and
``chromium-driver``), Selenium (the ``dev`` extra), and a colour emoji font
for the emoji (Debian's ``fonts-noto-color-emoji``); no display:

    .venv/bin/python tools/web_screenshot.py docs/screenshots

It starts a tcpchat server with history and its web page on free loopback
ports, lets a few people (the client core, in threads) talk in #lobby and
#team, then opens the page in headless Chromium as "sam", who joins after
them (so the page shows what was said earlier), is greeted, named and
sent a private message. It saves ``web-desktop.png`` (1280 x 800, light)
and ``web-phone.png`` (360 x 740, the system's dark theme).
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

from selenium.webdriver.common.keys import Keys

# The tests' Chromium harness, beside this file's folder: run as a script.
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from browser import Browser, find_chromium

from tcpchat.client.connection import ClientThread
from tcpchat.client.intents import Intent, Say, SetTopic
from tcpchat.client.settings import Settings
from tcpchat.server.config import (
    AccountSettings,
    Config,
    HistorySettings,
    Limits,
    WebSettings,
)
from tcpchat.server.listener import ServerThread


def main(out: Path) -> int:
    found = find_chromium()
    if found is None:
        print("needs Chromium and ChromeDriver (Debian: chromium chromium-driver)", file=sys.stderr)
        return 2
    out.mkdir(parents=True, exist_ok=True)
    data = Path(tempfile.mkdtemp(prefix="tcpchat-shot-"))
    config = Config(
        port=0,
        limits=Limits(flood_rate=0.0),
        history=HistorySettings(path=str(data / "history.sqlite3")),
        accounts=AccountSettings(enabled=False),
        web=WebSettings(port=0),
    )
    server = ServerThread(config)
    runner = server.start()
    host, port = runner.addresses[0]
    assert runner.web is not None
    url = f"http://127.0.0.1:{runner.web.addresses[0][1]}/"
    people: dict[str, ClientThread] = {}

    def person(nick: str, *channels: str) -> None:
        thread = ClientThread(Settings(host, port, nick, "", channels), lambda _u: None)
        thread.start()
        people[nick] = thread
        time.sleep(0.4)

    def act(nick: str, *intents: Intent) -> None:
        for intent in intents:
            people[nick].submit(intent)
            time.sleep(0.25)

    person("alice", "#lobby")
    person("bob", "#lobby", "#team")
    person("carol", "#lobby", "#team")
    act("alice", SetTopic("#lobby", "Room 12 · maths club · be kind"))
    act(
        "alice",
        Say("#lobby", "Good morning everyone! Slides for today: https://example.org/slides"),
    )
    act("bob", Say("#lobby", "morning 👋 is the quiz still on for 11?"))
    act("alice", Say("#lobby", "yes, 11 sharp. bring a pencil ✏️"))
    act("carol", Say("#team", "I pushed the fix, can someone check?"))

    desktop = Browser(*found, width=1280, height=800)
    try:
        desktop.login(url, "sam")
        desktop.find("#message").send_keys("/join #team", Keys.ENTER)
        desktop.wait(lambda: desktop.text("#title") == "#team", "#team open")
        desktop.chord(Keys.ALT, "2")  # back to #lobby, as a person would
        desktop.wait(lambda: desktop.text("#title") == "#lobby", "#lobby open")
        act("bob", Say("#lobby", "hi sam! you missed the warm-up, it's just above"))
        desktop.find("#message").send_keys("thanks bob 🙌 reading it now", Keys.ENTER)
        act("carol", Say("#team", "sam: can you review it after class?"))
        act("bob", Say("sam", "psst, the answer to question 3 is 42 😉"))
        act("alice", Say("#lobby", "5 minutes to the quiz!"))
        time.sleep(1.0)
        desktop.screenshot(out / "web-desktop.png")
        phone = Browser(*found, width=360, height=740)
        try:
            phone.driver.execute_cdp_cmd(
                "Emulation.setEmulatedMedia",
                {"features": [{"name": "prefers-color-scheme", "value": "dark"}]},
            )
            phone.login(url, "pat")
            act("carol", Say("#lobby", "pat, welcome! we're doing the quiz at 11 🎉"))
            phone.find("#message").send_keys("hi all, on my phone today", Keys.ENTER)
            time.sleep(1.0)
            phone.screenshot(out / "web-phone.png")
        finally:
            phone.close()
    finally:
        desktop.close()
        for thread in people.values():
            thread.stop()
        server.stop()
    print(f"wrote {out / 'web-desktop.png'} and {out / 'web-phone.png'}")
    return 0


if __name__ == "__main__":
    sys.exit(main(Path(sys.argv[1] if len(sys.argv) > 1 else "docs/screenshots")))
