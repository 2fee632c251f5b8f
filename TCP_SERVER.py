"""The original launch command: ``python TCP_SERVER.py`` starts the chat server.

It listens on 127.0.0.1:9000 as the classroom version did; any flag of
``tcpchat server`` works here too (try ``--help``).
"""

import sys

from tcpchat.cli import main

if __name__ == "__main__":
    sys.exit(main(["server", *sys.argv[1:]]))
