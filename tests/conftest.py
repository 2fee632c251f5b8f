"""Fixtures: real tcpchat servers on loopback with ephemeral ports."""

from __future__ import annotations

import contextlib
import functools
import gc
import os
import signal
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
import trustme
from browser import Browser, find_chromium
from ircclient import IrcClient
from redisnode import REDIS, RedisServer, cluster, free_port
from serverprocess import ServerProcess
from updatelog import UpdateLog
from wsclient import WsIrcClient, open_socket
from xvfb import Xvfb, find_xvfb

from tcpchat.client.connection import ClientThread
from tcpchat.client.settings import Settings
from tcpchat.server import connection
from tcpchat.server.config import (
    AccountSettings,
    Config,
    HistorySettings,
    Limits,
    Operator,
    WebSettings,
)
from tcpchat.server.listener import ServerThread
from tcpchat.server.operator_console import ConsoleLink
from tcpchat.server.passwords import hash_password

if TYPE_CHECKING:
    from tcpchat.gui.client_window import ClientWindow

OPER_NAME = "operuser"
OPER_PASSWORD = "operpassword"
# Hashing is slow on purpose; one hash serves the whole run.
_OPER_HASH = hash_password(OPER_PASSWORD)


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--fuzz-lines",
        type=int,
        default=0,
        metavar="N",
        help="run the fuzz tests on random inputs until N lines have been fed "
        "(default: a small budget with a fixed seed); turns their timeout off",
    )


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if config.getoption("--fuzz-lines"):
        for item in items:
            if "fuzz" in item.nodeid:
                item.add_marker(pytest.mark.timeout(0))


@dataclass
class RunningServer:
    """A server started for a test, and a way to open clients to it."""

    thread: ServerThread
    host: str
    port: int

    @property
    def core(self) -> Any:
        return self.thread.runner.core

    @property
    def tls_port(self) -> int:
        """The TLS listener's port, for a server started with ``tls=TlsSettings(port=0)``."""
        return int(self.thread.runner.tls_addresses[0][1])

    def client(self, nick: str | None = None, caps: tuple[str, ...] = ()) -> IrcClient:
        client = IrcClient(self.host, self.port)
        if nick is not None:
            client.register(nick, caps)
        return client

    @property
    def web_port(self) -> int:
        """The web port, for a server started with ``web=WebSettings(port=0)``."""
        web = self.thread.runner.web
        assert web is not None, "start the server with web=WebSettings(port=0)"
        return int(web.addresses[0][1])

    def web_url(self, path: str = "/", scheme: str = "http") -> str:
        return f"{scheme}://127.0.0.1:{self.web_port}{path}"

    def ws_client(
        self, nick: str | None = None, caps: tuple[str, ...] = (), **options: Any
    ) -> WsIrcClient:
        """An IRC client over WebSocket (``options``: see ``wsclient.open_socket``)."""
        scheme = "wss" if "tls" in options else "ws"
        client = WsIrcClient(open_socket(self.web_url("/socket", scheme), **options))
        if nick is not None:
            client.register(nick, caps)
        return client


def register_account(server: RunningServer, name: str, password: str) -> None:
    """Create the account ``name`` the way a person does (IRCv3 REGISTER)."""
    with server.client(name) as client:
        client.send(f"REGISTER * * :{password}")
        assert client.expect("REGISTER").params[:2] == ("SUCCESS", name)


def server_config(**settings: Any) -> Config:
    """A config for tests: ephemeral port, no flood control, no history unless
    ``history=HistorySettings(path=...)`` is given, per-test overrides."""
    limit_names = set(Limits.__dataclass_fields__)
    limits = {"flood_rate": 0.0, "max_clients_per_ip": 0, "connect_rate": 0.0}
    limits.update({k: v for k, v in settings.items() if k in limit_names})
    server = {k: v for k, v in settings.items() if k not in limit_names}
    server.setdefault("port", 0)
    # The in-process servers run on asyncio unless CI asks for another loop
    # (TCPCHAT_TEST_EVENT_LOOP=uvloop), whatever happens to be installed.
    server.setdefault("event_loop", os.environ.get("TCPCHAT_TEST_EVENT_LOOP", "asyncio"))
    server.setdefault("name", "test.server")
    server.setdefault("operators", (Operator(OPER_NAME, _OPER_HASH),))
    server.setdefault("history", HistorySettings(enabled=False))
    server.setdefault("accounts", AccountSettings(enabled=False))
    # The web port only where a test asks for it (web=WebSettings(port=0)).
    server.setdefault("web", WebSettings(enabled=False))
    return Config(**server, limits=Limits(**limits))


