"""The page in a real headless Chromium: people chatting from browsers beside a
TCP client, a reconnect that shows what was missed, a phone, the keyboard alone."""

from __future__ import annotations

import socket
from collections.abc import Callable
from pathlib import Path

import pytest
from browser import Browser
from conftest import RunningServer
from selenium.webdriver.common.keys import Keys

from tcpchat.server.config import AccountSettings, HistorySettings, WebSettings

Open = Callable[..., Browser]


def no_page_errors(window: Browser) -> None:
    """Nothing the page did failed: no script error, no refusal by its own policy."""
    errors = [e["message"] for e in window.log() if e["level"] == "SEVERE"]
    assert errors == []


def test_two_browsers_and_a_tcp_client_chat(web_server: RunningServer, browser: Open) -> None:
    alice, bea = browser(), browser()
    alice.login(web_server.web_url(), "alice")
    bea.login(web_server.web_url(), "bea")
    with web_server.client("carl") as carl:
        carl.join("#lobby")
        alice.keys("hello from alice's browser", Keys.ENTER)
        assert carl.expect("PRIVMSG").params == ("#lobby", "hello from alice's browser")
        bea.wait_for_line("hello from alice's browser")
        bea.keys("and bea's 🎉", Keys.ENTER)
        assert carl.expect("PRIVMSG").params == ("#lobby", "and bea's 🎉")
        alice.wait_for_line("and bea's 🎉")
        carl.send(
            "PRIVMSG #lobby :carl here, alice: <img src=x onerror=alert(1)> https://example.org/a"
        )
        for window in (alice, bea):
            window.wait_for_line("carl here")
            assert window.find_all("#messages img") == []  # shown as text, never as markup
            [link] = window.find_all("#messages a")
            assert link.get_attribute("href") == "https://example.org/a"
        # Alice was named: her line is marked, Bea's is not.
        assert alice.find_all("#messages .line.mention")
        assert not bea.find_all("#messages .line.mention")
        carl.send("PRIVMSG #lobby :javascript:alert(1) is no link")
        alice.wait_for_line("is no link")
        assert len(alice.find_all("#messages a")) == 1
        assert "carl" in alice.text("#member-list") and "bea" in alice.text("#member-list")
    no_page_errors(alice)
    no_page_errors(bea)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_a_reconnect_after_a_restart_shows_what_was_missed(
    make_server: Callable[..., RunningServer], browser: Open, tmp_path: Path
) -> None:
    port, web_port = _free_port(), _free_port()
    history = HistorySettings(path=str(tmp_path / "history.sqlite3"))
    first = make_server(port=port, history=history, web=WebSettings(port=web_port))
    window = browser()
    window.login(first.web_url(), "alice")
    window.keys("before the restart", Keys.ENTER)
    window.wait_for_line("before the restart")
    first.thread.stop()
    window.wait(lambda: "Reconnecting in" in window.text("#banner"), "the reconnecting banner")
    assert window.text("#status") == "offline"
    # The server comes back without its web port for a moment, and someone talks.
    quiet = make_server(port=port, history=history, web=WebSettings(enabled=False))
    with quiet.client("bob") as bob:
        bob.join("#lobby")
        bob.send("PRIVMSG #lobby :said while alice was away")
        bob.send("PING :fence")
        bob.expect("PONG")
    quiet.thread.stop()
    back = make_server(port=port, history=history, web=WebSettings(port=web_port))
    window.wait(lambda: window.text("#status") == "online", "online again", timeout=60)
    window.wait_for_line("said while alice was away")
    lines = window.messages()
    heading = lines.index("WHILE YOU WERE AWAY") if "WHILE YOU WERE AWAY" in lines else -1
    assert heading != -1, lines
    assert any("said while alice was away" in line for line in lines[heading:])
    assert sum("before the restart" in line for line in lines) == 1  # not shown twice
    assert back.web_port == web_port
    no_page_errors(window)


def test_the_phone_layout(web_server: RunningServer, browser: Open) -> None:
    phone = browser(360, 740)
    phone.login(web_server.web_url(), "pat")
    width = phone.script("return document.documentElement.scrollWidth")
    assert width <= 360  # nothing runs off the side
    sidebar = phone.find("#sidebar")
    assert phone.script("return arguments[0].getBoundingClientRect().right", sidebar) <= 0
    assert phone.find("#menu-button").is_displayed()
    assert phone.find("#message").is_displayed() and phone.find("#message").size["width"] > 150
    phone.find("#menu-button").click()
    phone.wait(
        lambda: phone.script("return arguments[0].getBoundingClientRect().left", sidebar) >= 0,
        "the drawer open",
    )
    phone.find("#conversations button[data-key='*']").click()
    phone.wait(lambda: phone.text("#title") == "Server", "the server window")
    phone.wait(
        lambda: phone.script("return arguments[0].getBoundingClientRect().right", sidebar) <= 0,
        "the drawer closed",
    )
    no_page_errors(phone)


