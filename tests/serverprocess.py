"""``tcpchat server`` in a child process, its log read as it comes: for what
only a process can show (a full disk by resource limit, kill -9, SIGSTOP)."""

from __future__ import annotations

import re
import subprocess
import sys
import threading
import time
from pathlib import Path

from ircclient import IrcClient
from processes import stop_process

SMALLDISK = Path(__file__).resolve().parent / "smalldisk.py"


class ServerProcess:
    """``tcpchat server`` in a child process, its log read as it comes."""

    def __init__(self, args: list[str], file_limit: int | None = None) -> None:
        """``args`` to ``tcpchat server`` (with no web port); ``file_limit``:
        run it on a small disk (smalldisk.py), files growing to that size at most."""
        args = [*args, "--no-web"]
        command = (
            [sys.executable, str(SMALLDISK), str(file_limit), "server", *args]
            if file_limit is not None
            else [sys.executable, "-m", "tcpchat", "server", *args]
        )
        self.proc = subprocess.Popen(
            command, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True
        )
        self.log: list[str] = []
        self._changed = threading.Condition()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stderr is not None
        for line in self.proc.stderr:
            with self._changed:
                self.log.append(line.rstrip("\n"))
                self._changed.notify_all()

    def wait_for(self, pattern: str, timeout: float = 15) -> re.Match[str]:
        deadline = time.monotonic() + timeout
        with self._changed:
            while True:
                for line in self.log:
                    if match := re.search(pattern, line):
                        return match
                remaining = deadline - time.monotonic()
                if remaining <= 0 or self.proc.poll() is not None:
                    raise AssertionError(f"no {pattern!r} in the log: {self.log[-20:]}")
                self._changed.wait(remaining)

    @property
    def port(self) -> int:
        return int(self.wait_for(r"listening on 127\.0\.0\.1:(\d+)").group(1))

    def client(self, nick: str, caps: tuple[str, ...] = ()) -> IrcClient:
        """A client registered as ``nick``: the same call as ``RunningServer.client``,
        so that a test takes nodes of either kind alike."""
        client = IrcClient("127.0.0.1", self.port)
        client.register(nick, caps)
        return client

    def lines_with(self, text: str) -> list[str]:
        with self._changed:
            return [line for line in self.log if text in line]

    def signal(self, number: int) -> None:
        self.proc.send_signal(number)

    def stop(self) -> int:
        stop_process(self.proc)
        self._reader.join(5)
        if self.proc.stderr is not None:
            self.proc.stderr.close()
        return self.proc.wait()