@pytest.fixture(autouse=True, scope="session")
def _own_home(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """Data and settings directories of the tests' own, for this process and
    every program a test starts: no test reads or writes the files of the
    person running them (a server started without --data-dir uses them)."""
    home = tmp_path_factory.mktemp("home")
    saved = {key: os.environ.get(key) for key in ("XDG_DATA_HOME", "XDG_CONFIG_HOME")}
    os.environ["XDG_DATA_HOME"] = str(home / "data")
    os.environ["XDG_CONFIG_HOME"] = str(home / "config")
    yield
    for key, value in saved.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value


@pytest.fixture(autouse=True)
def _portable_writes(monkeypatch: pytest.MonkeyPatch) -> None:
    """With TCPCHAT_TEST_PORTABLE_WRITES=1 (CI sets it for a second run of the
    server tests), every write goes through the transport, as on Windows,
    where sockets are not file descriptors for os.write."""
    if os.environ.get("TCPCHAT_TEST_PORTABLE_WRITES"):
        monkeypatch.setattr(connection, "DIRECT_WRITES", False)


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    """A certificate authority of the tests' own, for server and client certificates."""
    return trustme.CA()


@pytest.fixture
def ca_file(ca: trustme.CA, tmp_path: Path) -> str:
    """``ca``'s certificate as a PEM file, for clients to trust or a server's tls.client_ca."""
    path = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(path))
    return str(path)


@pytest.fixture
def make_server() -> Iterator[Callable[..., RunningServer]]:
    """Start servers with settings of the test's choosing; all stop at the end."""
    threads: list[ServerThread] = []

    def start(**settings: Any) -> RunningServer:
        thread = ServerThread(server_config(**settings))
        runner = thread.start()
        threads.append(thread)
        host, port = (runner.addresses or runner.tls_addresses)[0]
        return RunningServer(thread, host, port)

    yield start
    for thread in threads:
        thread.stop()


@pytest.fixture
def web_server(make_server: Callable[..., RunningServer]) -> RunningServer:
    """A server with its web port open, on a port of the system's choosing."""
    return make_server(web=WebSettings(port=0))


def _with_consoles(
    config: Callable[..., Config],
) -> Iterator[Callable[..., tuple[RunningServer, ConsoleLink]]]:
    """Servers of ``config``'s making, each with a console link attached before
    it listens (or joins), as the console window has it; all stop at the end."""
    started: list[tuple[ServerThread, ConsoleLink]] = []

    def start(*args: Any, **settings: Any) -> tuple[RunningServer, ConsoleLink]:
        thread = ServerThread(config(*args, **settings))
        link = ConsoleLink(thread.runner)
        host, port = thread.start().addresses[0]
        started.append((thread, link))
        return RunningServer(thread, host, port), link

    yield start
    for thread, link in started:
        link.close()
        thread.stop()


@pytest.fixture
def console() -> Iterator[Callable[..., tuple[RunningServer, ConsoleLink]]]:
    """Start servers with a console link attached before they listen, as the
    console window has it (no display needed: the link is the server side)."""
    yield from _with_consoles(server_config)


@pytest.fixture
def server(make_server: Callable[..., RunningServer]) -> RunningServer:
    """A server with default test settings."""
    return make_server()


@pytest.fixture
def tcpchat_server(server: RunningServer) -> RunningServer:
    """The server that end-to-end tests point real IRC clients at."""
    return server


@pytest.fixture
def connect() -> Iterator[Callable[..., tuple[ClientThread, UpdateLog]]]:
    """Start client threads (the client core, no window); all stop at the end of the test.

    ``connect(host, port, nick, *channels, **options)``: options are
    :class:`Settings` fields, or ClientThread's own keyword arguments.
    """
    threads: list[ClientThread] = []
    thread_options = {"registration_timeout", "ca_file"}

    def start(
        host: str, port: int, nick: str, *channels: str, **options: Any
    ) -> tuple[ClientThread, UpdateLog]:
        log = UpdateLog()
        own = {k: v for k, v in options.items() if k in thread_options}
        fields = {k: v for k, v in options.items() if k not in thread_options}
        settings = Settings(host, port, nick, "", channels, **fields)
        thread = ClientThread(settings, log.put, **own)
        thread.start()
        threads.append(thread)
        return thread, log

    yield start
    for thread in threads:
        thread.stop("test over")


@pytest.fixture
def browser() -> Iterator[Callable[..., Browser]]:
    """Open real headless Chromium windows (``browser(width, height)``); all close
    at the end. Skips where Chromium or its driver is not installed."""
    found = find_chromium()
    if found is None:
        pytest.skip("Chromium is not installed (Debian packages chromium and chromium-driver)")
    pytest.importorskip("selenium")
    opened: list[Browser] = []

    def start(width: int = 1200, height: int = 800) -> Browser:
        window = Browser(*found, width=width, height=height)
        opened.append(window)
        return window

    yield start
    for window in opened:
        window.close()


