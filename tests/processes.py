"""Ending a helper process that a test started: politely, then firmly, never unbounded."""

from __future__ import annotations

import subprocess

STOP_TIMEOUT = 5.0


def stop_process(process: subprocess.Popen[bytes] | None) -> None:
    """Terminate ``process`` (by its PID) if it still runs; kill it if it will not go."""
    if process is None or process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(STOP_TIMEOUT)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(STOP_TIMEOUT)
