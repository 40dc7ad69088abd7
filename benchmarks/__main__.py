"""Run the benchmark suite in one command and print each benchmark's ratios.

    python -m benchmarks            # everything (about 15 minutes on 2 cores)
    python -m benchmarks --quick    # small sizes, a few minutes: checks that every script runs

Each benchmark measures its ratios within its own run (baseline and candidate in one process);
run on a quiet machine, since contention changes the absolute times. The scripts also run
alone (``python benchmarks/NAME.py --help``):

- response.py         stored-history / per-node / blocked response kernels (speed, memory)
- scaling.py          cost versus K (exponent) and nodes, time split, peak memory
- rule_cost.py        qmc versus montecarlo at equal error (README table)
- simulator_cost.py   the DMFT versus the finite-d simulator at equal error
- targets.py          the issue's targets: Fig. 1 GD to t = 100 at a stated error, K = 2000
- montecarlo_bias.py  montecarlo's error against the deterministic reference: N^-1/2, no bias
- coverage.py         does each rule's reported error bound its actual error? (issue 11)
- precision.py        error versus time of every rule and the issue 11 targets (docs/precision.md)
- sweep.py            a 16-point qd.sweep on 2 dask workers against the same solves run serially
- adaptive_grid.py    a dimension-adaptive index set of the KL modes against the ladder's grids
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent

SUITE = {  # name: (full arguments, quick arguments)
    "response": (["--K", "600", "--points", "256", "--h0", "8", "--skip-stored"],
                 ["--K", "300", "--points", "32", "--h0", "4"]),
    "scaling": ([], ["--Ks", "100", "200", "400", "--points", "16", "--node-K", "100",
                     "--baseline-K", "300", "--out", "/dev/null"]),
    "rule_cost": (["--t-max", "10"], ["--t-max", "2", "--out", "/dev/null"]),
    "targets": ([], ["--deterministic", "gd-t10:1", "--rules", "16x2x2", "32x4x2", "--t-max", "20",
                     "--big-K", "300", "--out", "/dev/null"]),
    "simulator_cost": (["--ds", "125", "250", "500", "1000", "--seeds", "128"], ["--t-max", "5", "--ds", "100", "200", "--seeds", "4", "--out", "/dev/null"]),
    "montecarlo_bias": ([], ["--t-max", "4", "--Ns", "256", "1024", "4096", "--seeds", "1", "2", "3",
                             "--resolution", "1", "--out", "/dev/null"]),
    "coverage": ([], ["--quick", "--out", "/dev/null"]),
    "precision": ([], ["--quick", "--out", ""]),
    "sweep": ([], ["--t-max", "2", "--out", "/dev/null"]),
    "adaptive_grid": (["--t-max", "10", "--budget", "170"], ["--t-max", "2", "--budget", "40"]),
}


def main(argv=None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    quick = "--quick" in argv
    names = [a for a in argv if a != "--quick"] or list(SUITE)
    unknown = [n for n in names if n not in SUITE]
    if unknown:
        print(f"benchmarks: unknown {unknown}; choose from {list(SUITE)}", file=sys.stderr)
        return 2
    status = 0
    for name in names:
        args = SUITE[name][1 if quick else 0]
        print(f"== {name} {' '.join(args)}", flush=True)
        start = time.perf_counter()
        code = subprocess.call([sys.executable, str(HERE / f"{name}.py"), *args])
        print(f"== {name}: exit {code} after {time.perf_counter() - start:.0f} s", flush=True)
        status = status or code
    return status


if __name__ == "__main__":
    sys.exit(main())
