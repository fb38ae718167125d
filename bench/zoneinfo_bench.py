"""Benchmark: parse + predict times for synthetic /proc/zoneinfo of 1/2/4/8 nodes x 2..256 CPUs.

Run from the repository root: .venv/bin/python bench/zoneinfo_bench.py. Prints best-of-N times, asserts
nothing (timings belong to the machine they ran on)."""

from __future__ import annotations

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from swapctl.kernel.mm import predict  # noqa: E402
from swapctl.system.zoneinfo import parse_zoneinfo  # noqa: E402
from tests.synth_zoneinfo import render_zoneinfo, synth_zones  # noqa: E402


def best_of(fn, repeat: int = 7) -> float:
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best


def main() -> None:
    print(f"{'nodes':>5} {'cpus':>5} {'lines':>7} {'KiB':>6} {'parse ms':>9} {'predict ms':>10}")
    for nodes in (1, 2, 4, 8):
        for cpus in (2, 8, 32, 64, 128, 256):
            text = render_zoneinfo(synth_zones(nodes), cpus)
            zones = parse_zoneinfo(text)
            t_parse = best_of(lambda text=text: parse_zoneinfo(text))
            t_pred = best_of(lambda zones=zones: predict(zones, 90112, 10, "6.12", 4096))
            print(
                f"{nodes:>5} {cpus:>5} {text.count(chr(10)):>7} {len(text) // 1024:>6} "
                f"{t_parse * 1000:>9.2f} {t_pred * 1000:>10.3f}"
            )


if __name__ == "__main__":
    main()
