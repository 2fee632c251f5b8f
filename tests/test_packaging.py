"""What the package declares: its licence, and how its programs are started."""

from __future__ import annotations

import subprocess
import sys
import tomllib
from importlib.metadata import entry_points, metadata
from pathlib import Path

import pytest

from tcpchat import cli

ROOT = Path(__file__).resolve().parent.parent


def test_the_licence_is_an_spdx_expression_with_its_text() -> None:
    # The {text = ...} table is deprecated: setuptools stops building it in 2027.
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert project["license"] == "MIT"
    assert "MIT License" in (ROOT / "LICENSE").read_text()
    assert metadata("tcpchat")["License-Expression"] == "MIT"


def test_the_windows_are_gui_programs() -> None:
    """On Windows a gui-script opens no console window beside the Tk one."""
    scripts = {e.name: e for e in entry_points(group="gui_scripts")}
    assert scripts["tcpchat-client"].load() is cli.client_main
    assert scripts["tcpchat-console"].load() is cli.console_main


@pytest.mark.parametrize("program", ["tcpchat-client", "tcpchat-console"])
def test_each_program_takes_its_command_s_flags(program: str) -> None:
    script = Path(sys.executable).parent / program
    if not script.exists():
        pytest.skip(f"{program} is not installed beside {sys.executable}")
    result = subprocess.run(
        [str(script), "--help"], capture_output=True, text=True, timeout=30, check=False
    )
    assert result.returncode == 0
    assert result.stdout.startswith(f"usage: tcpchat {program.removeprefix('tcpchat-')} ")
