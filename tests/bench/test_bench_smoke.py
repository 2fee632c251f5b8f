"""Smoke runs of every benchmark scenario, tiny and quick, so the benchmark never rots.

They check behaviour (lines arrive, numbers come out, nothing is lost), never
timings: the sizes are far too small to mean anything. tcpchat runs in this
process on an ephemeral port, on the event loop the other server tests use
(asyncio unless CI asks for uvloop); the generator's workers are processes of
their own, as in a real run.
"""

from __future__ import annotations

import asyncio
import json
import math
import os
import socket
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

# The benchmark lives beside the package, at the repository root.
ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench import loadgen, run, servers  # noqa: E402
from tcpchat.server.config import WebSettings  # noqa: E402
from tcpchat.web.websocket import OP_TEXT, frame_lines  # noqa: E402

pytestmark = pytest.mark.timeout(60)

Server = Callable[..., Any]


def _run(scenario: loadgen.Scenario, server: Any, **kwargs: Any) -> dict[str, Any]:
    return loadgen.run_scenario(
        scenario, server.host, [server.port], server_pids=[os.getpid()], timeout=30, **kwargs
    )


def _clean(report: dict[str, Any]) -> None:
    assert report["errors"] == []
    assert report["setup_errors"] == []
    assert report["lost_in_window"] == 0
    assert report["server_cpu"] >= 0
    assert report["gen_cpu"] >= 0


def test_fanout_delivers_and_measures_latency(make_server: Server) -> None:
    server = make_server(event_loop="asyncio")
    report = _run(loadgen.fanout_scenario(clients=8, senders=2, duration=1.0), server, procs=2)
    _clean(report)
    assert report["procs"] == 2
    assert report["lines"] > 0
    assert report["lines_per_s"] > 0
    assert report["sent_per_s"] > 0
    assert report["latency_samples"] > 0
    assert 0 < report["p50_ms"] <= report["p99_ms"] <= report["max_ms"]
    assert report["server_cpu_ms_per_1k"] > 0


def test_fanout_rate_sends_at_the_rate_and_times_every_line(make_server: Server) -> None:
    server = make_server(event_loop="asyncio")
    scenario = loadgen.fanout_rate_scenario(
        clients=6, senders=2, rate=100.0, duration=1.0, probes=2
    )
    report = _run(scenario, server, procs=1)
    _clean(report)
    # About 100 lines in the window; each of the 2 probes receives every one.
    assert 50 <= report["sent_per_s"] <= 150
    assert report["latency_samples"] == report["latency_expected"] > 0
    assert not math.isnan(report["p99_ms"])
    if loadgen.SO_TIMESTAMPNS is not None:
        # Every line also timed to its arrival in the socket, which comes before its reading.
        assert report["arrival_samples"] == report["latency_samples"]
        assert 0 < report["arrival_p50_ms"] <= report["p50_ms"]


def test_fanout_paced_sends_bursts_with_pings_and_times_the_probe(make_server: Server) -> None:
    server = make_server(event_loop="asyncio")
    scenario = loadgen.fanout_paced_scenario(
        receivers=4, senders=2, rate=100.0, duration=1.0, probe_rate=20.0
    )
    senders = [r for r in scenario.roles if r.kind == "rate" and r.ping_every]
    assert len(senders) == 2 and all(r.rate == 50.0 and r.phase == 0 for r in senders)
    assert sum(r.lowat == loadgen.PACED_LOWAT for r in scenario.roles) == 4
    assert sum(r.probe for r in scenario.roles) == 1
    report = _run(scenario, server, procs=2)
    _clean(report)
    # 100 lines a second from the senders and 20 from the probe's sender, each
    # timed by the one probe receiver.
    assert 90 <= report["sent_per_s"] <= 150
    assert report["latency_samples"] == report["latency_expected"] > 0


def test_pairs_exchange_private_messages(make_server: Server) -> None:
    server = make_server(event_loop="asyncio")
    report = _run(loadgen.pairs_scenario(pairs=2, duration=1.0), server, procs=2)
    _clean(report)
    assert report["clients"] == 4
    assert report["lines_per_s"] > 0


def test_connect_registers_every_client(make_server: Server) -> None:
    server = make_server(event_loop="asyncio")
    report = _run(loadgen.connect_scenario(clients=20, in_flight=5), server, procs=2)
    _clean(report)
    assert report["registered"] == 20
    assert report["per_second"] > 0
    assert report["register_p50_ms"] <= report["register_p99_ms"]


