"""The ``tcpchat`` command line (also ``python -m tcpchat``).

Every failure a person can cause (a bad flag, a bad config file, a port in
use) ends in one line on stderr that says what was wrong and what to do,
and exit status 2; never a traceback.
"""

from __future__ import annotations

import argparse
import asyncio
import errno
import getpass
import logging
import sys
import time
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

from tcpchat import __version__
from tcpchat.client.settings import (
    DEFAULT_CHANNEL,
    DEFAULT_TLS_PORT,
    Settings,
    config_path,
    load_settings,
    suggest_nick,
)
from tcpchat.client.trust import check_client_certificate
from tcpchat.irc import is_channel, valid_nick
from tcpchat.server.config import LOG_LEVELS, Config, ConfigError, load_config
from tcpchat.server.core import ConfigSource
from tcpchat.server.eventlog import EventLog
from tcpchat.server.listener import ServerRunner, new_event_loop, open_accounts, stop_on_signals
from tcpchat.server.passwords import hash_password
from tcpchat.server.tls import make_self_signed
from tcpchat.store.accounts import Account, AccountExists
from tcpchat.store.health import StoreUnavailable
from tcpchat.web.server import WebListenError

__all__ = ["client_main", "console_main", "main"]

EXIT_USAGE = 2


def _port(text: str) -> int:
    try:
        port = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a port number") from None
    if not 0 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"{port} is not a port number (0-65535)")
    return port


def _add_server_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--host", help="address to listen on (default 127.0.0.1: this machine only)"
    )
    parser.add_argument("--port", type=_port, help="port to listen on (default 9000)")
    parser.add_argument("--config", type=Path, metavar="FILE", help="TOML settings file")
    parser.add_argument("--name", help="server name, e.g. chat.example.org")
    parser.add_argument("--network", help="network name shown to clients")
    parser.add_argument("--password", help="connection password every client must give")
    parser.add_argument("--log-level", choices=LOG_LEVELS, help="how much to log (default info)")
    parser.add_argument(
        "--data-dir", type=Path, metavar="DIR", help="where history and accounts are kept"
    )
    parser.add_argument("--no-accounts", action="store_true", help="no user accounts")
    history = parser.add_mutually_exclusive_group()
    history.add_argument(
        "--history", type=Path, metavar="FILE", help="SQLite file for message history"
    )
    history.add_argument("--no-history", action="store_true", help="keep no message history")
    parser.add_argument(
        "--event-loop",
        choices=("auto", "asyncio", "uvloop"),
        help="event loop (default auto: uvloop when installed)",
    )
    web = parser.add_mutually_exclusive_group()
    web.add_argument(
        "--web-port",
        type=_port,
        metavar="N",
        help="port of the web page, where people chat from a browser (default 8080)",
    )
    web.add_argument("--no-web", action="store_true", help="serve no web page")
    parser.add_argument(
        "--cluster",
        metavar="URL",
        help="join a network of several server processes through the Redis server at "
        "URL, e.g. redis://127.0.0.1:6379/0 (needs the extra: pip install 'tcpchat[cluster]')",
    )
    parser.add_argument(
        "--node", metavar="NAME", help="this process's name in the cluster (default host-port)"
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="tcpchat",
        description="A self-hosted TCP chat that speaks IRC.",
    )
    parser.add_argument("--version", action="version", version=f"tcpchat {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    server = commands.add_parser(
        "server",
        help="run the chat server in the terminal",
        description="Run the chat server. Flags override the config file.",
    )
    _add_server_options(server)
    console = commands.add_parser(
        "console",
        help="run the chat server with its console window",
        description="Run the chat server and open its console: the live log, the users and "
        "channels, and a place to talk as the operator. Without a display it runs like "
        "'tcpchat server'. Flags override the config file.",
    )
    _add_server_options(console)
    client = commands.add_parser(
        "client",
        help="open the desktop chat client",
        description="Open the chat window. Without flags it connects to the last server "
        "used (first time: 127.0.0.1:9000), joins #lobby and asks for a nickname.",
    )
    client.add_argument("--host", help="server to connect to (default 127.0.0.1)")
    client.add_argument("--port", type=_port, help="server port (default 9000)")
    client.add_argument("--nick", help="nickname to use; skips the question")
    client.add_argument(
        "--channel",
        action="append",
        metavar="C",
        help="channel to join (repeatable; default #lobby)",
    )
    client.add_argument("--password", help="connection password, if the server needs one")
    client.add_argument(
        "--tls",
        action="store_true",
        help="connect with TLS (default port 6697) and check the certificate",
    )
    client.add_argument(
        "--cert",
        type=Path,
        metavar="FILE",
        help="client certificate (PEM, with its key unless --key) to log in with over TLS",
    )
    client.add_argument(
        "--key", type=Path, metavar="FILE", help="the client certificate's key, if in its own file"
    )
    client.add_argument(
        "--quiet", "--no-log", action="store_true", help="do not copy the chat to the terminal"
    )
    cert = commands.add_parser(
        "cert",
        help="make a self-signed TLS certificate for a LAN",
        description="Write a self-signed certificate and key, for [tls] cert and key in "
        "the config file. Clients will show its fingerprint; compare it before trusting it.",
    )
    cert.add_argument("--name", default="localhost", help="host name clients connect to")
    cert.add_argument("--days", type=int, default=825, help="validity in days (default 825)")
    cert.add_argument(
        "--out", type=Path, default=Path("."), metavar="DIR", help="where to write the files"
    )
    add_account = commands.add_parser(
        "add-account",
        help="create a user account (e.g. when self-registration is off)",
        description="Create an account in the server's accounts file; the password is read "
        "from the terminal, or from stdin when piped. Works while the server runs.",
    )
    add_account.add_argument("name", help="account name (also the nick it protects)")
    add_account.add_argument("--email", default="", help="contact address, kept with the account")
    add_account.add_argument("--config", type=Path, metavar="FILE", help="the server's TOML file")
    add_account.add_argument(
        "--data-dir", type=Path, metavar="DIR", help="where the server keeps its accounts"
    )
    commands.add_parser(
        "hash-password",
        help="hash an operator password for the config file",
        description="Read a password (from the terminal, or stdin when piped) and print "
        "its hash for [[operators]] password_hash in the config file.",
    )
    return parser


