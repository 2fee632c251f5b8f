"""The server's settings: defaults, the TOML file, and validation.

A :class:`Config` is an immutable snapshot. It is built from defaults, then
the file given with ``--config``, then command-line flags, and every value is
checked on the way in, so a mistake is reported as one readable line that
names the setting and what would fix it (:class:`ConfigError`), and the rest
of the server can trust what it reads. ``tcpchat.example.toml`` at the
repository root documents every key.
"""

from __future__ import annotations

import dataclasses
import ipaddress
import os
import re
import socket
import sys
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

from tcpchat.irc import valid_channel, valid_nick

__all__ = [
    "AccountSettings",
    "ClusterSettings",
    "Config",
    "ConfigError",
    "ConsoleSettings",
    "HistorySettings",
    "Limits",
    "LogSettings",
    "Operator",
    "TlsSettings",
    "WebSettings",
    "default_data_dir",
    "load_config",
]

LOG_LEVELS: Final = ("debug", "info", "warning", "error")
EVENT_LOOPS: Final = ("auto", "asyncio", "uvloop")
_SERVER_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9.-]*\.[A-Za-z0-9.-]*\Z")
_NETWORK_NAME = re.compile(r"[A-Za-z0-9_.-]+\Z")
_NODE_NAME = re.compile(r"[A-Za-z0-9_.-]{1,32}\Z")


class ConfigError(ValueError):
    """A setting is wrong; the message says which one and how to fix it."""


def _range(low: float, high: float) -> dict[str, float]:
    return {"min": low, "max": high}


@dataclass(frozen=True, slots=True)
class Limits:
    """Sizes, rates and timeouts: what keeps one client from hurting the rest."""

    # Advertised in ISUPPORT; Modern IRC clients read these instead of guessing.
    nicklen: int = field(default=30, metadata=_range(9, 64))
    channellen: int = field(default=50, metadata=_range(2, 200))
    topiclen: int = field(default=390, metadata=_range(1, 400))
    kicklen: int = field(default=255, metadata=_range(1, 400))
    awaylen: int = field(default=200, metadata=_range(1, 400))
    max_targets: int = field(default=4, metadata=_range(1, 100))
    max_modes: int = field(default=4, metadata=_range(1, 100))
    max_channels: int = field(default=50, metadata=_range(1, 10_000))
    # Seconds a new connection may take to register before it is dropped.
    registration_timeout: float = field(default=30.0, metadata=_range(1, 3600))
    # Seconds of silence before the server sends PING, then how long it waits.
    ping_interval: float = field(default=120.0, metadata=_range(1, 86_400))
    ping_timeout: float = field(default=60.0, metadata=_range(1, 86_400))
    # Flood control, a token bucket per client: flood_rate lines per second
    # refill it, up to flood_burst. Lines beyond it wait; more than
    # flood_excess waiting lines is "Excess Flood". flood_rate = 0 turns it off.
    flood_rate: float = field(default=4.0, metadata=_range(0, 1_000_000))
    flood_burst: int = field(default=20, metadata=_range(1, 1_000_000))
    flood_excess: int = field(default=100, metadata=_range(1, 1_000_000))
    # Bytes queued for a client that does not read before "SendQ exceeded".
    sendq: int = field(default=1_048_576, metadata=_range(4096, 1 << 30))
    # Connections at once, in all and from one address; 0 means no limit.
    max_clients: int = field(default=10_000, metadata=_range(0, 1_000_000))
    max_clients_per_ip: int = field(default=50, metadata=_range(0, 1_000_000))
    # New connections from one address: connect_burst at once, then
    # connect_rate per second; connect_rate = 0 turns this off.
    connect_rate: float = field(default=2.0, metadata=_range(0, 1_000_000))
    connect_burst: int = field(default=20, metadata=_range(1, 1_000_000))
    # How many departed nicks WHOWAS remembers.
    whowas_size: int = field(default=200, metadata=_range(0, 100_000))
    # IRCv3 draft/multiline: a message of several lines (a pasted block) may
    # hold this many bytes of text and this many lines; advertised in the
    # capability's value. Each line also counts against flood control, so
    # with flood control on at most flood_excess - 2 lines are allowed.
    multiline_max_bytes: int = field(default=4096, metadata=_range(512, 65_536))
    multiline_max_lines: int = field(default=32, metadata=_range(2, 1000))

    @property
    def multiline_lines(self) -> int:
        """The lines a multiline message may have: multiline_max_lines, but
        never so many that the batch (and its two BATCH lines) waiting for
        flood control would be Excess Flood."""
        if self.flood_rate > 0:
            return max(1, min(self.multiline_max_lines, self.flood_excess - 2))
        return self.multiline_max_lines


