"""The page's JavaScript that is not drawing (IRC lines, chat state, history
catch-up), tested by Node's own test runner in ``tests/web/js``: no npm package."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

HERE = Path(__file__).parent


def test_node_unit_tests_pass() -> None:
    node = shutil.which("node") or shutil.which("nodejs")
    if node is None:
        pytest.skip("Node.js is not installed (Debian package nodejs)")
    tests = sorted(str(p) for p in (HERE / "js").glob("*.test.mjs"))
    assert tests
    result = subprocess.run(
        [node, "--test", *tests], capture_output=True, text=True, timeout=120, check=False
    )
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    assert "# fail 0" in result.stdout
