"""A real redis-server of a test's own, and cluster settings for test nodes."""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from processes import stop_process

from tcpchat.server.config import ClusterSettings

REDIS = shutil.which("redis-server") or "/usr/bin/redis-server"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class RedisServer:
    """A redis-server of the test's own, on a free loopback port."""

    port: int
    directory: Path
    appendonly: bool
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        command = [
            REDIS,
            "--port", str(self.port),
            "--bind", "127.0.0.1",
            "--dir", str(self.directory),
            "--save", "",
            "--appendonly", "yes" if self.appendonly else "no",
            "--appendfsync", "always",
        ]  # fmt: skip
        self.process = subprocess.Popen(command, stdout=subprocess.DEVNULL)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1) as sock:
                    sock.sendall(b"PING\r\n")
                    if sock.recv(64).startswith(b"+PONG"):
                        return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError("redis-server did not start")

    def stop(self) -> None:
        stop_process(self.process)
        self.process = None

    def kill(self) -> None:
        """Gone at once, as a crash: what it had not written is lost."""
        assert self.process is not None
        self.process.kill()
        self.process.wait()
        self.process = None

    def forget(self) -> None:
        """Remove its data files (stopped first), as a Redis without persistence
        or with its disk replaced comes back: empty."""
        assert self.process is None, "stop it first"
        for path in self.directory.iterdir():
            if path.is_dir():
                shutil.rmtree(path)
            else:
                path.unlink()


def cluster(url: str, node: str, **settings: Any) -> ClusterSettings:
    """Cluster settings for tests: quick heartbeats, so a lost node is seen in seconds."""
    settings.setdefault("heartbeat", 0.2)
    settings.setdefault("node_timeout", 2.0)
    return ClusterSettings(redis=url, node=node, **settings)
