"""irctest controller for tcpchat.

irctest (https://github.com/progval/irctest) is an IRC conformance suite. It
drives the server under test through a "controller" module that it imports by
name, so this file is meant to be placed in an irctest checkout as
``irctest/controllers/tcpchat.py``; ``conformance/run-irctest`` does that and
runs the suite. It is not imported by tcpchat itself.

For each test the controller writes a TOML config file into a fresh temporary
directory and starts, in the foreground::

    python -m tcpchat server --host H --port P --name My.Little.Server \
        --config DIR/tcpchat.toml --log-level debug \
        --data-dir DIR [--password PW] --no-web

Environment:

``TCPCHAT_ROOT``
    The tcpchat repository (the directory holding the ``tcpchat`` package).
    Defaults to the repository this file lives in, when it can be found by
    following a symlink.
``TCPCHAT_PYTHON``
    The interpreter that runs the server; defaults to the one running irctest.
``IRCTEST_DEBUG_LOGS=1``
    irctest's own switch: show the server's output (it logs at debug level).
"""

from __future__ import annotations

import atexit
import json
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

from irctest import patma
from irctest.basecontrollers import BaseServerController, DirectoryBasedController
from irctest.runner import NotImplementedByController
from irctest.specifications import Capabilities, OptionalBehaviors

SERVER_NAME = "My.Little.Server"
OPER_NAME = "operuser"
OPER_PASSWORD = "operpassword"

CONFIG_TEMPLATE = """\
[server]
# No permanent lobby channel, so LIST/NAMES tests see only their own channels.
default_channel = ""
# The server description irctest expects (LINKS).
description = "test server"

[limits]
# Flood control off: tests send bursts of lines and open many connections.
flood_rate = 0
connect_rate = 0

[accounts]
# irctest's passwords are short, and it registers accounts as it goes.
min_password_length = 1
register_before_connect = {before_connect}
require_email = {require_email}

[[operators]]
name = {oper_name}
password_hash = {oper_hash}
"""

_oper_hash_cache: dict[str, str] = {}

# Servers started by this process and not yet stopped. irctest does not call
# tearDown when a test skips itself in setUp after the server started (e.g.
# bot_mode.py when BOT is not in ISUPPORT), which would leave the server
# running; such leftovers are stopped when the next server starts (tests in a
# process run one at a time) and when the process exits.
_live_procs: set[subprocess.Popen] = set()


def _stop(proc: subprocess.Popen) -> None:
    if proc.poll() is not None:
        return
    for sig in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.killpg(proc.pid, sig)  # started with start_new_session=True
        except OSError:
            proc.send_signal(sig)
        try:
            proc.wait(5)
            return
        except subprocess.TimeoutExpired:
            pass


def _stop_leftovers() -> None:
    while _live_procs:
        _stop(_live_procs.pop())


atexit.register(_stop_leftovers)


def _toml_string(value: str) -> str:
    # A JSON string literal is a valid TOML basic string for these values.
    return json.dumps(value)


def _tcpchat_root() -> Path:
    env = os.environ.get("TCPCHAT_ROOT")
    # Default: conformance/irctest_tcpchat.py -> repository root (works through a symlink).
    root = Path(env) if env else Path(__file__).resolve().parent.parent
    if not (root / "tcpchat").is_dir():
        raise RuntimeError(
            f"cannot find the tcpchat package under {root}; "
            "set TCPCHAT_ROOT to the tcpchat repository"
        )
    return root


def _python() -> str:
    return os.environ.get("TCPCHAT_PYTHON") or sys.executable


def _server_env(root: Path) -> dict[str, str]:
    env = dict(os.environ)
    pythonpath = env.get("PYTHONPATH")
    env["PYTHONPATH"] = str(root) + (os.pathsep + pythonpath if pythonpath else "")
    env.setdefault("PYTHONUNBUFFERED", "1")
    return env


def _oper_password_hash(root: Path) -> str:
    """Hash the oper password once per process with tcpchat's own tool."""
    if OPER_PASSWORD not in _oper_hash_cache:
        proc = subprocess.run(
            [_python(), "-m", "tcpchat", "hash-password"],
            input=OPER_PASSWORD.encode(),
            capture_output=True,
            cwd=root,
            env=_server_env(root),
            timeout=60,
            check=False,
        )
        lines = [line.strip() for line in proc.stdout.decode().splitlines()]
        lines = [line for line in lines if line]
        if proc.returncode != 0 or not lines:
            raise RuntimeError(
                "`python -m tcpchat hash-password` failed "
                f"(exit {proc.returncode}): {proc.stderr.decode().strip()}"
            )
        _oper_hash_cache[OPER_PASSWORD] = lines[-1]
    return _oper_hash_cache[OPER_PASSWORD]


