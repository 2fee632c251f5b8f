"""ngIRCd from Debian's packages, run for a test on a free loopback port.

Proves the client speaks IRC to a server that is not ours. PAM, ident and
DNS lookups are off so nothing leaves the machine and nothing waits on them.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from pathlib import Path
from typing import Self

from processes import stop_process

START_TIMEOUT = 10.0


def find_ngircd() -> str | None:
    """The ngircd executable; Debian puts it in /usr/sbin, which may not be on PATH."""
    return shutil.which("ngircd") or shutil.which("ngircd", path="/usr/sbin:/usr/local/sbin")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


CONFIG = """\
[Global]
Name = ngircd.test
Info = ngIRCd for tcpchat tests
Listen = 127.0.0.1
Ports = {port}
MotdPhrase = Hello from ngIRCd
AdminInfo1 = tests
AdminInfo2 = tests
AdminEMail = tests@example.invalid

[Limits]
MaxConnectionsIP = 0
PingTimeout = 120

[Options]
PAM = no
Ident = no
DNS = no
"""


class Ngircd:
    """One ngircd process in the foreground (``-n``), stopped by its PID."""

    def __init__(self, executable: str, directory: Path) -> None:
        self.host = "127.0.0.1"
        self.port = free_port()
        self.config = directory / "ngircd.conf"
        self.config.write_text(CONFIG.format(port=self.port))
        self.config.chmod(0o644)
        self.log = directory / "ngircd.log"
        self._command = [executable, "-n", "-f", str(self.config)]
        self._process: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> Self:
        with self.log.open("wb") as log:
            self._process = subprocess.Popen(self._command, stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                raise RuntimeError(f"ngircd exited: {self.log.read_text()[-2000:]}")
            try:
                socket.create_connection((self.host, self.port), timeout=0.5).close()
                return self
            except OSError:
                time.sleep(0.05)
        self.__exit__()
        raise RuntimeError("ngircd did not start listening in time")

    def __exit__(self, *exc: object) -> None:
        stop_process(self._process)
