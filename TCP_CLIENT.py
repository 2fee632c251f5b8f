"""The original launch command: ``python TCP_CLIENT.py`` opens the chat client.

It connects to 127.0.0.1:9000 and joins #lobby as the classroom version did,
asking only for a nickname; any flag of ``tcpchat client`` works here too
(try ``--help``).
"""

import sys

from tcpchat.cli import main

if __name__ == "__main__":
    sys.exit(main(["client", *sys.argv[1:]]))
