"""The benchmark runner: start each server, run the scenarios, stop it, repeat.

Servers are alternated within each round (and the order rotated between
rounds), so slow drift of the machine falls on all of them alike. Each
server is started fresh for each round, and once more for the idle
scenario alone, so its memory per client is measured from a server that
never held a client and the others do not run on tables grown to 10,000
clients. The runner stops only the processes it started, by PID.

Usage (from the repository root)::

    python -m bench.run                      # everything: about 20 minutes
    python -m bench.run --rounds 1 --duration 2 --idle 2000 --servers tcpchat ngircd
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import platform
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, Final

from bench import loadgen
from bench.servers import ServerSpec, build_nodelay_shim, by_name

__all__ = ["main"]

HERE: Final = Path(__file__).resolve().parent
START_TIMEOUT: Final = 15.0
STOP_GRACE: Final = 5.0
# Seconds the idle clients are held before the server's RSS is read.
IDLE_SETTLE: Final = 1.0
BASELINE: Final = "tcpchat"
# What a cluster is held against: one node as the cluster's nodes run,
# without history or accounts.
ONE_NODE: Final = BASELINE + "-nohistory"
CLUSTER: Final = "tcpchat-cluster"
PEERS: Final = ("ngircd", "inspircd", "miniircd")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def rss_kib(pid: int) -> int:
    """Resident set size of ``pid`` in KiB (VmRSS in /proc/PID/status)."""
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise ValueError(f"no VmRSS for {pid}")


# States of a socket in /proc/net/tcp.
TCP_ESTABLISHED: Final = "01"
TCP_LISTEN: Final = "0A"


def listens(pid: int, port: int) -> bool:
    """Whether process ``pid`` itself holds a listening TCP socket on 127.0.0.1:``port``.

    An answer on the port does not tell: with SO_REUSEPORT the node that
    listened first answers there while the next is still starting.
    """
    return _held(pid, port, TCP_LISTEN) > 0


def connections(pid: int, port: int) -> int:
    """How many connections process ``pid`` has accepted on ``port`` and holds open."""
    return _held(pid, port, TCP_ESTABLISHED)


def _held(pid: int, port: int, state: str) -> int:
    """Sockets of ``pid`` whose local port is ``port``, in ``state`` (IPv4, /proc/net/tcp)."""
    inodes = set()
    with open("/proc/net/tcp") as f:
        next(f)  # the header
        for line in f:
            fields = line.split()
            local, inode = fields[1], fields[9]
            if fields[3] == state and int(local.rsplit(":", 1)[1], 16) == port:
                inodes.add(f"socket:[{inode}]")
    return sum(link in inodes for link in _fd_links(pid))


def _fd_links(pid: int) -> list[str]:
    """What each of ``pid``'s open file descriptors points at (/proc/PID/fd)."""
    links = []
    for fd in os.listdir(f"/proc/{pid}/fd"):
        with contextlib.suppress(OSError):  # closed since the listing
            links.append(os.readlink(f"/proc/{pid}/fd/{fd}"))
    return links


class RunningServer:
    """One server process that this runner started; stopped by its PID only.

    ``port`` is given for the nodes of a cluster that share one; ``node``
    and ``redis`` fill in a cluster node's template.
    """

    def __init__(
        self,
        spec: ServerSpec,
        shim: Path | None,
        port: int | None = None,
        node: str = "",
        redis: str = "",
    ) -> None:
        self.spec = spec
        self.port = port or free_port()
        self.web_port = free_port()
        self.dir = Path(tempfile.mkdtemp(prefix=f"bench-{spec.name}-"))
        argv = spec.render(self.port, self.dir, self.web_port, node, redis)
        env = dict(os.environ)
        if spec.nodelay == "shim":
            if shim is None:
                raise RuntimeError("the TCP_NODELAY shim could not be built (no C compiler?)")
            env["LD_PRELOAD"] = str(shim)
        self.log = open(self.dir / "server.log", "wb")  # noqa: SIM115 (closed in stop)
        self.proc = subprocess.Popen(
            argv, cwd=self.dir, env=env, stdout=self.log, stderr=subprocess.STDOUT
        )
        self.pid = self.proc.pid
        self._wait_ready()

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                break
            with (
                contextlib.suppress(OSError),
                socket.create_connection(("127.0.0.1", self.port), timeout=1),
            ):
                if listens(self.pid, self.port):
                    time.sleep(0.3)  # let it finish starting up after it listens
                    return
            time.sleep(0.05)
        self.stop()
        log = (self.dir / "server.log").read_text(errors="replace")[-2000:]
        raise RuntimeError(f"{self.spec.name} did not start listening; its log:\n{log}")

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(STOP_GRACE)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(STOP_GRACE)
        self.log.close()


