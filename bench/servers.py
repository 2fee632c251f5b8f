"""How to start each IRC server under test: command templates and config files.

A :class:`ServerSpec` is a shell command template plus the files it needs,
written into a fresh directory for each start. Placeholders, filled in by
:meth:`ServerSpec.render`: ``{port}``, ``{dir}`` (that directory),
``{python}`` (this interpreter), ``{bindir}`` (its ``bin`` folder, where
pip puts console scripts), ``{nofile}`` (the open-file limit) and
``{webport}`` (a second free port, for tcpchat's web page and WebSocket),
and for the nodes of a cluster ``{node}`` (the node's name) and ``{redis}``
(the URL of the Redis server they share).
Every command runs as ``sh -c 'ulimit -n {nofile}; exec COMMAND'``, so the
PID the runner holds is the server's own, and it stops only that PID.

Each server has flood protection and penalties turned off as far as it
allows (see ``notes``) and is bound to 127.0.0.1 only.

TCP_NODELAY: tcpchat sets it on every connection (asyncio and uvloop both
do). ngIRCd, InspIRCd and miniircd do not; their ``-nodelay`` variants run
with ``nodelay.c`` preloaded (``LD_PRELOAD``), which sets it on every
socket that ``accept``/``accept4`` returns, so latency can be compared with
TCP_NODELAY everywhere.

A cluster (tcpchat's ``--cluster``) is a spec with ``nodes`` > 1 and a
``backend``: the runner starts the backend (a redis-server of its own, on a
free port, nothing saved to disk), then ``nodes`` processes of the command,
each on a port of its own or, with ``share_port``, all on one port, where
the kernel spreads the connections over them (SO_REUSEPORT).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Final

__all__ = ["SERVERS", "ServerSpec", "build_nodelay_shim", "by_name"]

HERE: Final = Path(__file__).resolve().parent
# Open files allowed to servers and to the generator: 10,000 idle clients
# plus listening sockets, logs and slack.
NOFILE: Final = 20000

ALL_SCENARIOS: Final = ("idle", "connect", "fanout", "fanout-rate", "fanout-paced", "pairs")
# What a cluster runs: the traffic that crosses between its nodes.
CLUSTER_SCENARIOS: Final = ("fanout", "fanout-rate", "pairs")
# Over tcpchat's WebSocket, for tcpchat's templates only (the peers serve none).
WEB_SCENARIOS: Final = ("fanout-web", "idle-web")

TCPCHAT_TOML: Final = """\
[server]
name = "bench.tcpchat"
log_level = "warning"
motd = "bench"

[limits]
flood_rate = 0
max_clients = 0
max_clients_per_ip = 0
connect_rate = 0
ping_interval = 600
ping_timeout = 600
registration_timeout = 120
"""

# The nodes of one machine on one port.
SHARE_PORT_TOML: Final = (
    TCPCHAT_TOML
    + """
[cluster]
share_port = true
"""
)

NGIRCD_CONF: Final = """\
[Global]
Name = bench.ngircd
Info = tcpchat bench
Listen = 127.0.0.1
Ports = {port}
PidFile = {dir}/ngircd.pid
MotdPhrase = "bench"

[Limits]
MaxConnections = 0
MaxConnectionsIP = 0
MaxNickLength = 30
MaxPenaltyTime = 0
PingTimeout = 600
PongTimeout = 600

[Options]
DNS = no
Ident = no
PAM = no
"""

INSPIRCD_CONF: Final = """\
<server name="bench.inspircd" description="tcpchat bench" network="bench">
<admin name="bench" nick="bench" email="bench@bench.invalid">
<bind address="127.0.0.1" port="{port}" type="clients">
<connect allow="*"
         timeout="120"
         pingfreq="600"
         threshold="1000000000"
         commandrate="4294967295"
         fakelag="no"
         hardsendq="8M"
         softsendq="8M"
         recvq="8M"
         localmax="100000"
         globalmax="100000"
         limit="100000"
         maxconnwarn="no"
         useident="no"
         resolvehostnames="no">
