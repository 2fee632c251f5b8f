"""The original launch command: ``python TCP_SERVER.py`` opens the server console.

The classroom version opened a window that showed the conversation and let
the person at the server reply; this starts the chat server on
127.0.0.1:9000 with its console window (``tcpchat console``), or the plain
server when there is no display. Any flag of ``tcpchat console`` works here
too (try ``--help``).
"""

import sys

from tcpchat.cli import main

if __name__ == "__main__":
    sys.exit(main(["console", *sys.argv[1:]]))