class ServerGroup:
    """What one spec runs: a server, or a cluster's backend (Redis) and nodes.

    ``ports`` are where the generator connects, one per node (a single one
    when the nodes share it); ``pids``, the processes whose CPU counts as the
    server's: the nodes, then the backend. The nodes stop before the backend,
    so none is left waiting for a Redis that went first.
    """

    def __init__(self, spec: ServerSpec, shim: Path | None) -> None:
        self.spec = spec
        self.backend: RunningServer | None = None
        self.nodes: list[RunningServer] = []
        try:
            redis = ""
            if spec.backend is not None:
                self.backend = RunningServer(spec.backend, shim)
                redis = f"redis://127.0.0.1:{self.backend.port}/0"
            shared = free_port() if spec.share_port else None
            for k in range(spec.nodes):
                self.nodes.append(RunningServer(spec, shim, shared, f"n{k + 1}", redis))
        except BaseException:
            self.stop()
            raise
        self.ports = list(dict.fromkeys(node.port for node in self.nodes))
        self.pids = [node.pid for node in self.nodes]
        if self.backend is not None:
            self.pids.append(self.backend.pid)
        self.web_port = self.nodes[0].web_port

    def exited(self) -> str:
        """Which of its processes has exited, and how; "" while all run."""
        for server in [*self.nodes, *([self.backend] if self.backend else [])]:
            status = server.proc.poll()
            if status is not None:
                return f"{server.spec.name} exited with status {status}"
        return ""

    def stop(self) -> None:
        for node in reversed(self.nodes):
            node.stop()
        if self.backend is not None:
            self.backend.stop()


def _scenario_for(
    name: str, spec: ServerSpec, args: argparse.Namespace, nodes: int = 1
) -> loadgen.Scenario:
    cap = spec.max_clients or 1 << 30
    if name == "idle":
        return loadgen.idle_scenario(min(args.idle, cap), in_flight=spec.idle_in_flight)
    if name == "idle-web":
        return loadgen.idle_web_scenario(min(args.idle, cap), in_flight=spec.idle_in_flight)
    if name == "fanout-web":
        return loadgen.fanout_web_scenario(args.clients, args.senders, args.duration)
    if name == "connect":
        return loadgen.connect_scenario(min(args.connect, cap), in_flight=50)
    if name == "fanout":
        return loadgen.fanout_scenario(args.clients, args.senders, args.duration, nodes=nodes)
    if name == "fanout-rate":
        return loadgen.fanout_rate_scenario(
            args.clients, args.senders, args.rate, args.duration, nodes=nodes
        )
    if name == "fanout-paced":
        return loadgen.fanout_paced_scenario(args.clients, args.senders, args.rate, args.duration)
    return loadgen.pairs_scenario(args.pairs, args.duration, nodes=nodes)


def run_server(
    spec: ServerSpec, args: argparse.Namespace, shim: Path | None, say: Callable[[str], None]
) -> dict[str, Any]:
    """Run ``spec``'s scenarios; one report per scenario.

    The idle scenario gets a server of its own, started fresh: its baseline
    RSS is that of a server that never held a client, and the other
    scenarios do not run on a server whose tables grew to 10,000 clients
    (ngIRCd, for one, keeps scanning its grown connection pool every turn).
    """
    names = [n for n in args.scenarios if n in spec.scenarios]
    idle = ("idle", "idle-web")
    groups = [[n] for n in names if n in idle] + [[n for n in names if n not in idle]]
    reports: dict[str, Any] = {}
    for group in groups:
        if group:
            reports.update(_run_group(spec, group, args, shim, say))
    return reports


def _run_group(
    spec: ServerSpec,
    names: list[str],
    args: argparse.Namespace,
    shim: Path | None,
    say: Callable[[str], None],
) -> dict[str, Any]:
    server = ServerGroup(spec, shim)
    reports: dict[str, Any] = {}
    try:
        for name in names:
            scenario = _scenario_for(name, spec, args, nodes=len(server.ports))
            on_ready = None
            if name in ("idle", "idle-web"):
                on_ready = _memory_per_client(server.pids)
            elif len(server.nodes) > 1:
                on_ready = _clients_per_node(server)
            try:
                report = loadgen.run_scenario(
                    scenario,
                    "127.0.0.1",
                    server.ports,
                    procs=args.procs,
                    server_pids=server.pids,
                    on_ready=on_ready,
                    timeout=args.timeout,
                    web_port=server.web_port,
                )
            except Exception as exc:  # one failed scenario must not stop the run
                report = {"scenario": name, "failed": f"{type(exc).__name__}: {exc}"}
            if server.backend is not None and "server_cpu_each" in report:
                report["backend_cpu"] = report["server_cpu_each"][-1]
            exited = server.exited()
            if exited:
                report["failed"] = exited
            reports[name] = report
            say(f"  {spec.name:<22} {name:<12} {_brief(report)}")
            if exited:
                break
            time.sleep(0.5)
    finally:
        server.stop()
    return reports


def _memory_per_client(pids: list[int]) -> Callable[[int], dict[str, Any]]:
    """The idle scenario's ``on_ready``: the servers' RSS grown per client held."""
    before = sum(rss_kib(pid) for pid in pids)

    def on_ready(n: int) -> dict[str, Any]:
        time.sleep(IDLE_SETTLE)
        after = sum(rss_kib(pid) for pid in pids)
        return {
            "rss_before_kib": before,
            "rss_after_kib": after,
            "kib_per_client": (after - before) / max(1, n),
        }

    return on_ready


