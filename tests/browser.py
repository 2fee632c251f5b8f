"""A real headless Chromium for the web page's tests, driven by Selenium.

The system's Chromium and its ChromeDriver (Debian's ``chromium`` and
``chromium-driver``) are used as installed: nothing is downloaded. Each
browser gets a fresh profile, so nothing one test remembers (the nick, the
channels) leaks into another. Chromium run as root needs ``--no-sandbox``;
the other flags keep it from reaching for the network on its own.
"""

from __future__ import annotations

import shutil
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
    "--lang=en-GB",
)
WAIT = 15.0


def find_chromium() -> tuple[str, str] | None:
    """Chromium and ChromeDriver, if both are installed."""
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    driver = shutil.which("chromedriver")
    return (browser, driver) if browser and driver else None


class Browser:
    """One browser window: open a page, type, click, wait, read."""

    def __init__(
        self, chromium: str, chromedriver: str, width: int = 1200, height: int = 800
    ) -> None:
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service

        self.profile = tempfile.mkdtemp(prefix="tcpchat-chromium-")
        options = webdriver.ChromeOptions()
        options.binary_location = chromium
        for flag in CHROMIUM_FLAGS:
            options.add_argument(flag)
        options.add_argument(f"--user-data-dir={self.profile}")
        options.add_argument(f"--window-size={width},{height}")
        options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
        self.driver = webdriver.Chrome(options=options, service=Service(chromedriver))
        self.resize(width, height)

    def close(self) -> None:
        try:
            self.driver.quit()
        finally:
            shutil.rmtree(self.profile, ignore_errors=True)

    def open(self, url: str) -> None:
        self.driver.get(url)

    def find(self, css: str) -> Any:
        from selenium.webdriver.common.by import By

        return self.driver.find_element(By.CSS_SELECTOR, css)

    def find_all(self, css: str) -> list[Any]:
        from selenium.webdriver.common.by import By

        return list(self.driver.find_elements(By.CSS_SELECTOR, css))

    def keys(self, *keys: str) -> None:
        """Type into whatever has the keyboard focus, as a person would."""
        self.focused().send_keys(*keys)

    def chord(self, *keys: str) -> None:
        """Keys pressed together (Alt+ArrowUp), to the focused element."""
        from selenium.webdriver.common.action_chains import ActionChains

        actions = ActionChains(self.driver)
        for key in keys[:-1]:
            actions.key_down(key)
        actions.send_keys(keys[-1])
        for key in reversed(keys[:-1]):
            actions.key_up(key)
        actions.perform()

    def focused(self) -> Any:
        return self.driver.switch_to.active_element

    def wait(self, test: Callable[[], Any], what: str, timeout: float = WAIT) -> Any:
        deadline = time.monotonic() + timeout
        last: Exception | None = None
        while time.monotonic() < deadline:
            try:
                result = test()
            except Exception as exc:  # the page is between two states
                last = exc
            else:
                if result:
                    return result
            time.sleep(0.05)
        raise AssertionError(
            f"never saw {what} (last error: {last}); page says: {self.text('body')[-800:]}"
        )

    def text(self, css: str) -> str:
        return str(self.find(css).text)

    def messages(self) -> list[str]:
        """The lines of the open conversation, as shown."""
        return [str(e.text) for e in self.find_all("#messages .line")]

    def wait_for_line(self, text: str, timeout: float = WAIT) -> None:
        self.wait(
            lambda: any(text in line for line in self.messages()), f"a line with {text!r}", timeout
        )

    def script(self, code: str, *args: Any) -> Any:
        return self.driver.execute_script(code, *args)

    def log(self) -> list[dict[str, Any]]:
        return list(self.driver.get_log("browser"))

    def screenshot(self, path: Path) -> None:
        self.driver.save_screenshot(str(path))

    def resize(self, width: int, height: int) -> None:
        """The page's viewport, exactly (a window has a smallest size; a phone
        is narrower): below 700 px wide, a phone's touch screen too."""
        self.driver.execute_cdp_cmd(
            "Emulation.setDeviceMetricsOverride",
            {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": width < 700},
        )

    def login(self, url: str, nick: str) -> None:
        """Open the page and join as ``nick`` the way a person does: type it, press Enter."""
        from selenium.webdriver.common.keys import Keys

        self.open(url)
        self.wait(lambda: self.focused().get_attribute("id") == "nick", "the nick box focused")
        field = self.focused()
        field.clear()
        field.send_keys(nick, Keys.ENTER)
        self.wait(lambda: self.text("#title") == "#lobby", "#lobby open")
        self.wait(lambda: self.text("#status") == "online", "online")
