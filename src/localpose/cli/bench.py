"""`localpose bench ...`: speed measured side by side, written as JSON and a short table.

Each benchmark is a module with `register(bench_commands)`; add it to `BENCHMARKS`.
"""

from __future__ import annotations

import argparse

from localpose.bench import analysis, cluster, folder, images, serve, video

__all__ = ["BENCHMARKS", "register"]

BENCHMARKS: tuple = (analysis, cluster, folder, images, serve, video)


def register(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser(
        "bench",
        help="measure speed side by side (JSON results)",
        description="Benchmarks run their contenders in one run on this machine and write JSON.",
    )
    benches = parser.add_subparsers(dest="bench", metavar="BENCHMARK", required=True)
    for module in BENCHMARKS:
        module.register(benches)
