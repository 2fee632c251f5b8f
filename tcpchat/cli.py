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
import signal
import sys
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
from tcpchat.irc import is_channel, valid_nick
from tcpchat.server.config import LOG_LEVELS, Config, ConfigError, load_config
from tcpchat.server.eventlog import EventLog
from tcpchat.server.listener import ServerRunner, new_event_loop
from tcpchat.server.passwords import hash_password
from tcpchat.server.tls import make_self_signed

__all__ = ["main"]

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
    if exc.errno == errno.EADDRINUSE:
        return (
            f"cannot listen on {where}: the address is already in use. "
            "Stop the program using it, or choose another port with --port."
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
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, runner.request_stop, "Server shutting down")
    await runner.serve()


def run_server(args: argparse.Namespace) -> int:
    config = server_config(args)
    setup_logging(config.log_level)
    runner = ServerRunner(config)
    runner.core.observers.append(EventLog(runner.core.state))
    try:
        loop = new_event_loop(config.event_loop)
    except ImportError:
        raise ConfigError(
            "event_loop = uvloop, but uvloop is not installed; "
            "install it with: pip install 'tcpchat[fast]'"
        ) from None
    try:
        loop.run_until_complete(_serve(runner))
    except OSError as exc:
        print(f"tcpchat: {bind_error(config, exc)}", file=sys.stderr)
        return EXIT_USAGE
    finally:
        loop.close()
    logging.getLogger("tcpchat.server").info("stopped")
    return 0


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


def run_hash_password() -> int:
    if sys.stdin.isatty():
        password = getpass.getpass("Password: ")
        if getpass.getpass("Again: ") != password:
            print("tcpchat: the two passwords differ; try again", file=sys.stderr)
            return EXIT_USAGE
    else:
        password = sys.stdin.readline().rstrip("\r\n")
    if not password:
        print("tcpchat: the password is empty; give one", file=sys.stderr)
        return EXIT_USAGE
    print(hash_password(password))
    return 0


def client_settings(args: argparse.Namespace, saved: Settings) -> Settings:
    """The remembered settings with the flags laid over them."""
    channels = tuple(c if is_channel(c) else f"#{c}" for c in args.channel or ())
    return replace(
        saved,
        host=args.host or saved.host,
        port=args.port or (DEFAULT_TLS_PORT if args.tls and not saved.tls else saved.port),
        tls=args.tls or saved.tls,
        nick=args.nick or saved.nick or suggest_nick(),
        password=args.password or "",
        channels=channels or saved.channels or (DEFAULT_CHANNEL,),
    )


def run_client(args: argparse.Namespace) -> int:
    if args.nick is not None and not valid_nick(args.nick, 30):
        raise ConfigError(f"{args.nick!r} is not a valid nickname: use letters, digits, - and _")
    from tcpchat.gui.app import run_client as run_window  # Tk is loaded only for the client

    path = config_path()
    settings = client_settings(args, load_settings(path))
    return run_window(settings, ask_for_nick=args.nick is None, config_file=path, quiet=args.quiet)


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        if args.command == "server":
            return run_server(args)
        if args.command == "client":
            return run_client(args)
        if args.command == "cert":
            return run_cert(args)
        return run_hash_password()
    except ConfigError as exc:
        print(f"tcpchat: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        return 0