def test_idle_holds_clients_while_on_ready_runs(make_server: Server) -> None:
    server = make_server(event_loop="asyncio")
    seen: list[int] = []

    def on_ready(registered: int) -> dict[str, Any]:
        seen.append(len(server.core.sessions))
        return {"kib_per_client": run.rss_kib(os.getpid()) / registered}

    report = _run(loadgen.idle_scenario(clients=30), server, procs=2, on_ready=on_ready)
    _clean(report)
    assert report["registered"] == 30
    assert seen == [30]
    assert report["kib_per_client"] > 0


def test_fanout_with_websocket_members_delivers_to_both(make_server: Server) -> None:
    server = make_server(event_loop="asyncio", web=WebSettings(port=0))
    scenario = loadgen.fanout_web_scenario(clients=10, senders=2, duration=1.0)
    assert sum(r.web for r in scenario.roles) == 3  # every other receiving member
    seen: list[int] = []

    def on_ready(registered: int) -> dict[str, Any]:
        seen.append(sum(s.web for s in server.core.sessions))
        return {}

    report = _run(scenario, server, procs=2, web_port=server.web_port, on_ready=on_ready)
    _clean(report)
    assert seen == [3]
    assert report["lines_per_s"] > 0 and report["latency_samples"] > 0
    assert report["server_cpu_ms_per_1k"] > 0


def test_idle_over_websocket_holds_its_clients(make_server: Server) -> None:
    server = make_server(event_loop="asyncio", web=WebSettings(port=0))
    seen: list[int] = []

    def on_ready(registered: int) -> dict[str, Any]:
        seen.append(sum(s.web and s.registered for s in server.core.sessions))
        return {}

    report = _run(
        loadgen.idle_web_scenario(clients=20),
        server,
        procs=2,
        on_ready=on_ready,
        web_port=server.web_port,
    )
    _clean(report)
    assert report["registered"] == 20 and seen == [20]


def test_a_websocket_client_counts_the_lines_in_its_frames() -> None:
    loop = asyncio.new_event_loop()
    try:
        client = loadgen.Client(loadgen.Worker(loop, "127.0.0.1", 1), loadgen.Role("w", web=True))
        line = b":s!u@h PRIVMSG #bench :" + loadgen.PAYLOAD + b"\r\n"
        data = frame_lines(line * 40 + b":srv 001 w :hi\r\n", OP_TEXT)
        for i in range(0, len(data), 37):  # reads that cut frames anywhere
            client.data_received(data[i : i + 37])
        assert client.lines == 40
    finally:
        loop.close()


def test_the_websocket_member_cost_row() -> None:
    table = {
        "tcpchat": {"fanout.server_cpu_ms_per_1k": 0.2, "fanout-web.server_cpu_ms_per_1k": 0.25}
    }
    [row] = run.web_member_cost(table)
    assert "| 1.50x | yes |" in row  # (2 x 0.25 - 0.2) / 0.2


def test_cpu_and_memory_readers() -> None:
    assert loadgen.proc_cpu_seconds(os.getpid()) > 0
    assert run.rss_kib(os.getpid()) > 0
    # The same clock as os.times(), field by field (it counts in ticks).
    user, kernel = loadgen.proc_cpu_times(os.getpid())
    times = os.times()
    assert abs(user - times.user) < 0.05 and abs(kernel - times.system) < 0.05


def test_templates_render(tmp_path: Path) -> None:
    names = [s.name for s in servers.SERVERS]
    for expected in ("tcpchat", "tcpchat-uvloop", "tcpchat-nohistory", "ngircd", "inspircd"):
        assert expected in names
    for spec in servers.SERVERS:
        argv = spec.render(12345, tmp_path)
        assert argv[:2] == ["sh", "-c"] and "12345" in " ".join(argv) + "".join(
            (tmp_path / f).read_text() for f in spec.files
        )
    # As shipped: history and accounts on, in the server's own directory.
    shipped = " ".join(servers.by_name(["tcpchat"])[0].render(1, tmp_path))
    assert f"--data-dir {tmp_path}" in shipped and "--no-" not in shipped.replace("--no-web", "")
    plain = servers.by_name(["tcpchat-nohistory"])[0]
    assert "--no-history --no-accounts" in " ".join(plain.render(1, tmp_path))
    assert plain.missing() == ""


