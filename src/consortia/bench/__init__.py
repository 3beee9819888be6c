"""Benchmarks beyond the closed loop: open-loop latency at a fixed offered rate, and the cost of a ledger as it grows.

``consortia bench`` (in :mod:`consortia.cli.bench_cmd`) drives these; they sit above the network and the peer's
audit, which they measure, and below the command line.
"""
