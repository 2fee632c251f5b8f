"""Benchmarks for tcpchat and other IRC servers.

:mod:`bench.loadgen` is a load generator that speaks plain IRC to any server
given a host and a port; :mod:`bench.run` starts servers from command
templates (:mod:`bench.servers`), runs the scenarios against each in turn
over several rounds and writes ``bench/RESULTS.md``. See ``bench/README.md``.
"""
