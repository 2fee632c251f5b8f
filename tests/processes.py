"""Helper processes a test starts: ended politely, then firmly, never unbounded;
and a command that must fail the way tcpchat's commands do."""

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


def one_line_failure(command: list[str], timeout: float = 30) -> str:
    """Run ``command``, which must fail as a person's mistake does: exit status
    2 and one line on stderr, no traceback. Returns that line."""
    result = subprocess.run(command, capture_output=True, text=True, timeout=timeout, check=False)
    lines = result.stderr.splitlines()
    assert result.returncode == 2, (result.returncode, result.stderr)
    assert len(lines) == 1, result.stderr
    return lines[0]
