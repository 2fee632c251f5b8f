"""Drive a real ``weechat-headless`` process as an IRC client in end-to-end tests.

WeeChat is a widely used terminal IRC client; testing against it catches protocol details
(capability negotiation, prefixes, numeric replies) that hand-written test clients get wrong
in the same way the server does. The client is controlled without a terminal:

* configuration happens on the command line (``-r`` commands), in a throwaway home directory,
  so the user's own WeeChat setup can neither influence nor be touched by the tests;
* commands are written to the FIFO plugin's named pipe;
* what the client displayed is read back from the logger plugin's files, which are flushed
  immediately (``logger.file.flush_delay 0``) and polled until a deadline.
"""

from __future__ import annotations

import contextlib
import errno
import os
import re
import shutil
import subprocess
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Self

EXECUTABLE = "weechat-headless"
DEFAULT_TIMEOUT = 10.0
_POLL_INTERVAL = 0.05


class WeechatError(RuntimeError):
    """The WeeChat process could not be started or controlled."""


@dataclass(frozen=True)
class LogLine:
    """One line of a logger file: ``<time>\\t<prefix>\\t<message>``, colours stripped.

    The prefix is the nick for chat messages (possibly with a mode char such as ``@``) and an
    arrow such as ``-->`` / ``<--`` / ``--`` for joins, parts and server notices.
    """

    prefix: str
    message: str


Predicate = Callable[[LogLine], bool]


def find_executable() -> str | None:
    """Return the path of ``weechat-headless`` so callers can skip when it is missing."""
    return shutil.which(EXECUTABLE)


def weechat_version(executable: str) -> tuple[int, ...]:
    """Return WeeChat's version, because some option names differ between major versions."""
    result = subprocess.run(
        [executable, "--version"],
        capture_output=True,
        text=True,
        timeout=DEFAULT_TIMEOUT,
        check=True,
    )
    match = re.match(r"(\d+)\.(\d+)", result.stdout.strip())
    if match is None:
        raise WeechatError(f"unrecognised version output: {result.stdout!r}")
    return tuple(int(part) for part in match.groups())


def _parse_log_line(raw: str) -> LogLine:
    fields = raw.split("\t", 2)
    if len(fields) < 3:
        return LogLine(prefix="", message=raw)
    return LogLine(prefix=fields[1], message=fields[2])