class TcpchatController(BaseServerController, DirectoryBasedController):
    software_name = "tcpchat"
    supported_sasl_mechanisms: set[str] = {"PLAIN"}
    supports_sts = False

    # What the controller promises irctest. A capability or behaviour listed
    # here turns "the server does not support it" from a skip into a failure,
    # so only list what tcpchat is committed to.
    capabilities: frozenset[Capabilities] = frozenset()
    optional_behaviors: frozenset[OptionalBehaviors] = frozenset()
    isupport: dict[str, str | patma.Operator | None] = {}

    def registerUser(self, case: Any, username: str, password: str | None = None) -> None:
        """Create an account with ``tcpchat add-account``, the operator's way:
        it takes passwords of any length, which a 512-byte line cannot."""
        assert password and self.directory
        root = _tcpchat_root()
        result = subprocess.run(
            [
                _python(),
                "-m",
                "tcpchat",
                "add-account",
                username,
                "--data-dir",
                str(self.directory),
            ],
            input=password,
            capture_output=True,
            text=True,
            cwd=root,
            env=_server_env(root),
            timeout=60,
            check=False,
        )
        assert result.returncode == 0, result.stderr

    def wait_for_services(self) -> None:
        """The server is its own services: ready when its port is."""
        self.wait_for_port()

    def create_config(self) -> None:
        super().create_config()
        with self.open_file("tcpchat.toml"):
            pass

    def kill_proc(self) -> None:
        if self.proc is not None:
            _live_procs.discard(self.proc)
        super().kill_proc()

    def terminate(self) -> None:
        if self.proc is not None:
            _live_procs.discard(self.proc)
        super().terminate()

    def run(
        self,
        hostname: str,
        port: int,
        *,
        password: str | None,
        ssl: bool,
        run_services: bool,
        faketime: str | None,
        websocket_hostname: str | None = None,
        websocket_port: int | None = None,
    ) -> None:
        if websocket_hostname is not None or websocket_port is not None:
            raise NotImplementedByController("Websocket")
        # tcpchat is its own services (accounts, SASL, NickServ): run_services
        # needs nothing more started.
        assert self.proc is None
        _stop_leftovers()
        self.port = port
        self.hostname = hostname
        self.create_config()
        assert self.directory

        root = _tcpchat_root()
        config_path = self.directory / "tcpchat.toml"
        with self.open_file("tcpchat.toml", "w") as fd:
            fd.write(
                CONFIG_TEMPLATE.format(
                    oper_name=_toml_string(OPER_NAME),
                    oper_hash=_toml_string(_oper_password_hash(root)),
                    before_connect=str(
                        self.test_config.account_registration_before_connect
                    ).lower(),
                    require_email=str(self.test_config.account_registration_requires_email).lower(),
                )
            )
            if ssl:
                # irctest wants TLS, and only TLS, on the port it gave.
                self.gen_ssl()
                fd.write(
                    f"\n[tls]\ncert = {_toml_string(str(self.pem_path))}\n"
                    f"key = {_toml_string(str(self.key_path))}\nport = {port}\n"
                    "plaintext = false\n"
                )

        # Listen on loopback only: a wildcard address from irctest is reached
        # through loopback by its clients anyway.
        listen_host = "127.0.0.1" if hostname in ("", "0.0.0.0") else hostname

        if faketime and shutil.which("faketime"):
            faketime_cmd: list[str] = ["faketime", "-f", faketime]
            self.faketime_enabled = True
        else:
            faketime_cmd = []

        command: list[str | Path] = [
            *faketime_cmd,
            _python(),
            "-m",
            "tcpchat",
            "server",
            "--host",
            listen_host,
            "--port",
            str(port),
            "--name",
            SERVER_NAME,
            "--config",
            config_path,
            "--log-level",
            "debug",
            # Fresh history and accounts per test, beside the config, never the user's own.
            "--data-dir",
            self.directory,
        ]
        if password:
            command += ["--password", password]
        # No web page: it would take port 8080 for every server, and servers
        # started side by side (pytest -n) would fight over it.
        command.append("--no-web")

        self.proc = self.execute(command, proc_name="tcpchat", cwd=root, env=_server_env(root))
        _live_procs.add(self.proc)


def get_irctest_controller_class() -> type[TcpchatController]:
    return TcpchatController
