"""``tcpchat client`` and ``TCP_CLIENT.py``: flags, remembered settings, a real launch."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
import trustme
from conftest import RunningServer

import tcpchat
from tcpchat.cli import build_parser, client_settings, main
from tcpchat.client.settings import Settings, load_settings

ROOT = Path(__file__).resolve().parents[2]


def test_flags_override_remembered_settings() -> None:
    saved = Settings("irc.example", 6667, "alice", "", ("#old",))
    args = build_parser().parse_args(["client", "--port", "7000", "--channel", "new"])
    assert client_settings(args, saved) == Settings("irc.example", 7000, "alice", "", ("#new",))
    defaults = client_settings(build_parser().parse_args(["client"]), Settings(channels=()))
    assert (defaults.host, defaults.port, defaults.channels) == ("127.0.0.1", 9000, ("#lobby",))
    assert defaults.nick  # a suggestion, never empty


def test_tls_flag_takes_the_tls_port_unless_one_is_given() -> None:
    tls = client_settings(build_parser().parse_args(["client", "--tls"]), Settings())
    assert (tls.tls, tls.port) == (True, 6697)
    chosen = build_parser().parse_args(["client", "--tls", "--port", "7000"])
    assert client_settings(chosen, Settings()).port == 7000
    remembered = Settings(port=7001, tls=True)
    assert client_settings(build_parser().parse_args(["client"]), remembered).port == 7001


def test_certificate_flags_are_remembered_as_absolute_paths(tmp_path: Path) -> None:
    args = build_parser().parse_args(["client", "--tls", "--cert", "me.crt", "--key", "me.key"])
    settings = client_settings(args, Settings())
    assert Path(settings.client_cert) == Path.cwd() / "me.crt"
    assert Path(settings.client_key) == Path.cwd() / "me.key"
    kept = Settings(tls=True, client_cert="/a.pem")
    assert client_settings(build_parser().parse_args(["client"]), kept).client_cert == "/a.pem"


@pytest.mark.parametrize(
    ("flags", "says"),
    [
        (["--key", "k.pem"], "--key goes with --cert"),
        (["--cert", "c.pem"], "only over TLS: add --tls"),
        (["--tls", "--cert", "junk.pem"], "does not hold a PEM client certificate"),
    ],
)
def test_unusable_certificate_flags_are_refused_in_one_line(
    flags: list[str],
    says: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path))
    monkeypatch.chdir(tmp_path)
    (tmp_path / "junk.pem").write_text("not a certificate")
    assert main(["client", "--nick", "alice", *flags]) == 2
    assert says in capsys.readouterr().err


def test_a_missing_certificate_file_is_one_line_not_a_traceback(tmp_path: Path) -> None:
    identity = trustme.CA().issue_cert("alice@example.org")
    key = tmp_path / "alice.key"
    identity.private_key_pem.write_to_path(str(key))
    result = subprocess.run(
        [sys.executable, "-m", "tcpchat", "client", "--tls", "--cert", "gone.pem", "--key", key],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
        cwd=tmp_path,  # "gone.pem" is relative to here
        env={
            **os.environ,
            "XDG_CONFIG_HOME": str(tmp_path),
            # tcpchat from this checkout, whether or not it is installed
            "PYTHONPATH": str(Path(tcpchat.__file__).parents[1]),
        },
    )
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert "Cannot read the client certificate" in result.stderr
    assert "there is no file" in result.stderr and "gone.pem. Check" in result.stderr


def test_bad_nick_is_refused_in_one_line() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "tcpchat", "client", "--nick", "no spaces"],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert result.returncode == 2
    assert "not a valid nickname" in result.stderr and "Traceback" not in result.stderr


def test_tcp_client_py_joins_lobby_and_logs_to_the_terminal(
    server: RunningServer, display: str, tmp_path: Path
) -> None:
    env = {**os.environ, "XDG_CONFIG_HOME": str(tmp_path), "PYTHONUNBUFFERED": "1"}
    command = [sys.executable, "TCP_CLIENT.py", "--port", str(server.port), "--nick", "shim"]
    out = tmp_path / "out.txt"
    with server.client("bob") as bob, out.open("w") as sink:
        bob.join("#lobby")
        process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=sink, stderr=sink)
        try:
            bob.expect_where(
                lambda m: (
                    m.command == "JOIN" and m.source is not None and m.source.startswith("shim!")
                ),
                "shim joins",
            )
            bob.send("PRIVMSG #lobby :hello shim")
            deadline = time.monotonic() + 10
            while "<bob> hello shim" not in out.read_text():
                assert time.monotonic() < deadline, out.read_text()
                time.sleep(0.05)
            process.terminate()  # as Ctrl-C in the terminal or a logout: it leaves politely
            bob.expect_where(
                lambda m: m.command == "QUIT" and (m.source or "").startswith("shim!"), "QUIT"
            )
            assert process.wait(10) == 0
        finally:
            process.terminate()
            process.wait(10)
    saved = load_settings(tmp_path / "tcpchat" / "client.json")
    assert (saved.nick, saved.channels) == ("shim", ("#lobby",))


def test_without_tk_the_client_says_what_to_install(tmp_path: Path) -> None:
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT / "tests" / "notk"),  # a Python without Tk
        "XDG_CONFIG_HOME": str(tmp_path),
    }
    result = subprocess.run(
        [sys.executable, "TCP_CLIENT.py", "--nick", "alice"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert result.returncode == 2
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and "Traceback" not in result.stderr
    assert lines[0].startswith("tcpchat: the windows need Tk")
    assert "sudo apt install python3-tk" in lines[0] and "python.org installer" in lines[0]