def server_config(args: argparse.Namespace) -> Config:
    """The config file named by ``args`` with the flags laid over it."""
    return load_config(
        args.config,
        host=args.host,
        port=args.port,
        name=args.name,
        network=args.network,
        password=args.password,
        log_level=args.log_level,
        event_loop=args.event_loop,
        history_path=str(args.history) if args.history else None,
        history_enabled=False if args.no_history else (True if args.history else None),
        data_dir=str(args.data_dir) if args.data_dir else None,
        accounts_enabled=False if args.no_accounts else None,
        web_port=args.web_port,
        web_enabled=False if args.no_web else None,
        cluster_redis=args.cluster,
        cluster_node=args.node,
    )


def setup_logging(level: str) -> None:
    logging.basicConfig(
        level=level.upper(),
        format="%(asctime)s %(levelname)-7s %(message)s",
        datefmt="%H:%M:%S",
    )


def bind_error(config: Config, exc: OSError) -> str:
    """One line that explains why listening failed and how to fix it."""
    where = f"{config.host}:{config.port}"
    flag = "--port"
    if isinstance(exc, WebListenError):
        where, flag = f"{exc.where} (the web page)", "--web-port (or --no-web)"
    if exc.errno == errno.EADDRINUSE:
        return (
            f"cannot listen on {where}: the address is already in use. "
            f"Stop the program using it, or choose another port with {flag}."
        )
    if exc.errno == errno.EACCES:
        return f"cannot listen on {where}: permission denied. Use a port above 1023."
    if exc.errno == errno.EADDRNOTAVAIL:
        return (
            f"cannot listen on {where}: this machine has no such address. "
            "Check --host (127.0.0.1 for this machine only, 0.0.0.0 for all)."
        )
    return f"cannot listen on {where}: {exc.strerror or exc}. Check --host and --port."


async def _serve(runner: ServerRunner) -> None:
    await runner.start()
    stop_on_signals(asyncio.get_running_loop(), runner.request_stop)
    await runner.serve()


def check_event_loop(config: Config) -> None:
    """Fail early, in one line, when the config asks for an event loop that is missing."""
    try:
        new_event_loop(config.event_loop).close()
    except ImportError:
        raise ConfigError(
            "event_loop = uvloop, but uvloop is not installed; "
            "install it with: pip install 'tcpchat[fast]'"
        ) from None


def run_server(config: Config, reload: ConfigSource | None = None) -> int:
    setup_logging(config.log_level)
    check_event_loop(config)
    runner = ServerRunner(config, reload)
    runner.core.observers.append(EventLog(runner.core))
    loop = new_event_loop(config.event_loop)
    try:
        loop.run_until_complete(_serve(runner))
    except OSError as exc:
        print(f"tcpchat: {bind_error(config, exc)}", file=sys.stderr)
        return EXIT_USAGE
    finally:
        loop.close()
    logging.getLogger("tcpchat.server").info("stopped")
    return 0


def no_tk(exc: ImportError) -> str:
    """Why a window cannot open without Tk, and where Tk comes from."""
    return (
        f"the windows need Tk, which this Python lacks ({exc}). On Debian or Ubuntu: "
        "sudo apt install python3-tk; on macOS or Windows: the python.org installer has it"
    )


def run_console(config: Config) -> int:
    """The server with its console window; headless, as ``server``, without a display."""
    setup_logging(config.log_level)
    check_event_loop(config)
    try:
        from tcpchat.gui.console_app import run_console as run_window  # Tk only for the console
    except ImportError as exc:
        print(f"tcpchat: {no_tk(exc)}. Serving without the console.", file=sys.stderr)
        return run_server(config)
    try:
        return run_window(config, headless=lambda: run_server(config))
    except OSError as exc:
        print(f"tcpchat: {bind_error(config, exc)}", file=sys.stderr)
        return EXIT_USAGE