def test_keyboard_only(web_server: RunningServer, browser: Open) -> None:
    window = browser()
    window.login(web_server.web_url(), "kim")  # typed into the focused box, then Enter
    assert window.focused().get_attribute("id") == "message"
    with web_server.client("zoe") as zoe:
        zoe.join("#lobby")
        window.wait(lambda: "zoe" in window.text("#member-list"), "zoe in the list")
        window.keys("zo", Keys.TAB)
        assert window.focused().get_attribute("value") == "zoe: "
        window.keys("hi", Keys.ENTER)
        assert zoe.expect("PRIVMSG").params == ("#lobby", "zoe: hi")
        window.keys("/join #keys", Keys.ENTER)
        window.wait(lambda: window.text("#title") == "#keys", "#keys open")
        window.chord(Keys.ALT, Keys.ARROW_UP)
        window.wait(lambda: window.text("#title") == "#lobby", "back in #lobby")
        window.chord(Keys.ALT, "1")
        window.wait(lambda: window.text("#title") == "Server", "the server window")
        window.chord(Keys.ALT, Keys.ARROW_DOWN)
        window.wait(lambda: window.text("#title") == "#lobby", "#lobby again")
        assert window.focused().get_attribute("id") == "message"
        window.keys("/me waves", Keys.ENTER)
        assert zoe.expect("PRIVMSG").params == ("#lobby", "\x01ACTION waves\x01")
        window.keys(Keys.ARROW_UP)
        assert window.focused().get_attribute("value") == "/me waves"
    no_page_errors(window)


@pytest.mark.parametrize("bad", ["", "9lives", "has space"])
def test_a_bad_nick_is_explained(web_server: RunningServer, browser: Open, bad: str) -> None:
    window = browser()
    window.open(web_server.web_url())
    window.wait(lambda: window.focused().get_attribute("id") == "nick", "the nick box")
    field = window.find("#nick")
    field.clear()
    field.send_keys(bad, Keys.ENTER)
    window.wait(lambda: "nickname" in window.text("#login-error"), "the explanation")
    assert window.find("#login").is_displayed()


def log_in(window: Browser, url: str, nick: str, password: str, account: str = "") -> None:
    """Fill in the first screen with an account to log in to, and press Enter."""
    window.open(url)
    window.wait(lambda: window.focused().get_attribute("id") == "nick", "the nick box")
    window.find("#nick").clear()
    window.find("#nick").send_keys(nick)
    window.find("#login-details summary").click()
    window.find("#account").send_keys(account or nick)
    window.find("#password").send_keys(password, Keys.ENTER)


def test_logging_in_with_an_account(
    make_server: Callable[..., RunningServer], browser: Open, tmp_path: Path
) -> None:
    server = make_server(
        web=WebSettings(port=0), accounts=AccountSettings(path=str(tmp_path / "a.sqlite3"))
    )
    with server.client("sam") as sam:
        sam.send("PRIVMSG NickServ :REGISTER correct-horse")
        assert "registered" in sam.expect("NOTICE").params[1].lower()
    window = browser()
    log_in(window, server.web_url(), "sam", "correct-horse")
    window.wait(lambda: window.text("#status") == "online", "online")
    with server.client("watch") as watch:
        watch.send("WHOIS sam")
        assert watch.expect("330").params[2] == "sam"  # logged in as sam
    # A wrong password is said, and the chat goes on without the account.
    other = browser()
    log_in(other, server.web_url(), "sam2", "wrong-password", account="sam")
    other.wait(lambda: "Login failed" in other.text("#banner"), "the failure said")
    other.wait(lambda: other.text("#status") == "online", "online without the account")
    no_page_errors(window)


def test_the_browser_remembers_the_nick_and_channels(
    web_server: RunningServer, browser: Open
) -> None:
    window = browser()
    window.login(web_server.web_url(), "rita")
    window.keys("/join #kept", Keys.ENTER)
    window.wait(lambda: window.text("#title") == "#kept", "#kept open")
    window.open(web_server.web_url())  # a reload: the page starts again
    window.wait(lambda: window.find("#nick").get_attribute("value") == "rita", "the nick kept")
    assert window.script("return localStorage.getItem('tcpchat')").find("password") == -1
    window.find("#nick").send_keys(Keys.ENTER)
    window.wait(lambda: "#kept" in window.text("#conversations"), "#kept joined again")
    assert "#lobby" in window.text("#conversations")


def test_scrolling_up_loads_older_messages(
    make_server: Callable[..., RunningServer], browser: Open, tmp_path: Path
) -> None:
    server = make_server(
        web=WebSettings(port=0), history=HistorySettings(path=str(tmp_path / "h.sqlite3"))
    )
    with server.client("old") as old:
        old.join("#lobby")
        old.send(*[f"PRIVMSG #lobby :message {i:03}" for i in range(120)])
        old.send("PING :fence")
        old.expect("PONG")
        window = browser()
        window.login(server.web_url(), "reader")
        window.wait_for_line("message 119")
        assert not any("message 069" in line for line in window.messages())  # the last 50
        for oldest in ("message 020", "message 000"):
            window.script("document.getElementById('messages').scrollTop = 0")
            window.wait_for_line(oldest)
        window.script("document.getElementById('messages').scrollTop = 0")
        window.wait(lambda: "beginning of #lobby" in window.text("#messages .top"), "the beginning")
        texts = [line for line in window.messages() if "message " in line]
        assert len(texts) == 120 and texts[0].endswith("message 000") and texts[-1].endswith("119")
    no_page_errors(window)
