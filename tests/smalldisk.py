"""``tcpchat`` in a process whose files cannot grow past a size: a disk that fills up.

``python smalldisk.py BYTES ARGS...`` runs ``tcpchat ARGS...`` with the soft
RLIMIT_FSIZE at BYTES: a write that would take any file past it fails
(EFBIG; the SIGXFSZ that would kill the process is ignored), as a write to
a full disk fails. SIGUSR1 lifts the limit: space has come back. Give it a
pipe for stderr, not a file, which the limit would stop too.
"""

from __future__ import annotations

import resource
import signal
import sys
from types import FrameType

from tcpchat.cli import main


def space_returns(signum: int, frame: FrameType | None) -> None:
    _, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
    resource.setrlimit(resource.RLIMIT_FSIZE, (hard, hard))


if __name__ == "__main__":
    _, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    signal.signal(signal.SIGUSR1, space_returns)
    resource.setrlimit(resource.RLIMIT_FSIZE, (int(sys.argv[1]), hard))
    sys.exit(main(sys.argv[2:]))