def test_summary_and_targets_from_fake_rounds(tmp_path: Path) -> None:
    specs = servers.by_name(["tcpchat", "ngircd", "ngircd-nodelay"])

    def rounds(scale: float) -> list[dict[str, Any]]:
        return [
            {
                "fanout": {"lines_per_s": 1000 * scale * k, "p50_ms": 1.0, "p99_ms": 2.0,
                           "server_cpu": 1.0, "gen_cpu": 0.5, "server_cpu_ms_per_1k": 0.4},
                "fanout-rate": {"p50_ms": 1.0, "p99_ms": 2.0 * scale,
                                "arrival_p50_ms": 0.5, "arrival_p99_ms": 1.0 * scale},
                "pairs": {"lines_per_s": 500 * scale},
                "connect": {"per_second": 100 * scale},
                "idle": {"kib_per_client": 2.0 * scale},
            }
            for k in (1, 2, 3)
        ]  # fmt: skip

    results = {"tcpchat": rounds(2.0), "ngircd": rounds(1.0), "ngircd-nodelay": rounds(2.5)}
    for r in results["tcpchat"]:
        r["fanout-paced"] = {"p50_ms": 1.5, "p99_ms": 3.0, "server_cpu": 0.3}
    for r in results["ngircd"]:
        r["fanout-paced"] = {"p50_ms": 1.0, "p99_ms": 4.0, "server_cpu": 0.2}
    table = run.summarise(results, specs)
    assert table["tcpchat"]["fanout.lines_per_s"] == 4000  # the median of 2000, 4000, 6000
    text = "\n".join(run.markdown_tables(table, specs))
    assert "| ngircd | 0.50x |" in text
    assert "Targets" in text
    # Latency is held against the peer with TCP_NODELAY (2.50), the stock figure
    # (1.00) is shown for reference; the other targets take the better of both.
    assert (
        "| fixed-rate arrival p99 ≤ best peer (TCP_NODELAY) | ngircd-nodelay | 2.50 | 2.00 | 0.80x"
        " | yes |" in text
    )
    reference = "| reference: arrival p99, stock peers (Nagle) | ngircd | 1.00 | 2.00 | 2.00x | — |"
    assert reference in text
    assert "| pairs ≥ best peer | ngircd-nodelay | 1,250.00 | 1,000.00 | 0.80x | **no** |" in text
    # As shipped, against ngIRCd: the paced figures of the run that has them.
    assert "| paced p99 ≤ ngIRCd | ngircd | 4.00 | 3.00 | 0.75x | yes |" in text
    assert "| paced server CPU ≤ 1.2x ngIRCd | ngircd | 0.20 | 0.30 | 1.50x | **no** |" in text
    # Without a TCP_NODELAY run, latency is held against the stock peer.
    del results["ngircd-nodelay"]
    specs = specs[:2]
    text = "\n".join(run.markdown_tables(run.summarise(results, specs), specs))
    assert (
        "| fixed-rate arrival p99 ≤ best peer (TCP_NODELAY) | ngircd | 1.00 | 2.00 | 2.00x"
        " | **no** |" in text
    )


def test_results_keep_their_rounds_beside_them(tmp_path: Path) -> None:
    out = tmp_path / "RESULTS-pairs.md"
    args = run.parse_args(["--servers", "tcpchat", "--scenarios", "pairs", "--out", str(out)])
    specs = servers.by_name(["tcpchat"])
    results: dict[str, list[dict[str, Any]]] = {"tcpchat": [{"pairs": {"lines_per_s": 1234.0}}]}
    run.write_results(out, args, specs, {}, {"tcpchat": "tcpchat 0.1"}, results, 60.0, "asyncio")
    assert json.loads((tmp_path / "results-pairs.json").read_text())["results"] == results
    text = out.read_text()
    assert "Raw per-round numbers: `results-pairs.json`." in text
    assert "| tcpchat | — | — | — | — | — | — | — | — | — | — | — | 1,234 |" in text