@pytest.fixture(scope="session")
def display() -> Iterator[str]:
    """A virtual X display for the GUI tests, set as DISPLAY; skips without Xvfb."""
    executable = find_xvfb()
    if executable is None:
        pytest.skip("Xvfb is not installed (Debian package xvfb)")
    with Xvfb(executable) as xvfb:
        previous = os.environ.get("DISPLAY")
        os.environ["DISPLAY"] = xvfb.display
        yield xvfb.display
        if previous is None:
            os.environ.pop("DISPLAY", None)
        else:
            os.environ["DISPLAY"] = previous


@pytest.fixture
def open_window(display: str, tmp_path: Path) -> Iterator[Callable[..., ClientWindow]]:
    """Open real client windows connected to a test server; all close at the end.

    ``open_window(server, nick, port=None, **settings)``: settings are
    :class:`Settings` fields; the window remembers them in tmp_path/client.json.
    """
    tk = pytest.importorskip("tkinter")
    from tkdrive import pump_until

    from tcpchat.gui.client_window import ClientWindow

    windows: list[ClientWindow] = []

    def start(
        server: RunningServer, nick: str, port: int | None = None, **fields: Any
    ) -> ClientWindow:
        root = tk.Tk()
        settings = Settings(server.host, port or server.port, nick, "", ("#lobby",), **fields)
        window = ClientWindow(root, settings, tmp_path / "client.json", log_lines=False)
        window.connect(settings)
        windows.append(window)
        pump_until(window.root, lambda: "#lobby" in window.conversations, "#lobby")
        return window

    yield start
    # Popped, not looped over: a loop variable would keep the last window alive
    # past the collection below.
    while windows:
        with contextlib.suppress(tk.TclError):  # the test closed it already
            windows.pop().close()
    # Free Tk objects here, in the Tk thread: Tcl aborts if another thread's GC does it.
    gc.collect()


def say(client: IrcClient, target: str, *texts: str) -> None:
    """``client`` says ``texts`` to ``target``; returns once the server has taken them all."""
    for text in texts:
        client.send(f"PRIVMSG {target} :{text}")
    client.send("PING :said")  # the server has taken every line once it answers
    client.expect("PONG")


@pytest.fixture
def redis_server(tmp_path: Path) -> Iterator[RedisServer]:
    """A redis-server of the test's own (with AOF, fsync always), stopped at the end."""
    if not Path(REDIS).exists():
        pytest.skip("redis-server is not installed (Debian: apt install redis-server)")
    directory = tmp_path / "redis"
    directory.mkdir()
    server = RedisServer(free_port(), directory, appendonly=True)
    server.start()
    yield server
    server.stop()


def node_config(redis_server: RedisServer, node: str, **settings: Any) -> Config:
    """A test config for the node ``node`` on the test's Redis (``cluster_settings``:
    ClusterSettings fields)."""
    options = settings.pop("cluster_settings", {})
    return server_config(cluster=cluster(redis_server.url, node, **options), **settings)


@pytest.fixture
def make_node(redis_server: RedisServer) -> Iterator[Callable[..., RunningServer]]:
    """Start in-process nodes of one network on the test's Redis; all stop at the end."""
    threads: list[ServerThread] = []

    def start(node: str, **settings: Any) -> RunningServer:
        thread = ServerThread(node_config(redis_server, node, **settings))
        runner = thread.start()
        threads.append(thread)
        host, port = runner.addresses[0]
        return RunningServer(thread, host, port)

    yield start
    for thread in threads:
        thread.stop()


@pytest.fixture
def node_process(
    redis_server: RedisServer, tmp_path: Path
) -> Iterator[Callable[..., ServerProcess]]:
    """Start ``tcpchat server --cluster`` nodes as child processes; ``quick``
    gives them the tests' short heartbeat (0.2 s) and timeout (2 s),
    ``history`` the file they keep history in (none without)."""
    started: list[ServerProcess] = []

    def start(node: str, quick: bool = True, history: Path | None = None) -> ServerProcess:
        config = tmp_path / f"{node}.toml"
        timing = "heartbeat = 0.2\nnode_timeout = 2\n" if quick else ""
        config.write_text(f"[limits]\nflood_rate = 0\n[cluster]\n{timing}")
        kept = ["--history", str(history)] if history else ["--no-history"]
        args = ["--config", str(config), "--port", "0", *kept, "--no-accounts"]
        process = ServerProcess([*args, "--cluster", redis_server.url, "--node", node])
        started.append(process)
        return process

    yield start
    for process in started:
        process.signal(signal.SIGCONT)  # a paused one must be able to stop
        process.stop()


@pytest.fixture
def console_node(
    redis_server: RedisServer,
) -> Iterator[Callable[..., tuple[RunningServer, ConsoleLink]]]:
    """Start nodes as ``make_node`` does, each with a console link attached before
    it joins, as the console window has it."""
    yield from _with_consoles(functools.partial(node_config, redis_server))
