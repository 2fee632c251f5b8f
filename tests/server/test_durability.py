"""A killed server loses nothing that any client has seen."""

from __future__ import annotations

import contextlib
import re
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

from ircclient import IrcClient


def start_server(history: Path) -> tuple[subprocess.Popen[bytes], int]:
    """A server process on an ephemeral port, logging to a file beside the history."""
    config = history.with_suffix(".toml")
    config.write_text("[limits]\nflood_rate = 0  # the sender streams as fast as it can\n")
    log = history.with_suffix(f".{time.monotonic_ns()}.log")
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "tcpchat",
                "server",
                "--port",
                "0",
                "--config",
                str(config),
                "--history",
                str(history),
                "--no-accounts",
            ],
            stderr=out,
        )
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        match = re.search(r"listening on 127\.0\.0\.1:(\d+)", log.read_text())
        if match:
            return proc, int(match.group(1))
        time.sleep(0.05)
    proc.kill()
    proc.wait(10)
    raise AssertionError("the server did not start")


def test_sigkill_mid_stream_keeps_every_delivered_message(tmp_path: Path) -> None:
    history = tmp_path / "history.sqlite3"
    proc, port = start_server(history)
    seen: list[str] = []
    try:
        receiver = IrcClient("127.0.0.1", port)
        receiver.register("receiver", ("message-tags",))
        receiver.join("#crash")
        sender = IrcClient("127.0.0.1", port)
        sender.register("sender")
        sender.join("#crash")
        stop = threading.Event()

        def stream() -> None:
            for i in range(20_000):
                if stop.is_set():
                    return
                try:
                    sender.send(f"PRIVMSG #crash :message {i}")
                except OSError:
                    return

        feeder = threading.Thread(target=stream, daemon=True)
        feeder.start()
        while len(seen) < 500:
            msg = receiver.read(timeout=10)
            if msg.command == "PRIVMSG":
                seen.append(msg.tags["msgid"])
        proc.send_signal(signal.SIGKILL)  # mid-stream: no chance to flush anything
        proc.wait(10)
        stop.set()
        # Whatever else reached the receiver before the socket died counts too.
        while True:
            try:
                line = receiver.read_line(timeout=2)
            except (TimeoutError, OSError):
                break
            if line is None:
                break
            if " PRIVMSG " in line:
                seen.append(re.search(r"msgid=([^; ]+)", line).group(1))  # type: ignore[union-attr]
        feeder.join(10)
        receiver.close()
        sender.close()
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait(10)

    # Restart on the same file: it opens, and every seen message is there.
    restarted, _ = start_server(history)
    restarted.terminate()
    assert restarted.wait(10) == 0
    with contextlib.closing(sqlite3.connect(history)) as db:
        stored = {
            row[0] for row in db.execute("SELECT msgid FROM messages WHERE command = 'PRIVMSG'")
        }
    missing = [m for m in seen if m not in stored]
    assert len(seen) >= 500
    assert missing == []