def _clients_per_node(server: ServerGroup) -> Callable[[int], dict[str, Any]]:
    """A cluster's ``on_ready``: how many clients each node holds, so a run
    shows where the kernel put them when the nodes share a port."""

    def on_ready(n: int) -> dict[str, Any]:
        counts = [connections(node.pid, node.port) for node in server.nodes]
        return {"clients_per_node": counts, "smallest_node_share": min(counts) / max(1, n)}

    return on_ready


def _brief(r: dict[str, Any]) -> str:
    if "failed" in r:
        return "FAILED " + str(r["failed"])
    bits = []
    if "lines_per_s" in r:
        bits.append(f"{r['lines_per_s']:,.0f} lines/s")
    if r.get("latency_samples"):
        bits.append(f"p50 {r['p50_ms']:.2f} ms p99 {r['p99_ms']:.2f} ms")
    if r.get("arrival_samples"):
        bits.append(f"(arrival p50 {r['arrival_p50_ms']:.2f} p99 {r['arrival_p99_ms']:.2f})")
    if "per_second" in r:
        bits.append(f"{r['per_second']:,.0f} reg/s ({r['registered']} in {r['seconds']:.2f} s)")
    if "kib_per_client" in r:
        bits.append(f"{r['kib_per_client']:.2f} KiB/client ({r['registered']} held)")
    if "server_cpu" in r:
        bits.append(f"cpu server {r['server_cpu']:.2f} gen {r['gen_cpu']:.2f}")
    if r.get("lost") or r.get("errors"):
        bits.append(f"lost {r.get('lost')} errors {len(r.get('errors', []))}")
    return ", ".join(bits)


# -- summary -------------------------------------------------------------------

# (column title, scenario, key, format, higher is better)
METRICS: Final = (
    ("fan-out lines/s", "fanout", "lines_per_s", "{:,.0f}", True),
    ("fan-out p50 ms", "fanout", "p50_ms", "{:.1f}", False),
    ("fan-out p99 ms", "fanout", "p99_ms", "{:.1f}", False),
    ("server CPU ms / 1k lines", "fanout", "server_cpu_ms_per_1k", "{:.3f}", False),
    ("fixed-rate p50 ms", "fanout-rate", "p50_ms", "{:.2f}", False),
    ("fixed-rate p99 ms", "fanout-rate", "p99_ms", "{:.2f}", False),
    ("fixed-rate arrival p50 ms", "fanout-rate", "arrival_p50_ms", "{:.2f}", False),
    ("fixed-rate arrival p99 ms", "fanout-rate", "arrival_p99_ms", "{:.2f}", False),
    ("paced p50 ms", "fanout-paced", "p50_ms", "{:.2f}", False),
    ("paced p99 ms", "fanout-paced", "p99_ms", "{:.2f}", False),
    ("paced server CPU", "fanout-paced", "server_cpu", "{:.2f}", False),
    ("pairs lines/s", "pairs", "lines_per_s", "{:,.0f}", True),
    ("registrations/s", "connect", "per_second", "{:,.0f}", True),
    ("idle KiB/client", "idle", "kib_per_client", "{:.2f}", False),
    ("fan-out, half WebSocket, lines/s", "fanout-web", "lines_per_s", "{:,.0f}", True),
    (
        "server CPU ms / 1k lines, half WebSocket",
        "fanout-web",
        "server_cpu_ms_per_1k",
        "{:.3f}",
        False,
    ),
    ("idle WebSocket KiB/client", "idle-web", "kib_per_client", "{:.2f}", False),
)


def median_of(rounds: list[dict[str, Any]], scenario: str, key: str) -> float:
    values = [
        r[scenario][key]
        for r in rounds
        if scenario in r
        and "failed" not in r[scenario]
        and isinstance(r[scenario].get(key), (int, float))
        and not math.isnan(r[scenario][key])
    ]
    return statistics.median(values) if values else math.nan


def _fmt(fmt: str, value: float) -> str:
    return "—" if math.isnan(value) else fmt.format(value)


def summarise(
    results: dict[str, list[dict[str, Any]]], specs: list[ServerSpec]
) -> dict[str, dict[str, float]]:
    """Medians per server and metric (``scenario.key``)."""
    table: dict[str, dict[str, float]] = {}
    for spec in specs:
        rounds = results.get(spec.name, [])
        row = {f"{s}.{k}": median_of(rounds, s, k) for _, s, k, _, _ in METRICS}
        for scenario in loadgen.SCENARIOS:
            for key in (
                "server_cpu",
                "server_kernel_cpu",
                "gen_cpu",
                "registered",
                "lost",
                "backend_cpu",
                "smallest_node_share",
            ):
                row[f"{scenario}.{key}"] = median_of(rounds, scenario, key)
        table[spec.name] = row
    return table


