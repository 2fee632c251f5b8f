"""The command line, run as a real process: flags, config errors, signals."""

from __future__ import annotations

import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from ircclient import IrcClient

from tcpchat.server.passwords import verify_password

TCPCHAT = [sys.executable, "-m", "tcpchat"]
# A server on ports of the system's choosing, the web page's too.
SERVER = [*TCPCHAT, "server", "--port", "0", "--web-port", "0"]


def run(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*TCPCHAT, *args], input=stdin, capture_output=True, check=False, text=True, timeout=30
    )


def test_help_lists_commands_and_options() -> None:
    top = run("--help")
    assert top.returncode == 0 and "server" in top.stdout and "hash-password" in top.stdout
    server = run("server", "--help")
    for flag in ("--host", "--port", "--config", "--log-level", "--name", "--password"):
        assert flag in server.stdout


@pytest.mark.parametrize(
    ("config", "expected"),
    [
        ("[server]\nprot = 1\n", "unknown setting server.prot"),
        ("[limits]\nnicklen = 3\n", "limits.nicklen = 3 is out of range"),
        ("[server]\nport = 'x'\n", "server.port = 'x' should be a whole number"),
        ("[server\n", "is not valid TOML"),
        ("[server]\nname = 'nodot'\n", "server.name = 'nodot' is not a valid server name"),
        ("[[operators]]\nname = 'o'\npassword_hash = 'plain'\n", "tcpchat hash-password"),
        ("[other]\n", "unknown section [other]"),
    ],
)
def test_bad_config_is_one_clear_line(tmp_path: Path, config: str, expected: str) -> None:
    path = tmp_path / "tcpchat.toml"
    path.write_text(config)
    result = run("server", "--config", str(path), "--no-history", "--no-accounts")
    assert result.returncode == 2
    assert expected in result.stderr
    assert "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_missing_config_file(tmp_path: Path) -> None:
    result = run("server", "--config", str(tmp_path / "nope.toml"))
    assert result.returncode == 2 and "does not exist" in result.stderr


def test_bad_port_flag() -> None:
    result = run("server", "--port", "70000", "--no-history", "--no-accounts")
    assert result.returncode == 2 and "not a port number" in result.stderr


def test_port_in_use_is_one_clear_line() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = run("server", "--port", str(port), "--no-history", "--no-accounts")
    assert result.returncode == 2
    assert "already in use" in result.stderr and "--port" in result.stderr
    assert "Traceback" not in result.stderr


def test_hash_password_from_stdin() -> None:
    result = run("hash-password", stdin="s3cret\n")
    assert result.returncode == 0
    stored = result.stdout.strip()
    assert verify_password("s3cret", stored)
    assert not verify_password("other", stored)


def announced_port(proc: subprocess.Popen[str]) -> int:
    """The port a server process says it listens on, from its log."""
    assert proc.stderr is not None
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        match = re.search(r"listening on 127\.0\.0\.1:(\d+)", proc.stderr.readline())
        if match:
            return int(match.group(1))
    raise AssertionError("the server did not report its port")


@pytest.fixture
def server_process(tmp_path: Path) -> Iterator[tuple[subprocess.Popen[str], int]]:
    config = tmp_path / "tcpchat.toml"
    config.write_text('[server]\nname = "cli.test"\nmotd = "hello"\n')
    proc = subprocess.Popen(
        [*SERVER, "--config", str(config), "--data-dir", str(tmp_path)],
        stderr=subprocess.PIPE,
        text=True,
    )
    port = announced_port(proc)
    try:
        yield proc, port
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait(10)
        proc.stderr.close()


def test_sigterm_stops_gracefully(server_process: tuple[subprocess.Popen[str], int]) -> None:
    proc, port = server_process
    with IrcClient("127.0.0.1", port) as c:
        c.register("alice")
        c.send("JOIN #lobby", "PRIVMSG #lobby :Hai client!")
        c.expect("366")
        proc.send_signal(signal.SIGTERM)
        error = c.expect("ERROR")
        assert "Server shutting down" in error.params[0]
        assert c.closed_by_server()
    assert proc.wait(10) == 0
    assert proc.stderr is not None
    log = proc.stderr.read()
    for text in ("connection from", "alice joined #lobby", "<alice> Hai client!", "stopped"):
        assert text in log


def test_sigint_stops_gracefully(server_process: tuple[subprocess.Popen[str], int]) -> None:
    proc, port = server_process
    with IrcClient("127.0.0.1", port) as c:
        c.register("bob")
        proc.send_signal(signal.SIGINT)
        assert "Server shutting down" in c.expect("ERROR").params[0]
    assert proc.wait(10) == 0


def test_rehash_reads_the_config_again(tmp_path: Path) -> None:
    password_hash = run("hash-password", stdin="operpass\n").stdout.strip()
    config = tmp_path / "tcpchat.toml"

    def write(motd: str) -> None:
        config.write_text(
            f'[server]\nmotd = "{motd}"\n[[operators]]\nname = "op"\n'
            f'password_hash = "{password_hash}"\n'
        )

    write("first motd")
    proc = subprocess.Popen(
        [*SERVER, "--config", str(config), "--data-dir", str(tmp_path)],
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        with IrcClient("127.0.0.1", announced_port(proc)) as c:
            c.register("admin")
            c.send("OPER op operpass")
            c.expect("381")
            write("second motd")
            c.send("REHASH")
            assert c.expect("382").params[1] == str(config)
            c.send("MOTD")
            assert c.expect("372").params[1] == "- second motd"
            config.write_text("[server]\nport = 'not a number'\n")
            c.send("REHASH")
            assert "old settings stay" in c.expect("NOTICE").params[1]
            c.send("MOTD")
            assert c.expect("372").params[1] == "- second motd"
    finally:
        proc.terminate()
        proc.wait(10)
        assert proc.stderr is not None
        proc.stderr.close()