def run_cert(args: argparse.Namespace) -> int:
    if not 1 <= args.days <= 36_500:
        raise ConfigError(f"--days {args.days} is out of range; use 1 to 36500")
    cert, key = args.out / "tcpchat.crt", args.out / "tcpchat.key"
    for path in (cert, key):
        if path.exists():
            raise ConfigError(f"{path} exists already; move it away or choose --out")
    print_fingerprint = make_self_signed(args.name, args.days, cert, key)
    print(f"Wrote {cert} and {key} (keep the key private).")
    print(f"SHA-256 fingerprint: {print_fingerprint}")
    print("Add to the config file:")
    print(f'[tls]\ncert = "{cert.resolve()}"\nkey = "{key.resolve()}"')
    return 0


def read_password() -> str:
    """A new password: typed twice at a terminal, or one line of stdin when piped."""
    if sys.stdin.isatty():
        password = getpass.getpass("Password: ")
        if getpass.getpass("Again: ") != password:
            raise ConfigError("the two passwords differ; try again")
    else:
        password = sys.stdin.readline().rstrip("\r\n")
    if not password:
        raise ConfigError("the password is empty; give one")
    return password


def run_hash_password() -> int:
    print(hash_password(read_password()))
    return 0


def run_add_account(args: argparse.Namespace) -> int:
    config = load_config(
        args.config,
        data_dir=str(args.data_dir) if args.data_dir else None,
    )
    if not valid_nick(args.name, config.limits.nicklen):
        raise ConfigError(f"{args.name!r} cannot be an account name: use a valid nickname")
    accounts = open_accounts(config)
    if accounts is None:
        raise ConfigError("accounts are turned off in the config ([accounts] enabled = false)")
    # A cluster's accounts are in its Redis, shared by every node.
    where = config.cluster.redis if config.cluster.enabled else config.accounts_file
    try:
        accounts.create(
            Account(args.name, hash_password(read_password()), args.email, int(time.time() * 1000))
        )
    except AccountExists:
        raise ConfigError(f"an account called {args.name} exists already") from None
    except StoreUnavailable as exc:
        raise ConfigError(f"{exc}; nothing was written to {where}") from None
    finally:
        accounts.close()
    print(f"Account {args.name} created in {where}.")
    return 0


def client_settings(args: argparse.Namespace, saved: Settings) -> Settings:
    """The remembered settings with the flags laid over them."""
    channels = tuple(c if is_channel(c) else f"#{c}" for c in args.channel or ())
    if args.cert:  # absolute, so the remembered path works from any directory
        saved = replace(saved, client_cert=_absolute(args.cert), client_key=_absolute(args.key))
    return replace(
        saved,
        host=args.host or saved.host,
        port=args.port or (DEFAULT_TLS_PORT if args.tls and not saved.tls else saved.port),
        tls=args.tls or saved.tls,
        nick=args.nick or saved.nick or suggest_nick(),
        password=args.password or "",
        channels=channels or saved.channels or (DEFAULT_CHANNEL,),
    )


def _absolute(path: Path | None) -> str:
    return str(path.expanduser().resolve()) if path is not None else ""


def check_certificate_flags(args: argparse.Namespace, settings: Settings) -> None:
    """Refuse --cert and --key that could not be used, before any window opens."""
    if args.key and not args.cert:
        raise ConfigError("--key goes with --cert: give the certificate file too")
    if not args.cert:
        return
    if not settings.tls:
        raise ConfigError("a client certificate is shown only over TLS: add --tls")
    problem = check_client_certificate(settings.client_cert, settings.client_key)
    if problem is not None:
        raise ConfigError(problem)


def run_client(args: argparse.Namespace) -> int:
    if args.nick is not None and not valid_nick(args.nick, 30):
        raise ConfigError(f"{args.nick!r} is not a valid nickname: use letters, digits, - and _")
    path = config_path()
    settings = client_settings(args, load_settings(path))
    check_certificate_flags(args, settings)
    try:
        from tcpchat.gui.app import run_client as run_window  # Tk is loaded only for the client
    except ImportError as exc:
        raise ConfigError(no_tk(exc)) from None

    return run_window(settings, ask_for_nick=args.nick is None, config_file=path, quiet=args.quiet)


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        if args.command == "server":
            reload = (str(args.config), lambda: server_config(args)) if args.config else None
            return run_server(server_config(args), reload)
        if args.command == "console":
            return run_console(server_config(args))
        if args.command == "client":
            return run_client(args)
        if args.command == "cert":
            return run_cert(args)
        if args.command == "add-account":
            return run_add_account(args)
        return run_hash_password()
    except ConfigError as exc:
        print(f"tcpchat: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        return 0


def client_main() -> int:
    """``tcpchat-client``: ``tcpchat client`` as a windowed program (``[project.gui-scripts]``)."""
    return main(["client", *sys.argv[1:]])


def console_main() -> int:
    """``tcpchat-console``: ``tcpchat console`` as a windowed program."""
    return main(["console", *sys.argv[1:]])
