"""A virtual X display (Xvfb) for GUI tests, on a display number it picks itself.

``-displayfd`` makes Xvfb choose a free display and write its number to a
pipe once it is ready to accept clients, so there is no guessing and no race.
"""

from __future__ import annotations

import os
import select
import shutil
import subprocess
import time
from typing import Self

from processes import stop_process

START_TIMEOUT = 10.0
SCREEN = "1280x800x24"


def find_xvfb() -> str | None:
    return shutil.which("Xvfb")


class Xvfb:
    """One Xvfb process; ``display`` is ``:N`` once started."""

    def __init__(self, executable: str) -> None:
        self.executable = executable
        self.display = ""
        self._process: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> Self:
        read_fd, write_fd = os.pipe()
        try:
            self._process = subprocess.Popen(
                [
                    *(self.executable, "-displayfd", str(write_fd)),
                    *("-screen", "0", SCREEN, "-nolisten", "tcp"),
                ],
                pass_fds=(write_fd,),
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            os.close(write_fd)
            number = b""
            deadline = time.monotonic() + START_TIMEOUT
            while not number.endswith(b"\n"):
                remaining = deadline - time.monotonic()
                ready, _, _ = select.select([read_fd], [], [], max(0.0, remaining))
                if not ready:
                    self.__exit__()
                    raise RuntimeError("Xvfb did not report a display in time")
                chunk = os.read(read_fd, 16)
                if not chunk:
                    raise RuntimeError("Xvfb exited before it was ready")
                number += chunk
        finally:
            os.close(read_fd)
        self.display = f":{number.decode().strip()}"
        return self

    def __exit__(self, *exc: object) -> None:
        stop_process(self._process)