def default_data_dir() -> Path:
    """Where tcpchat keeps its files for this user, by the platform's convention."""
    if sys.platform == "win32":
        base = Path(os.environ.get("LOCALAPPDATA") or Path.home() / "AppData" / "Local")
    elif sys.platform == "darwin":
        base = Path.home() / "Library" / "Application Support"
    else:
        base = Path(os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share")
    return base / "tcpchat"


@dataclass(frozen=True, slots=True)
class HistorySettings:
    """Message history: where it lives and how long it is kept."""

    enabled: bool = True
    # The SQLite file; "" means history.sqlite3 in the data directory.
    path: str = ""
    # Items older than this many days are dropped; 0 keeps them forever.
    max_age_days: float = field(default=365.0, metadata=_range(0, 100_000))
    # At most this many items are kept per channel or private conversation; 0 for no limit.
    # (Lines pasted to one user together go together: up to RUN_LINES - 1 more may stay.)
    max_per_target: int = field(default=100_000, metadata=_range(0, 1 << 40))
    # The most items one CHATHISTORY request returns (advertised as CHATHISTORY=).
    request_limit: int = field(default=100, metadata=_range(1, 10_000))


@dataclass(frozen=True, slots=True)
class AccountSettings:
    """User accounts: registration, login (SASL, NickServ) and nick protection."""

    enabled: bool = True
    # The SQLite file; "" means accounts.sqlite3 in the data directory.
    path: str = ""
    # Whether people may create accounts themselves (REGISTER, NickServ REGISTER).
    allow_registration: bool = True
    # Whether REGISTER works before the connection has registered (IRCv3
    # account-registration "before-connect").
    register_before_connect: bool = True
    # Whether REGISTER must give an email address (it is kept, not verified).
    require_email: bool = False
    min_password_length: int = field(default=8, metadata=_range(1, 256))
    # Seconds someone may use a registered nick without logging in before
    # being renamed; 0 never renames.
    nick_grace: float = field(default=30.0, metadata=_range(0, 86_400))
    # Failed logins allowed per address and per account within sasl_window
    # seconds; past that, logins are refused until the window passes.
    login_failures: int = field(default=5, metadata=_range(1, 10_000))
    login_window: float = field(default=60.0, metadata=_range(1, 86_400))


@dataclass(frozen=True, slots=True)
class TlsSettings:
    """TLS: a second, encrypted port, used when a certificate and key are given."""

    # PEM files; both empty means no TLS. `tcpchat cert` makes a self-signed pair.
    cert: str = ""
    key: str = ""
    port: int = field(default=6697, metadata=_range(0, 65535))
    # Whether to keep the plain port (server.port) open beside the TLS one.
    plaintext: bool = True
    # A CA certificate (PEM) that signs client certificates; when given, clients
    # may present one and log in with it (SASL EXTERNAL). "" asks for none.
    client_ca: str = ""
    # Strict Transport Security (IRCv3 sts) is advertised whenever TLS is on:
    # plain connections are told to move to the TLS port, and clients are
    # asked to insist on TLS for this many seconds (0: only this time).
    sts_duration: int = field(default=0, metadata=_range(0, 1 << 31))

    @property
    def enabled(self) -> bool:
        return bool(self.cert and self.key)


@dataclass(frozen=True, slots=True)
class WebSettings:
    """The web client: the page and IRC over WebSocket, on a port of their own."""

    enabled: bool = True
    # Where to listen; "" means server.host (so by default this machine only).
    host: str = ""
    # The port for the page and its WebSocket (/socket); with TLS set up, the
    # same port speaks HTTPS and wss:// with the same certificate.
    port: int = field(default=8080, metadata=_range(0, 65535))
    # Origins (scheme://host[:port]) besides the page's own whose pages may
    # open the WebSocket, such as a gamja or Kiwi IRC served elsewhere; "*"
    # for any. A browser's handshake from any other origin is refused (403).
    allowed_origins: tuple[str, ...] = ()
    # Addresses (or networks, "10.0.0.0/8") of reverse proxies whose
    # X-Forwarded-For header names the real client; from anyone else it is ignored.
    trusted_proxies: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class ClusterSettings:
    """Several server processes (nodes) sharing one network through Redis."""

    # The Redis server the nodes share, as redis://HOST:PORT/DB (rediss:// for
    # TLS, unix:///path.sock); "" runs a server on its own.
    redis: str = ""
    # This node's name, unique in the network; "" means the host name and port.
    node: str = ""
    # Seconds between this node's heartbeats, and the silence after which the
    # other nodes declare it lost (its users quit).
    heartbeat: float = field(default=1.0, metadata=_range(0.1, 10))
    node_timeout: float = field(default=10.0, metadata=_range(1, 300))
    # Seconds between snapshots of the network's state in Redis, which nodes
    # that join later start from (older events are then trimmed).
    snapshot_interval: float = field(default=60.0, metadata=_range(1, 86400))
    # Let several nodes on this machine listen on one port (SO_REUSEPORT),
    # so the kernel spreads the connections over them.
    share_port: bool = False

    @property
    def enabled(self) -> bool:
        return bool(self.redis)

    def node_name(self, port: int) -> str:
        return self.node or f"{socket.gethostname().split('.')[0]}-{port}"


@dataclass(frozen=True, slots=True)
class ConsoleSettings:
    """The server console (``tcpchat console``): how the person at the server appears."""

    # The nick of the pseudo-user the console's operator speaks as.
    operator_nick: str = "Server"


@dataclass(frozen=True, slots=True)
class LogSettings:
    """What the server's log (the terminal and the console) tells of what people say."""

    # Whether private messages and notices are logged with their text. Off, the
    # log says only who wrote to whom: the person at the server reads the
    # channels, not people's private conversations.
    private_text: bool = False


@dataclass(frozen=True, slots=True)
class Operator:
    """IRC operator credentials; the password is stored only as a hash."""

    name: str
    password_hash: str


@dataclass(frozen=True, slots=True)
class Config:
    """Everything the server reads from its settings, validated."""

    name: str = "tcpchat.local"
    description: str = "tcpchat server"
    network: str = "tcpchat"
    host: str = "127.0.0.1"
    port: int = field(default=9000, metadata=_range(0, 65535))
    # A connection password (PASS) every client must give; empty means none.
    password: str = ""
    motd: str = "Welcome to tcpchat. Be kind, and have fun."
    # A channel that always exists, for people to meet in; "" for none.
    default_channel: str = "#lobby"
    default_topic: str = "Welcome! Say hello."
    log_level: str = "info"
    event_loop: str = "auto"
    # Where history and accounts are kept unless their own paths say otherwise;
    # "" means the user's data directory (~/.local/share/tcpchat on Linux).
    data_dir: str = ""
    operators: tuple[Operator, ...] = ()
    limits: Limits = field(default_factory=Limits)
    history: HistorySettings = field(default_factory=HistorySettings)
    accounts: AccountSettings = field(default_factory=AccountSettings)
    tls: TlsSettings = field(default_factory=TlsSettings)
    console: ConsoleSettings = field(default_factory=ConsoleSettings)
    log: LogSettings = field(default_factory=LogSettings)
    web: WebSettings = field(default_factory=WebSettings)
    cluster: ClusterSettings = field(default_factory=ClusterSettings)

    def __post_init__(self) -> None:
        _check(self)

    def _data_file(self, path: str, default_name: str) -> Path:
        if path:
            return Path(path).expanduser()
        base = Path(self.data_dir).expanduser() if self.data_dir else default_data_dir()
        return base / default_name

    @property
    def history_file(self) -> Path:
        return self._data_file(self.history.path, "history.sqlite3")

    @property
    def accounts_file(self) -> Path:
        return self._data_file(self.accounts.path, "accounts.sqlite3")


def _check(config: Config) -> None:
    for obj, section in (
        (config, "server"),
        (config.limits, "limits"),
        (config.history, "history"),
        (config.accounts, "accounts"),
        (config.tls, "tls"),
        (config.web, "web"),
        (config.cluster, "cluster"),
    ):
        for f in dataclasses.fields(obj):
            if "min" in f.metadata:
                value = getattr(obj, f.name)
                if not f.metadata["min"] <= value <= f.metadata["max"]:
                    raise ConfigError(
                        f"{section}.{f.name} = {value} is out of range; "
                        f"use a value from {f.metadata['min']:g} to {f.metadata['max']:g}"
                    )
    if not _SERVER_NAME.match(config.name):
        raise ConfigError(
            f"server.name = {config.name!r} is not a valid server name; "
            "use a host-like name with a dot, such as 'chat.example.org'"
        )
    if not _NETWORK_NAME.match(config.network):
        raise ConfigError(
            f"server.network = {config.network!r} is not valid; use letters, digits, '_', '.', '-'"
        )
    if config.default_channel and not valid_channel(
        config.default_channel, config.limits.channellen
    ):
        raise ConfigError(
            f"server.default_channel = {config.default_channel!r} is not a valid channel name; "
            "use '#' and a name without spaces or commas, or '' for none"
        )
    if config.log_level not in LOG_LEVELS:
        raise ConfigError(
            f"server.log_level = {config.log_level!r} is unknown; "
            f"use one of {', '.join(LOG_LEVELS)}"
        )
    if config.event_loop not in EVENT_LOOPS:
        raise ConfigError(
            f"server.event_loop = {config.event_loop!r} is unknown; "
            f"use one of {', '.join(EVENT_LOOPS)}"
        )
    for text, key in ((config.password, "password"), (config.description, "description")):
        if any(c in text for c in "\r\n\0") or (key == "password" and " " in text):
            raise ConfigError(f"server.{key} must be one line without spaces or control characters")
    if bool(config.tls.cert) != bool(config.tls.key):
        raise ConfigError(
            "tls.cert and tls.key go together: give both PEM files, or neither for no TLS"
        )
    if not config.tls.enabled and not config.tls.plaintext:
        raise ConfigError(
            "tls.plaintext = false leaves no port open; give tls.cert and tls.key, "
            "or keep the plain port"
        )
    _check_web(config.web)
    _check_cluster(config.cluster)
    if not valid_nick(config.console.operator_nick, config.limits.nicklen):
        raise ConfigError(
            f"console.operator_nick = {config.console.operator_nick!r} is not a valid nick; "
            "use letters, digits, - and _, starting with a letter"
        )
    names = set()
    for op in config.operators:
        if not op.name or " " in op.name or op.name in names:
            raise ConfigError(f"operator name {op.name!r} is empty, has a space or repeats")
        names.add(op.name)
        if not op.password_hash.startswith("scrypt$"):
            raise ConfigError(
                f"operator {op.name!r}: password_hash is not a hash made by "
                "'tcpchat hash-password'; run it and paste its output"
            )


_ORIGIN = re.compile(
    r"https?://[A-Za-z0-9.-]+(:[0-9]{1,5})?\Z|https?://\[[0-9A-Fa-f:.]+\](:[0-9]{1,5})?\Z"
)


def _check_web(web: WebSettings) -> None:
    if any(c in web.host for c in " \r\n\0"):
        raise ConfigError(f"web.host = {web.host!r} is not an address; use e.g. 0.0.0.0, or ''")
    for origin in web.allowed_origins:
        if origin != "*" and not _ORIGIN.match(origin):
            raise ConfigError(
                f"web.allowed_origins: {origin!r} is not an origin; write it as "
                "'https://chat.example.org' or 'http://host:port' (no path), or '*' for any"
            )
    for proxy in web.trusted_proxies:
        try:
            ipaddress.ip_network(proxy, strict=False)
        except ValueError:
            raise ConfigError(
                f"web.trusted_proxies: {proxy!r} is not an address or network; "
                "write e.g. '127.0.0.1' or '10.0.0.0/8'"
            ) from None


def _check_cluster(cluster: ClusterSettings) -> None:
    if cluster.redis and not cluster.redis.startswith(("redis://", "rediss://", "unix://")):
        raise ConfigError(
            f"cluster.redis = {cluster.redis!r} is not a Redis URL; "
            "write it as redis://HOST:PORT/DB, e.g. redis://127.0.0.1:6379/0"
        )
    if cluster.node and not _NODE_NAME.match(cluster.node):
        raise ConfigError(
            f"cluster.node = {cluster.node!r} is not a valid node name; use up to 32 "
            "letters, digits, '.', '-' and '_'"
        )
    if cluster.node_timeout < 3 * cluster.heartbeat:
        raise ConfigError(
            f"cluster.node_timeout = {cluster.node_timeout:g} is less than three heartbeats "
            f"({cluster.heartbeat:g} s each); a node would be declared lost while alive. "
            "Raise node_timeout or lower heartbeat"
        )


def _typed(section: str, key: str, value: Any, kind: type) -> Any:
    """Check a TOML value against a field's type; ints are accepted as floats."""
    if kind is tuple:
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise ConfigError(f"{section}.{key} = {value!r} should be a list of strings")
        return tuple(value)
    if kind is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    # bool is an int in Python, but `port = true` is a mistake, not port 1.
    if isinstance(value, bool) != (kind is bool) or not isinstance(value, kind):
        raise ConfigError(f"{section}.{key} = {value!r} should be {_KIND_NAMES[kind]}")
    return value


_KIND_NAMES: Final = {int: "a whole number", float: "a number", str: "a string", bool: "true/false"}
# Field types as the dataclasses spell them (annotations are strings here).
_KINDS: Final = {"int": int, "float": float, "str": str, "bool": bool, "tuple[str, ...]": tuple}


def _section(
    cls: type[Any], table: Mapping[str, Any], section: str, skip: tuple[str, ...] = ()
) -> dict[str, Any]:
    kinds = {f.name: _KINDS.get(str(f.type)) for f in dataclasses.fields(cls) if f.name not in skip}
    values: dict[str, Any] = {}
    for key, value in table.items():
        if key not in kinds or kinds[key] is None:
            known = ", ".join(k for k, v in kinds.items() if v is not None)
            raise ConfigError(f"unknown setting {section}.{key}; known ones are: {known}")
        kind = kinds[key]
        assert kind is not None
        values[key] = _typed(section, key, value, kind)
    return values


def _operators(items: Any) -> tuple[Operator, ...]:
    if not isinstance(items, list):
        raise ConfigError("[[operators]] must be a list of tables with name and password_hash")
    ops = []
    for item in items:
        if not isinstance(item, dict) or set(item) != {"name", "password_hash"}:
            raise ConfigError(
                'each [[operators]] entry needs exactly: name = "...", password_hash = "..."'
            )
        ops.append(
            Operator(
                _typed("operators", "name", item["name"], str),
                _typed("operators", "password_hash", item["password_hash"], str),
            )
        )
    return tuple(ops)


_SECTIONS: Final[dict[str, type[Any]]] = {
    "limits": Limits,
    "history": HistorySettings,
    "accounts": AccountSettings,
    "tls": TlsSettings,
    "console": ConsoleSettings,
    "log": LogSettings,
    "web": WebSettings,
    "cluster": ClusterSettings,
}
"""The nested tables of the config file, each one a settings class."""


def _field_names(section: str) -> set[str]:
    return {f.name for f in dataclasses.fields(_SECTIONS[section])}


def _read_file(path: Path) -> dict[str, Any]:
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"config file {path} does not exist; check the path") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read config file {path}: {exc}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"config file {path} is not valid TOML: {exc}") from None