<performance nouserdns="yes" softlimit="19000" somaxconn="4096">
<channels users="100" opers="100">
<files motd="{dir}/motd.txt">
<pid file="{dir}/inspircd.pid">
<dns timeout="1">
<options syntaxhints="no" announcets="no">
"""


@dataclass(frozen=True, slots=True)
class ServerSpec:
    """One server under test."""

    name: str
    command: str
    version_command: str
    files: dict[str, str] = field(default_factory=dict)
    # Executables or Python modules that must exist, else the server is skipped.
    needs_executables: tuple[str, ...] = ()
    needs_modules: tuple[str, ...] = ()
    # How the server gets TCP_NODELAY: "native", "shim" (LD_PRELOAD) or "off".
    nodelay: str = "native"
    # At most this many clients at once (miniircd's select() stops at 1024 fds).
    max_clients: int = 0
    # Registrations in flight while the idle clients are set up (not timed).
    idle_in_flight: int = 500
    scenarios: tuple[str, ...] = ALL_SCENARIOS
    notes: str = ""
    # A cluster: this many processes of ``command``, sharing the server
    # ``backend`` starts (Redis), each on its own port unless ``share_port``.
    nodes: int = 1
    backend: ServerSpec | None = None
    share_port: bool = False

    def placeholders(
        self, port: int, directory: Path, web_port: int = 0, node: str = "", redis: str = ""
    ) -> dict[str, str]:
        return {
            "port": str(port),
            "webport": str(web_port),
            "dir": str(directory),
            "python": sys.executable,
            "bindir": str(Path(sys.executable).parent),
            "nofile": str(NOFILE),
            "node": node,
            "redis": redis,
        }

    def render(
        self, port: int, directory: Path, web_port: int = 0, node: str = "", redis: str = ""
    ) -> list[str]:
        """Write the config files into ``directory``; return the argv to start the server."""
        values = self.placeholders(port, directory, web_port, node, redis)
        for name, text in self.files.items():
            (directory / name).write_text(text.format(**values))
        command = self.command.format(**values)
        return ["sh", "-c", f"ulimit -n {NOFILE} && exec {command}"]

    def version(self) -> str:
        values = self.placeholders(0, Path("."))
        try:
            out = subprocess.run(
                self.version_command.format(**values),
                shell=True,
                capture_output=True,
                text=True,
                timeout=10,
                check=False,
            )
        except (OSError, subprocess.SubprocessError) as exc:
            return f"unknown ({exc})"
        text = (out.stdout or out.stderr).strip().splitlines()
        return text[0].strip() if text else "unknown"

    def missing(self) -> str:
        """Why this server cannot run here, or "" when it can."""
        if self.backend is not None and (why := self.backend.missing()):
            return why
        for exe in self.needs_executables:
            if shutil.which(exe) is None:
                return f"{exe} is not installed"
        for module in self.needs_modules:
            probe = subprocess.run(
                [sys.executable, "-c", f"import {module}"], capture_output=True, check=False
            )
            if probe.returncode != 0:
                return f"Python module {module} is not installed"
        return ""


# The Redis a cluster's nodes share: in memory only (no snapshots, no AOF),
# as the benchmark measures the nodes and the stream, not a disk.
REDIS: Final = ServerSpec(
    name="redis",
    command="redis-server --port {port} --bind 127.0.0.1 --dir {dir} --save '' --appendonly no",
    version_command="redis-server --version",
    needs_executables=("redis-server",),
)

# A node as the tcpchat template runs, joined to the cluster (no web port:
# the cluster scenarios are plain IRC).
CLUSTER_NODE: Final = (
    "{python} -m tcpchat server --port {port} --config {dir}/tcpchat.toml"
    " --event-loop asyncio --no-history --no-accounts --no-web --cluster {redis} --node {node}"
)
CLUSTER_VERSION: Final = (
    "echo \"$({python} -m tcpchat --version), $(redis-server --version | cut -d' ' -f1-3)\""
)

TCPCHAT_NOTES: Final = (
    "flood_rate = 0, max_clients = 0, max_clients_per_ip = 0, connect_rate = 0;"
    " TCP_NODELAY set by the event loop"
)

SERVERS: Final[tuple[ServerSpec, ...]] = (
    ServerSpec(
        name="tcpchat",
        command="{python} -m tcpchat server --port {port} --config {dir}/tcpchat.toml"
        " --event-loop asyncio --data-dir {dir} --web-port {webport}",
        version_command="{python} -m tcpchat --version",
        files={"tcpchat.toml": TCPCHAT_TOML},
        scenarios=ALL_SCENARIOS + WEB_SCENARIOS,
        notes=TCPCHAT_NOTES + "; as shipped: durable history (SQLite, synchronous=FULL,"
        " group commit) and accounts on; stdlib asyncio event loop",
    ),
    ServerSpec(
        name="tcpchat-uvloop",
        command="{python} -m tcpchat server --port {port} --config {dir}/tcpchat.toml"
        " --event-loop uvloop --data-dir {dir} --web-port {webport}",
        version_command="{python} -c 'import uvloop; print(\"uvloop\", uvloop.__version__)'",
        files={"tcpchat.toml": TCPCHAT_TOML},
        needs_modules=("uvloop",),
        scenarios=ALL_SCENARIOS + WEB_SCENARIOS,
        notes=TCPCHAT_NOTES + "; as shipped, with the uvloop event loop (the `fast` extra)",
    ),
    ServerSpec(
        name="tcpchat-nohistory",
        command="{python} -m tcpchat server --port {port} --config {dir}/tcpchat.toml"
        " --event-loop asyncio --no-history --no-accounts --web-port {webport}",
        version_command="{python} -m tcpchat --version",
        files={"tcpchat.toml": TCPCHAT_TOML},
        notes=TCPCHAT_NOTES + "; --no-history --no-accounts: what history costs",
    ),
    ServerSpec(
        name="tcpchat-cluster",
        command=CLUSTER_NODE,
        version_command=CLUSTER_VERSION,
        files={"tcpchat.toml": TCPCHAT_TOML},
        needs_modules=("redis",),
        scenarios=CLUSTER_SCENARIOS,
        nodes=2,
        backend=REDIS,
        notes=TCPCHAT_NOTES + "; 2 nodes, each on its own port, and a redis-server (in memory)"
        "; server CPU is the sum of the three processes; members spread round robin, "
        "fixed-rate senders on one node and receivers on the other, pairs split across",
    ),
    ServerSpec(
        name="tcpchat-cluster-shared",
        command=CLUSTER_NODE,
        version_command=CLUSTER_VERSION,
        files={"tcpchat.toml": SHARE_PORT_TOML},
        needs_modules=("redis",),
        scenarios=("fanout",),
        nodes=2,
        backend=REDIS,
        share_port=True,
        notes=TCPCHAT_NOTES + "; 2 nodes on one port (share_port = true, SO_REUSEPORT: "
        "the kernel spreads the clients) and a redis-server (in memory)",
    ),
    ServerSpec(
        name="ngircd",
        command="ngircd --nodaemon --config {dir}/ngircd.conf",
        version_command="ngircd --version",
        files={"ngircd.conf": NGIRCD_CONF},
        needs_executables=("ngircd",),
        nodelay="off",
        notes="a few registrations wait about 1 s under 50 in flight (dropped SYNs: "
        "a short listen backlog), which sets its registrations/s; "
        "MaxPenaltyTime = 0 (no penalties), MaxConnectionsIP = 0, DNS and ident off. "
        "Cannot turn off: ngIRCd handles at most 3 commands per client per loop turn "
        "(a compile-time limit; user mode +F, which needs an operator, raises it to 10)",
    ),
    ServerSpec(
        name="inspircd",
        command="inspircd --nofork --runasroot --nopid --config={dir}/inspircd.conf",
        version_command="inspircd --version",
        files={"inspircd.conf": INSPIRCD_CONF, "motd.txt": "bench\n"},
        needs_executables=("inspircd",),
        nodelay="off",
        notes="every registration takes about 1.0 s here, even a single one with DNS and "
        "ident lookups off, so its registrations/s is about (in flight) per second; "
        "connect class: threshold 1e9 and commandrate 2^32-1 (no fake lag or "
        "Excess Flood), fakelag off, sendq/recvq 8 MiB, localmax/globalmax 100000, "
        "no DNS or ident lookups",
    ),
    ServerSpec(
        name="miniircd",
        # It refuses to run as root unless told to stay root (the runner may be root).
        command="{bindir}/miniircd --listen 127.0.0.1 --ports {port}"
        + (" --setuid root" if os.geteuid() == 0 else ""),
        version_command="{bindir}/miniircd --version",
        needs_executables=(),
        needs_modules=("miniircd",),
        nodelay="off",
        max_clients=900,
        # listen(5): more in flight and the accept queue overflows.
        idle_in_flight=50,
        notes="no flood control to turn off; select() limits it to fewer than 1024 "
        "sockets, so it holds at most 900 clients here",
    ),
)


def _nodelay_variant(spec: ServerSpec) -> ServerSpec:
    return replace(
        spec,
        name=spec.name + "-nodelay",
        nodelay="shim",
        scenarios=("fanout-rate", "fanout-paced"),
        notes="as above, with TCP_NODELAY forced on accepted sockets by the LD_PRELOAD shim",
    )


SERVERS_WITH_VARIANTS: Final[tuple[ServerSpec, ...]] = SERVERS + tuple(
    _nodelay_variant(s) for s in SERVERS if s.nodelay == "off"
)


def by_name(names: list[str] | None = None) -> list[ServerSpec]:
    """The specs called ``names`` (all of them, nodelay variants too, when None)."""
    if not names:
        return list(SERVERS_WITH_VARIANTS)
    known = {s.name: s for s in SERVERS_WITH_VARIANTS}
    unknown = [n for n in names if n not in known]
    if unknown:
        raise SystemExit(f"unknown server(s): {', '.join(unknown)}; known: {', '.join(known)}")
    return [known[n] for n in names]


def build_nodelay_shim(directory: Path) -> Path | None:
    """Compile nodelay.c into ``directory``; None when no C compiler is here."""
    cc = os.environ.get("CC") or shutil.which("cc") or shutil.which("gcc")
    if cc is None:
        return None
    out = directory / "nodelay.so"
    result = subprocess.run(
        [cc, "-O2", "-shared", "-fPIC", "-o", str(out), str(HERE / "nodelay.c"), "-ldl"],
        capture_output=True,
        text=True,
        check=False,
    )
    return out if result.returncode == 0 else None
