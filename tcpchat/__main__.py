"""``python -m tcpchat``: the same command line as the ``tcpchat`` script."""

from tcpchat.cli import main

raise SystemExit(main())