def test_cluster_scenarios_send_their_traffic_across_the_nodes() -> None:
    fanout = loadgen.fanout_scenario(clients=10, senders=4, duration=1.0, nodes=2)
    senders = [r.node for r in fanout.roles if r.kind == "flood"]
    assert sorted(senders) == [0, 0, 1, 1]  # members, senders too, dealt out round robin
    assert sorted(r.node for r in fanout.roles) == [0] * 5 + [1] * 5
    [probe_sender] = [r for r in fanout.roles if r.kind == "rate"]
    [probe] = [r for r in fanout.roles if r.probe]
    assert (probe_sender.node, probe.node) == (0, 1)
    rate = loadgen.fanout_rate_scenario(clients=10, senders=2, rate=10, duration=1, nodes=2)
    assert {r.node for r in rate.roles if r.kind == "rate"} == {0}
    assert {r.node for r in rate.roles if r.kind == "idle"} == {1}
    pairs = loadgen.pairs_scenario(pairs=3, duration=1.0, nodes=2)
    nodes = {r.nick: r.node for r in pairs.roles}
    assert all(nodes[r.nick] != nodes[r.target] for r in pairs.roles)
    # One node: everyone on its one port.
    single = loadgen.fanout_scenario(clients=10, senders=4, duration=1.0)
    assert {r.node for r in single.roles} == {0}


def test_the_cluster_target_rows() -> None:
    table = {
        "tcpchat-nohistory": {"fanout.lines_per_s": 1000.0, "fanout-rate.p99_ms": 2.0},
        "tcpchat-cluster": {"fanout.lines_per_s": 1400.0, "fanout-rate.p99_ms": 7.0},
        "tcpchat-cluster-shared": {"fanout.lines_per_s": 1200.0},
    }
    text = "\n".join(run.cluster_targets(table))
    assert (
        "| fan-out, 2 nodes ≥ 1.3x one node | 1,000.00 | tcpchat-cluster | 1,400.00 | 1.40x | yes |"
        in text
    )
    assert "| tcpchat-cluster-shared | 1,200.00 | 1.20x | **no** |" in text
    assert (
        "| fixed-rate p99 across nodes ≤ 3x one node | 2.00 | tcpchat-cluster | 7.00 | 3.50x"
        " | **no** |" in text
    )
    assert "arrival" not in text  # no figure, no row


def test_listening_sockets_and_connections_are_found_by_process() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
        assert not run.listens(os.getpid(), port)  # bound is not listening
        sock.listen()
        assert run.listens(os.getpid(), port)
        assert run.connections(os.getpid(), port) == 0
        with socket.create_connection(("127.0.0.1", port)):
            accepted, _ = sock.accept()
            with accepted:
                assert run.connections(os.getpid(), port) == 1  # ours, not the client's end
        assert run.connections(os.getpid(), port) == 0
    assert not run.listens(os.getpid(), port)


def _cluster(name: str) -> servers.ServerSpec:
    [spec] = servers.by_name([name])
    why = spec.missing()
    if why:
        pytest.skip(why)
    return spec


def test_a_cluster_template_starts_and_carries_traffic_across_its_nodes() -> None:
    spec = _cluster("tcpchat-cluster")
    args = run.parse_args(
        ["--duration", "1", "--clients", "12", "--senders", "2", "--rate", "100", "--pairs", "2"]
    )
    args.procs = 1
    reports = run._run_group(spec, ["fanout-rate", "pairs"], args, None, lambda _: None)
    for name, report in reports.items():
        assert "failed" not in report, name
        _clean(report)
        assert len(report["server_cpu_each"]) == 3  # two nodes and Redis
        assert 0 <= report["backend_cpu"] <= report["server_cpu"]
    rate, pairs = reports["fanout-rate"], reports["pairs"]
    assert rate["clients_per_node"] == [2, 10]  # the senders on one node, receivers on the other
    assert rate["latency_samples"] == rate["latency_expected"] > 0
    assert pairs["clients_per_node"] == [2, 2] and pairs["lines_per_s"] > 0


def test_cluster_nodes_on_one_port_both_take_clients() -> None:
    spec = _cluster("tcpchat-cluster-shared")
    args = run.parse_args(["--duration", "1", "--clients", "24", "--senders", "2"])
    reports = run._run_group(spec, ["fanout"], args, None, lambda _: None)
    report = reports["fanout"]
    assert "failed" not in report
    _clean(report)
    # The kernel spreads connections by their addresses: all 24 on one node
    # has a chance of about 1 in 8 million.
    counts = report["clients_per_node"]
    assert sum(counts) == 24 and min(counts) > 0
    assert report["lines_per_s"] > 0 and report["latency_samples"] > 0