def markdown_tables(table: dict[str, dict[str, float]], specs: list[ServerSpec]) -> list[str]:
    full = [s for s in specs if "fanout" in s.scenarios]
    out = ["## Medians", ""]
    out.append("| server | " + " | ".join(m[0] for m in METRICS) + " |")
    out.append("|---" * (len(METRICS) + 1) + "|")
    for spec in full:
        row = table[spec.name]
        cells = [_fmt(fmt, row[f"{s}.{k}"]) for _, s, k, fmt, _ in METRICS]
        out.append(f"| {spec.name} | " + " | ".join(cells) + " |")
    out += ["", f"## Ratio to {BASELINE} (value ÷ {BASELINE}'s value)", ""]
    out.append("| server | " + " | ".join(m[0] for m in METRICS) + " |")
    out.append("|---" * (len(METRICS) + 1) + "|")
    base = table.get(BASELINE, {})
    for spec in full:
        row = table[spec.name]
        cells = []
        for _, s, k, _, _ in METRICS:
            b, v = base.get(f"{s}.{k}", math.nan), row[f"{s}.{k}"]
            cells.append("—" if math.isnan(b) or math.isnan(v) or b == 0 else f"{v / b:.2f}x")
        out.append(f"| {spec.name} | " + " | ".join(cells) + " |")
    out += [
        "",
        "## CPU: server beside generator (cores busy during the window, medians)",
        "",
        "In brackets: the server's share spent in the kernel (system time), mostly send().",
        "",
        "| server | fanout server | fanout generator | fixed-rate server | fixed-rate generator"
        " | pairs server | pairs generator | connect server | connect generator |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for spec in full:
        row = table[spec.name]
        cells = []
        for s in ("fanout", "fanout-rate", "pairs", "connect"):
            kernel = row[f"{s}.server_kernel_cpu"]
            server = _fmt("{:.2f}", row[f"{s}.server_cpu"])
            if not math.isnan(kernel):
                server += f" ({_fmt('{:.2f}', kernel)})"
            cells += [server, _fmt("{:.2f}", row[f"{s}.gen_cpu"])]
        out.append(f"| {spec.name} | " + " | ".join(cells) + " |")
    variants = [s for s in specs if s.name.endswith("-nodelay")]
    if variants:
        out += [
            "",
            "## Fixed-rate latency with TCP_NODELAY forced on (LD_PRELOAD shim)",
            "",
            "Read: when the probe read the line; arrival: when it arrived in the probe's"
            " socket (see Notes).",
            "",
            "| server | p50 ms stock | p99 ms stock | p50 ms TCP_NODELAY | p99 ms TCP_NODELAY"
            " | arrival p99 ms stock | arrival p99 ms TCP_NODELAY |",
            "|---|---|---|---|---|---|---|",
        ]
        for spec in variants:
            stock = table.get(spec.name.removesuffix("-nodelay"), {})
            row = table[spec.name]
            cells = [
                _fmt("{:.2f}", stock.get(f"fanout-rate.{key}", math.nan))
                if source == "stock"
                else _fmt("{:.2f}", row[f"fanout-rate.{key}"])
                for source, key in (
                    ("stock", "p50_ms"),
                    ("stock", "p99_ms"),
                    ("shim", "p50_ms"),
                    ("shim", "p99_ms"),
                    ("stock", "arrival_p99_ms"),
                    ("shim", "arrival_p99_ms"),
                )
            ]
            out.append(f"| {spec.name.removesuffix('-nodelay')} | " + " | ".join(cells) + " |")
    out += targets(table)
    clusters = [s for s in specs if s.nodes > 1]
    if clusters:
        out += cluster_tables(table, clusters)
    return out


def cluster_tables(table: dict[str, dict[str, float]], clusters: list[ServerSpec]) -> list[str]:
    """Where a cluster's CPU goes, how its clients were spread, and its targets."""
    out = [
        "",
        "## Cluster: Redis's share of the CPU, and the clients' spread (medians)",
        "",
        "Server CPU in the tables above is the nodes' and Redis's together (cores busy).",
        "",
        "| server | fanout nodes | fanout Redis | fixed-rate nodes | fixed-rate Redis"
        " | pairs nodes | pairs Redis | fanout: smallest node's share of clients |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for spec in clusters:
        row = table[spec.name]
        cells = []
        for s in ("fanout", "fanout-rate", "pairs"):
            redis = row[f"{s}.backend_cpu"]
            cells += [_fmt("{:.2f}", row[f"{s}.server_cpu"] - redis), _fmt("{:.2f}", redis)]
        cells.append(_fmt("{:.0%}", row["fanout.smallest_node_share"]))
        out.append(f"| {spec.name} | " + " | ".join(cells) + " |")
    return out + cluster_targets(table)


def cluster_targets(table: dict[str, dict[str, float]]) -> list[str]:
    """The cluster's targets, against one node (ONE_NODE) in this run.

    Two nodes on this two-core machine deliver at least 1.3x one node's
    fan-out (each on its own port, and both on one port); at the fixed rate,
    a line that crosses from one node to the other has a p99 within 3x one
    node's. Pairs across nodes, and the p50, are shown for reference.
    """
    shared = CLUSTER + "-shared"
    fanout, p50 = "fanout.lines_per_s", "fanout-rate.p50_ms"
    p99, arrival = "fanout-rate.p99_ms", "fanout-rate.arrival_p99_ms"
    # (title, key, cluster, higher is better, factor or None for a reference row)
    rows: list[tuple[str, str, str, bool, float | None]] = [
        ("fan-out, 2 nodes ≥ 1.3x one node", fanout, CLUSTER, True, 1.3),
        ("fan-out, 2 nodes on one port ≥ 1.3x one node", fanout, shared, True, 1.3),
        ("fixed-rate p99 across nodes ≤ 3x one node", p99, CLUSTER, False, 3.0),
        ("fixed-rate arrival p99 across nodes ≤ 3x one node", arrival, CLUSTER, False, 3.0),
        ("reference: fixed-rate p50 across nodes", p50, CLUSTER, False, None),
        ("reference: pairs across nodes", "pairs.lines_per_s", CLUSTER, True, None),
    ]  # fmt: skip
    out = [
        "",
        f"## Cluster targets (two nodes against {ONE_NODE} on one node in this run)",
        "",
        "| target | one node | cluster | value | ratio | met |",
        "|---|---|---|---|---|---|",
    ]
    for title, key, name, higher, factor in rows:
        one = table.get(ONE_NODE, {}).get(key, math.nan)
        two = table.get(name, {}).get(key, math.nan)
        if math.isnan(one) or math.isnan(two) or one == 0:
            continue
        ratio = two / one
        if factor is None:
            verdict = "—"
        else:
            verdict = "yes" if (ratio >= factor if higher else ratio <= factor) else "**no**"
        out.append(f"| {title} | {one:,.2f} | {name} | {two:,.2f} | {ratio:.2f}x | {verdict} |")
    return out


def targets(table: dict[str, dict[str, float]]) -> list[str]:
    """tcpchat's targets, each against the best peer in this run.

    Latency is compared with TCP_NODELAY set on every server (the ``-nodelay``
    rows; the stock rows where none ran): with Nagle on, a peer's line can wait
    for the client's acknowledgement, which at light load moves its latency
    from run to run. The stock peers' figures follow as reference rows, so what
    Nagle's coalescing buys them stays in view.
    """
    big_two = ("ngircd", "inspircd")
    both, nodelay, stock = ("", "-nodelay"), ("-nodelay",), ("",)
    p99, arrival = "fanout-rate.p99_ms", "fanout-rate.arrival_p99_ms"
    idle = "idle.kib_per_client"
    # (title, key, higher is better, factor or None for a reference row, peers, variants)
    rows: list[tuple[str, str, bool, float | None, tuple[str, ...], tuple[str, ...]]] = [
        ("fan-out ≥ 1.5x best of ngIRCd/InspIRCd", "fanout.lines_per_s", True, 1.5, big_two, both),
        ("pairs ≥ best peer", "pairs.lines_per_s", True, 1.0, PEERS, both),
        ("fixed-rate p99 ≤ best peer (TCP_NODELAY)", p99, False, 1.0, PEERS, nodelay),
        ("fixed-rate arrival p99 ≤ best peer (TCP_NODELAY)", arrival, False, 1.0, PEERS, nodelay),
        # Only peers that can hold 10,000 clients (miniircd stops at 900).
        ("idle memory ≤ 2x best peer (10,000 held)", idle, False, 2.0, big_two, both),
        ("registrations/s ≥ ngIRCd", "connect.per_second", True, 1.0, ("ngircd",), both),
        ("reference: fixed-rate p99, stock peers (Nagle)", p99, False, None, PEERS, stock),
        ("reference: arrival p99, stock peers (Nagle)", arrival, False, None, PEERS, stock),
    ]  # fmt: skip
    out = ["", "## Targets (tcpchat against the best peer in this run)", ""]
    out.append(
        "| target | best peer | peer value | tcpchat | ratio | met | tcpchat-uvloop | ratio | met |"
    )
    out.append("|---|---|---|---|---|---|---|---|---|")
    for title, key, higher, factor, peers, suffixes in rows:
        cands = _figures(table, key, peers, suffixes) or _figures(table, key, peers, both)
        if not cands:
            continue
        pv, pname = max(cands) if higher else min(cands)
        cells = [title, pname, f"{pv:,.2f}", *_ours(table, key, pv, factor, higher)]
        out.append("| " + " | ".join(cells) + " |")
    out += web_member_cost(table)
    return out + shipped_targets(table)


def _ours(
    table: dict[str, dict[str, float]], key: str, ref: float, factor: float | None, higher: bool
) -> list[str]:
    """tcpchat's and tcpchat-uvloop's cells of a target row: value, ratio to
    ``ref`` and whether it meets ``factor`` ("—" for a reference row)."""
    cells = []
    for ours in (BASELINE, BASELINE + "-uvloop"):
        v = table.get(ours, {}).get(key, math.nan)
        if math.isnan(v) or ref == 0:
            cells += ["—", "—", "—"]
            continue
        ratio = v / ref
        if factor is None:
            verdict = "—"
        else:
            verdict = "yes" if (ratio >= factor if higher else ratio <= factor) else "**no**"
        cells += [f"{v:,.2f}", f"{ratio:.2f}x", verdict]
    return cells


def shipped_targets(table: dict[str, dict[str, float]]) -> list[str]:
    """The server as shipped (``tcpchat``: durable history and accounts on)
    against ngIRCd and against itself without history (``tcpchat-nohistory``).

    ngIRCd's figure is the better of its stock and TCP_NODELAY runs, for each
    metric. What history costs is held against tcpchat's own figure, as no
    peer keeps history.
    """
    plain = BASELINE + "-nohistory"
    paced = "fanout-paced"
    # (title, key, reference server(s), factor, higher is better)
    rows: list[tuple[str, str, tuple[str, ...], float, bool]] = [
        ("pairs ≥ ngIRCd", "pairs.lines_per_s", ("ngircd",), 1.0, True),
        ("pairs ≥ 0.8x without history", "pairs.lines_per_s", (plain,), 0.8, True),
        ("fan-out ≥ 0.8x without history", "fanout.lines_per_s", (plain,), 0.8, True),
        ("fan-out p50 ≤ 2x without history", "fanout.p50_ms", (plain,), 2.0, False),
        ("paced p50 ≤ ngIRCd", f"{paced}.p50_ms", ("ngircd", "ngircd-nodelay"), 1.0, False),
        ("paced p99 ≤ ngIRCd", f"{paced}.p99_ms", ("ngircd", "ngircd-nodelay"), 1.0, False),
        ("paced server CPU ≤ 1.2x ngIRCd", f"{paced}.server_cpu",
         ("ngircd", "ngircd-nodelay"), 1.2, False),
        ("idle memory ≤ 1.5x ngIRCd (10,000 held)", "idle.kib_per_client", ("ngircd",), 1.5, False),
    ]  # fmt: skip
    out = [
        "",
        f"## Targets as shipped ({BASELINE}: history and accounts on)",
        "",
        f"| target | against | its value | {BASELINE} | ratio | met |"
        f" {BASELINE}-uvloop | ratio | met |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for title, key, refs, factor, higher in rows:
        found = _figures(table, key, refs, ("",))
        if not found:
            continue
        rv, rname = max(found) if higher else min(found)
        cells = [title, rname, f"{rv:,.2f}", *_ours(table, key, rv, factor, higher)]
        out.append("| " + " | ".join(cells) + " |")
    return out


def web_member_cost(table: dict[str, dict[str, float]]) -> list[str]:
    """A WebSocket member's CPU per delivered line against a TCP member's.

    ``fanout-web`` is ``fanout`` with half the receiving members on WebSocket,
    so its CPU per line is the mean of the two kinds: a WebSocket member costs
    (2 x half-web - all-TCP) / all-TCP times a TCP member. Target: 1.5x at most.
    """
    out = []
    for name in (BASELINE, BASELINE + "-uvloop"):
        row = table.get(name, {})
        tcp = row.get("fanout.server_cpu_ms_per_1k", math.nan)
        half = row.get("fanout-web.server_cpu_ms_per_1k", math.nan)
        if math.isnan(tcp) or math.isnan(half) or tcp <= 0:
            continue
        ratio = (2 * half - tcp) / tcp
        out.append(
            f"| WebSocket member CPU per line ≤ 1.5x a TCP member's ({name}) | {name}, all TCP "
            f"| {tcp:.3f} ms/1k | {half:.3f} ms/1k with half on WebSocket | {ratio:.2f}x "
            f"| {'yes' if ratio <= 1.5 else '**no**'} | — | — | — |"
        )
    return out


def _figures(
    table: dict[str, dict[str, float]], key: str, peers: tuple[str, ...], suffixes: tuple[str, ...]
) -> list[tuple[float, str]]:
    """(value, server) for each run of ``peers`` in the variants ``suffixes`` that has ``key``."""
    found = []
    for name in peers:
        for suffix in suffixes:
            v = table.get(name + suffix, {}).get(key, math.nan)
            if not math.isnan(v):
                found.append((v, name + suffix))
    return found


def machine() -> dict[str, str]:
    model = "unknown"
    with contextlib.suppress(OSError), open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    mem = ""
    with contextlib.suppress(OSError), open("/proc/meminfo") as f:
        kib = int(f.readline().split()[1])
        mem = f"{kib / 1024 / 1024:.1f} GiB"
    return {
        "CPU": model,
        "cores": str(os.cpu_count()),
        "memory": mem,
        "kernel": f"{platform.system()} {platform.release()}",
        "Python": platform.python_version(),
    }


def write_results(
    path: Path,
    args: argparse.Namespace,
    specs: list[ServerSpec],
    skipped: dict[str, str],
    versions: dict[str, str],
    results: dict[str, list[dict[str, Any]]],
    elapsed: float,
    gen_loop: str,
) -> None:
    table = summarise(results, specs)
    lines = ["# Benchmark results", ""]
    lines += [
        f"Produced by `{' '.join(['python -m bench.run', *args.argv])}` on "
        f"{time.strftime('%Y-%m-%d')}; {args.rounds} round(s), medians shown; the run "
        f"took {elapsed / 60:.1f} minutes. Noisy: compare ratios within this run only.",
        "",
        "## Machine",
        "",
    ]
    for k, v in machine().items():
        lines.append(f"- {k}: {v}")
    lines.append(f"- generator: {args.procs} worker processes, {gen_loop} event loop")
    lines += ["", "## Servers", ""]
    for spec in specs:
        lines.append(f"- **{spec.name}** ({versions.get(spec.name, '?')}): {spec.notes}")
    for name, why in skipped.items():
        lines.append(f"- **{name}**: skipped, {why}")
    lines += [
        "",
        "## Scenarios",
        "",
        f"- **fanout**: {args.clients} clients in one channel, {args.senders} of them sending "
        f"as fast as the server takes it for {args.duration:g} s (paced by TCP backpressure); "
        "delivered lines/s summed over all members; p50/p99 from a probe sender "
        f"({loadgen.PROBE_RATE:g} lines/s) to a probe receiver, timestamps in the messages.",
        f"- **fixed-rate** (fanout-rate): {args.rate:g} lines/s in all from {args.senders} "
        f"senders into the {args.clients}-member channel for {args.duration:g} s; every line "
        "timestamped, latency taken at 4 receivers: when each read the line, and when "
        "the line arrived in its socket (arrival).",
        f"- **paced** (fanout-paced): {args.rate:g} lines/s in all from {args.senders} senders "
        f"that write on the same tick, each line a write of its own, and a PING after every "
        f"{loadgen.PACED_PING_EVERY} lines; {args.clients} receivers that read "
        f"{loadgen.PACED_LOWAT} bytes at a time (SO_RCVLOWAT); a probe pair of its own "
        f"({loadgen.PACED_PROBE_RATE:g} lines/s), its receiver timing every line it reads.",
        f"- **pairs**: {args.pairs} pairs flooding private messages at each other; lines/s "
        "received.",
        f"- **connect**: {args.connect} registrations (NICK/USER until 001), 50 in flight.",
        f"- **idle**: {args.idle} registered silent clients; (RSS after - RSS before) ÷ "
        "clients, RSS from /proc/PID/status of a freshly started server.",
        "- CPU: utime+stime from /proc/PID/stat over the window, for the server and for the "
        "generator's worker processes; 1.00 = one core busy.",
    ]
    if any(spec.nodes > 1 for spec in specs):
        lines.append(
            "- **clusters**: over nodes with a port each, fanout's members are dealt out round "
            "robin (the probe sender on the first node, the probe receiver on the last); "
            "fixed-rate's senders are all on the first node and its receivers all on the last, "
            "so every timed line crosses; each pair has one client on the first node and one "
            "on the last. Nodes on one shared port: the kernel spreads the clients."
        )
    lines.append("")
    lines += markdown_tables(table, specs)
    # RESULTS.md keeps its rounds in results.json, RESULTS-latency.md in results-latency.json.
    raw = path.with_name(path.stem.lower() + ".json")
    lines += notes_section(raw.name, clusters=any(spec.nodes > 1 for spec in specs))
    path.write_text("\n".join(lines) + "\n")
    raw.write_text(json.dumps({"args": args.argv, "results": results}, indent=1) + "\n")


def notes_section(raw: str, clusters: bool = False) -> list[str]:
    """How to read the tables: what each number does and does not say."""
    cluster_notes = [
        "- clusters: every node reads every event back from the Redis Stream, decodes it "
        "and delivers it to its own clients; the server CPU is the nodes' and "
        "redis-server's together. In the saturated fan-out, a cluster's latency is mostly "
        "the time an event waits in the stream: a node takes its clients' lines faster than "
        "the nodes apply the stream's events. The fixed-rate figures time the hop itself: "
        "sender, first node, Redis, second node, receiver, each a process to be woken on "
        "the same two cores. Two nodes share these two cores with the generator, so they "
        "can add no more than the CPU one node and the generator leave idle (CPU table).",
    ]
    return [
        "",
        "## Notes",
        "",
        "- Two cores in all: server and generator share them, so a server at 1.00 core "
        "leaves the generator one core. The CPU table shows the generator below one core "
        "wherever the server is saturated, so it is not the bottleneck of the throughput "
        "figures; in fixed-rate runs both use about 0.6-0.8 cores, so those latencies "
        "include some scheduling delay on the generator side, alike for every server.",
        "- fixed-rate latency, read and arrival: a probe receiver shares its generator "
        "process with about a hundred other receivers and reads a line only after that "
        "process has read those the server wrote to before it, some 5 µs each; that is "
        "the generator's work, and it follows the order in which a server writes to the "
        "members. Arrival takes the kernel's receive timestamp (SO_TIMESTAMPNS) of the "
        "probe's socket instead, and so measures the servers up to the receiving socket. "
        "A read holding several lines has its last segment's timestamp, which overstates "
        "the earlier lines' latency.",
        "- fan-out latency is measured while the channel is saturated: it shows how long a "
        "server lets one client's message wait behind a flood (queueing), not its idle "
        "latency; fixed-rate latency is the unsaturated figure.",
        "- TCP_NODELAY: the generator sets it on every socket. tcpchat gets it from "
        "asyncio/uvloop. For ngIRCd, InspIRCd and miniircd, which do not set it, the "
        "`-nodelay` rows preload `bench/nodelay.c` (LD_PRELOAD) to set it on each "
        "accepted socket; the stock rows run them as shipped. The latency targets are "
        "held against the `-nodelay` rows, every server then sending each line at once; "
        "the stock peers' figures follow as reference rows. With Nagle on, a stock "
        "server's small write waits while the client has not acknowledged the last one: "
        "under load that coalesces lines into fewer segments (less kernel time), at "
        "light load it can hold a line until a delayed acknowledgement.",
        "- registrations/s: ngIRCd and miniircd listen with short backlogs, so with 50 "
        "connections in flight some SYNs are dropped and retried after 1 s or more, and "
        "a few registrations time out (miniircd, 30 s); InspIRCd 3.15 took 1.0 s for every "
        "registration, even a lone one with DNS and ident off. Their figures are set "
        "by those waits, not by CPU (see the connect CPU columns).",
        "- idle: each server is started afresh for it; 'held' may be below the target where "
        "a server's backlog dropped connections (counted per client held). miniircd is "
        "capped at 900 clients by select().",
        *(cluster_notes if clusters else []),
        "- A profile of tcpchat under this load, and what would make it faster: "
        f"[PROFILE.md](PROFILE.md). Raw per-round numbers: `{raw}`.",
    ]


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.run", description=__doc__.split("\n")[0])
    parser.add_argument("--servers", nargs="*", help="names from bench/servers.py (default: all)")
    parser.add_argument("--scenarios", nargs="*", default=list(loadgen.SCENARIOS))
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--duration", type=float, default=5.0, help="seconds per window")
    parser.add_argument("--clients", type=int, default=200, help="fanout channel size")
    parser.add_argument("--senders", type=int, default=10)
    parser.add_argument("--rate", type=float, default=1000.0, help="fixed-rate lines/s in all")
    parser.add_argument("--pairs", type=int, default=50)
    parser.add_argument("--connect", type=int, default=1000, help="registrations to time")
    parser.add_argument("--idle", type=int, default=10000, help="idle clients to hold")
    parser.add_argument("--procs", type=int, default=2, help="generator worker processes")
    parser.add_argument("--timeout", type=float, default=120.0, help="per scenario")
    parser.add_argument(
        "--out",
        type=Path,
        default=HERE / "RESULTS.md",
        help="the tables; the raw rounds go beside it (RESULTS.md: results.json)",
    )
    args = parser.parse_args(argv)
    args.argv = list(sys.argv[1:] if argv is None else argv)
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    # Stop cleanly on Ctrl-C or kill (also when started in the background,
    # where SIGINT is ignored): the finally blocks stop our server and workers.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, _terminate)
    loadgen.raise_nofile()
    started = time.monotonic()

    def say(text: str) -> None:
        print(text, flush=True)

    specs, skipped = [], {}
    for spec in by_name(args.servers):
        why = spec.missing()
        if why:
            skipped[spec.name] = why
            say(f"skipping {spec.name}: {why}")
        else:
            specs.append(spec)
    shim_dir = Path(tempfile.mkdtemp(prefix="bench-shim-"))
    shim = build_nodelay_shim(shim_dir)
    if shim is None:
        for spec in [s for s in specs if s.nodelay == "shim"]:
            skipped[spec.name] = "no C compiler to build the TCP_NODELAY shim"
            specs.remove(spec)
    versions = {spec.name: spec.version() for spec in specs}
    results: dict[str, list[dict[str, Any]]] = {spec.name: [] for spec in specs}
    for round_no in range(args.rounds):
        say(f"round {round_no + 1}/{args.rounds}")
        k = round_no % max(1, len(specs))
        for spec in specs[k:] + specs[:k]:
            try:
                results[spec.name].append(run_server(spec, args, shim, say))
            except Exception as exc:
                say(f"  {spec.name}: FAILED to run: {exc}")
    elapsed = time.monotonic() - started
    gen_loop = "uvloop" if _has_uvloop() else "asyncio"
    write_results(args.out, args, specs, skipped, versions, results, elapsed, gen_loop)
    table = summarise(results, specs)
    say("")
    for line in markdown_tables(table, specs):
        say(line)
    say(f"\nwrote {args.out} ({elapsed / 60:.1f} min)")
    return 0


def _terminate(signum: int, frame: object) -> None:
    raise SystemExit(128 + signum)


def _has_uvloop() -> bool:
    try:
        import uvloop  # type: ignore[import-not-found,unused-ignore]  # noqa: F401
    except ImportError:
        return False
    return True


if __name__ == "__main__":
    raise SystemExit(main())