class WeechatClient:
    """One ``weechat-headless`` process connected to one IRC server.

    Use as a context manager (or call :meth:`close`) so that the process is always reaped;
    only the process started here is ever signalled, by its own PID.
    """

    def __init__(
        self,
        home: Path,
        host: str,
        port: int,
        nick: str,
        *,
        autojoin: Sequence[str] = (),
        server_name: str = "test",
        executable: str = EXECUTABLE,
    ) -> None:
        self.home = home
        self.host = host
        self.port = port
        self.nick = nick
        self.autojoin = tuple(autojoin)
        self.server_name = server_name
        self.executable = executable
        self._process: subprocess.Popen[bytes] | None = None

    # -- lifecycle ---------------------------------------------------------------------------

    def start(self, timeout: float = DEFAULT_TIMEOUT) -> None:
        """Start WeeChat and connect; return once its FIFO accepts commands."""
        if self._process is not None:
            raise WeechatError("already started")
        self.home.mkdir(parents=True, exist_ok=True)
        env = dict(os.environ)
        # English, UTF-8 messages in the logs regardless of the machine's locale.
        env["LC_ALL"] = "C.UTF-8"
        env.pop("WEECHAT_HOME", None)
        self._process = subprocess.Popen(
            self._command_line(),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            env=env,
            cwd=self.home,
        )
        try:
            self._wait_for_fifo(timeout)
        except BaseException:
            self.close()
            raise

    def _command_line(self) -> list[str]:
        # WeeChat 4.0 renamed the server option "ssl" to "tls" and turned it on by default.
        tls_off = "-notls" if weechat_version(self.executable) >= (4, 0) else "-nossl"
        server_add = [
            f"/server add {self.server_name} {self.host}/{self.port}",
            tls_off,
            f"-nicks={self.nick}",
            f"-username={self.nick}",
            f"-realname={self.nick}",
        ]
        if self.autojoin:
            server_add.append(f"-autojoin={','.join(self.autojoin)}")
        commands = [
            "/set logger.file.flush_delay 0",
            " ".join(server_add),
            f"/connect {self.server_name}",
        ]
        argv = [
            self.executable,
            "--dir",
            str(self.home),
            "--no-connect",
            "--no-script",
            "--plugins",
            "irc,logger,fifo",
        ]
        for command in commands:
            argv += ["--run-command", command]
        return argv

    def _wait_for_fifo(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self._check_running()
            if self._fifo_path() is not None:
                return
            time.sleep(_POLL_INTERVAL)
        raise WeechatError(f"FIFO did not appear in {self.home} within {timeout}s")

    def _fifo_path(self) -> Path | None:
        # Default name is "weechat_fifo_<pid>" (older versions: "weechat_fifo").
        return next(self.home.glob("weechat_fifo*"), None)

    def _check_running(self) -> None:
        if self._process is None:
            raise WeechatError("not started")
        if self._process.poll() is not None:
            raise WeechatError(
                f"weechat exited with status {self._process.returncode}; "
                f"weechat.log:\n{self._read_text(self.home / 'weechat.log')}"
            )

    def wait_exit(self, timeout: float = DEFAULT_TIMEOUT) -> int:
        """Wait for WeeChat to exit by itself (e.g. after ``/quit``); return its status."""
        if self._process is None:
            raise WeechatError("not started")
        return self._process.wait(timeout=timeout)

    def close(self) -> None:
        """Stop WeeChat if it still runs: SIGTERM (it quits cleanly), then SIGKILL."""
        process = self._process
        if process is None:
            return
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=5)

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    # -- commands ----------------------------------------------------------------------------

    def command(self, text: str, buffer: str | None = None) -> None:
        """Run ``text`` (e.g. ``/join #x``) in ``buffer``, by default the server buffer.

        The FIFO is opened non-blocking so that a dead WeeChat fails fast instead of hanging.
        """
        if "\n" in text:
            raise ValueError("one command per call")
        self._check_running()
        fifo = self._fifo_path()
        if fifo is None:
            raise WeechatError("FIFO is gone")
        target = buffer or f"irc.server.{self.server_name}"
        try:
            fd = os.open(fifo, os.O_WRONLY | os.O_NONBLOCK)
        except OSError as error:
            if error.errno == errno.ENXIO:
                raise WeechatError("nobody reads the FIFO") from error
            raise
        try:
            os.write(fd, f"{target} *{text}\n".encode())
        finally:
            os.close(fd)

    # -- logs --------------------------------------------------------------------------------

    @property
    def server_log(self) -> Path:
        """Log of the server buffer: connection messages, numerics, nick changes."""
        return self._log_path(f"irc.server.{self.server_name}")

    def channel_log(self, channel: str) -> Path:
        """Log of a channel buffer: messages, joins, parts, topic changes."""
        return self._log_path(f"irc.{self.server_name}.{channel}")

    def _log_path(self, buffer: str) -> Path:
        # Matches the default logger mask "$plugin.$name.weechatlog" with lower-cased names.
        return self.home / "logs" / f"{buffer.lower()}.weechatlog"

    def read_log(self, path: Path) -> list[LogLine]:
        """Return the lines logged so far (none if the file does not exist yet)."""
        return [_parse_log_line(line) for line in self._read_text(path).splitlines()]

    def wait_for_line(
        self, path: Path, predicate: Predicate, timeout: float = DEFAULT_TIMEOUT
    ) -> LogLine:
        """Poll ``path`` until a line satisfies ``predicate``; fail with the log's content."""
        deadline = time.monotonic() + timeout
        while True:
            for line in self.read_log(path):
                if predicate(line):
                    return line
            if time.monotonic() >= deadline:
                raise AssertionError(
                    f"no matching line in {path.name} within {timeout}s; it contains:\n"
                    f"{self._read_text(path)}"
                )
            time.sleep(_POLL_INTERVAL)

    @staticmethod
    def _read_text(path: Path) -> str:
        with contextlib.suppress(FileNotFoundError):
            return path.read_text(encoding="utf-8", errors="replace")
        return ""
