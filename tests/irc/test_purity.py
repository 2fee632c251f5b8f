"""The protocol layer stays pure: no sockets, event loops, clocks or files."""

from __future__ import annotations

import ast
from pathlib import Path

import tcpchat.irc

FORBIDDEN = {"asyncio", "socket", "sqlite3", "tkinter", "time", "datetime", "os", "threading"}


def test_irc_package_imports_no_io_modules() -> None:
    package = Path(tcpchat.irc.__file__).parent
    found = []
    for path in package.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            names = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            found += [(path.name, n) for n in names if n.split(".")[0] in FORBIDDEN]
    assert found == []
