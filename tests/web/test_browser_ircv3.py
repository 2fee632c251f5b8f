"""The page in a real headless Chromium with today's IRCv3: a pasted block as
one message, replies, reactions, deleting, typing, display names and bots.
The other side is the raw test client, which sees exactly what was sent."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from browser import Browser
from conftest import RunningServer
from selenium.webdriver.common.keys import Keys

from tcpchat.server.config import HistorySettings, WebSettings

Open = Callable[..., Browser]
TAGS = ("message-tags", "echo-message", "batch", "server-time")
THUMBS = "\U0001f44d"


@pytest.fixture
def web_history_server(make_server: Callable[..., RunningServer], tmp_path: Path) -> RunningServer:
    return make_server(
        web=WebSettings(port=0), history=HistorySettings(path=str(tmp_path / "h.sqlite3"))
    )


def no_page_errors(window: Browser) -> None:
    assert [e["message"] for e in window.log() if e["level"] == "SEVERE"] == []


def _act(window: Browser, text: str, button: str) -> None:
    """Click the line that says ``text``, then its action ``button`` (a title),
    again if the page redrew the line in between (a reaction, a deletion)."""

    def attempt() -> bool:
        line = next(e for e in window.find_all("#messages .line") if text in e.text)
        line.click()
        window.find(f".line-actions button[title^='{button}']").click()
        return True

    window.wait(attempt, f"{button!r} on the line {text!r}")


def _offers_delete(window: Browser, text: str) -> bool:
    """Whether the actions of the line that says ``text`` include Delete."""
    next(e for e in window.find_all("#messages .line") if text in e.text).click()
    return bool(window.find(".line-actions button[title^='Delete']").is_displayed())


def test_reply_react_and_delete(web_history_server: RunningServer, browser: Open) -> None:
    window = browser()
    window.login(web_history_server.web_url(), "alice")
    with web_history_server.client("bob", (*TAGS, "draft/message-redaction")) as bob:
        bob.join("#lobby")
        bob.send("PRIVMSG #lobby :lunch at noon?")
        asked = bob.expect("PRIVMSG").tags["msgid"]
        _act(window, "lunch at noon?", f"React with {THUMBS}")
        react = bob.expect("TAGMSG")
        assert react.tags["+reply"] == asked and react.tags["+draft/react"] == THUMBS
        window.wait(lambda: not _offers_delete(window, "lunch"), "no Delete on bob's line")
        _act(window, "lunch at noon?", "Reply to this message")
        window.wait(lambda: "Replying to bob" in window.text("#reply-bar"), "the reply bar")
        window.find("#message").send_keys("yes", Keys.ENTER)
        answer = bob.expect("PRIVMSG")
        assert answer.params == ("#lobby", "yes") and answer.tags["+reply"] == asked
        window.wait(lambda: "↪ bob: lunch at noon?" in window.text("#messages"), "the quote")
        own = answer.tags["msgid"]
        bob.send(f"@+reply={own};+draft/react={THUMBS} TAGMSG #lobby")
        window.wait(lambda: window.text(".reaction") == f"{THUMBS} 1", "the reaction counted")
        window.script("window.confirm = () => true")  # the page asks before deleting
        _act(window, "yes", "Delete")
        assert bob.expect("REDACT").params == ("#lobby", own)
        window.wait(lambda: window.find_all("#messages .line.redacted"), "greyed, struck through")
        assert "deleted" in window.text("#messages .line.redacted")
    no_page_errors(window)


def test_typing_pasting_display_names_and_bots(web_server: RunningServer, browser: Open) -> None:
    window = browser()
    window.login(web_server.web_url(), "alice")
    caps = ("message-tags", "batch", "draft/multiline", "draft/metadata-2")
    with web_server.client("bob", caps) as bob:
        bob.send("METADATA * SET display-name :Bob B.", "MODE bob +B")
        bob.join("#lobby")
        bob.send("@+typing=active TAGMSG #lobby")
        window.wait(lambda: window.text("#typing") == "Bob B. (bob) is typing…", "bob typing")
        bob.send("PRIVMSG #lobby :beep")
        window.wait(lambda: window.text("#typing") == "", "typing ended by the message")
        window.wait(
            lambda: any(
                "Bob B. (bob)" in e.text and e.find_elements("css selector", ".bot")
                for e in window.find_all("#messages .line")
                if "beep" in e.text
            ),
            "bob's line with his display name and the bot badge",
        )
        window.find("#message").send_keys("hel")
        typing = bob.expect("TAGMSG")
        assert typing.source.startswith("alice!") and typing.tags["+typing"] == "active"
        window.find("#message").clear()
        window.script(
            """const box = document.getElementById('message');
               window.confirm = () => true;
               const data = new DataTransfer();
               data.setData('text', 'line one\\nline two');
               box.dispatchEvent(new ClipboardEvent('paste', {clipboardData: data}));"""
        )
        opening = bob.expect("BATCH")
        assert opening.params[1:] == ("draft/multiline", "#lobby")
        assert [m.params[1] for m in bob.batch_lines(opening)] == ["line one", "line two"]
        window.script("document.getElementById('send-typing').click()")  # the setting, off
        window.find("#message").send_keys("x")
        bob.expect_none("TAGMSG")
    no_page_errors(window)