def load_config(path: Path | None = None, **overrides: Any) -> Config:
    """Defaults, then the TOML file at ``path``, then ``overrides`` (flags).

    Overrides whose value is None are ignored, so unset flags keep the file's
    value. An override names a ``[server]`` key, a ``[limits]`` key, or a key
    of another section as ``<section>_<key>`` (``history_path``).
    """
    values: dict[str, dict[str, Any]] = {"server": {}, **{name: {} for name in _SECTIONS}}
    operators: tuple[Operator, ...] = ()
    if path is not None:
        data = _read_file(path)
        known = ["server", *_SECTIONS, "operators"]
        unknown = set(data) - set(known)
        if unknown:
            raise ConfigError(
                f"unknown section [{sorted(unknown)[0]}] in {path}; known sections are "
                + ", ".join(f"[{n}]" for n in known[:-1])
                + ", [[operators]]"
            )
        for name in values:
            if not isinstance(data.get(name, {}), dict):
                raise ConfigError(f"[{name}] in {path} must be a table")
        values["server"] = _section(
            Config, data.get("server", {}), "server", ("operators", *_SECTIONS)
        )
        for name, cls in _SECTIONS.items():
            values[name] = _section(cls, data.get(name, {}), name)
        operators = _operators(data.get("operators", []))
    limit_names = {f.name for f in dataclasses.fields(Limits)}
    for key, value in overrides.items():
        if value is None:
            continue
        section, _, rest = key.partition("_")
        # log_level is [server]'s, not [log]'s: only a key the section has goes there.
        if section in _SECTIONS and section != "limits" and rest in _field_names(section):
            values[section][rest] = value
        else:
            values["limits" if key in limit_names else "server"][key] = value
    try:
        return Config(
            **values["server"],
            operators=operators,
            **{name: cls(**values[name]) for name, cls in _SECTIONS.items()},
        )
    except TypeError as exc:  # an override with an unknown name: a programming error
        raise ConfigError(str(exc)) from None
