"""Run every figure script (fig1-fig4, long_time, models: the models beyond the mixture),
compare_rules.py and the example sweeps (sweep), then write validation/REPORT.md.

    python -m validation            # all figures with their defaults (cached runs are reused)
    python -m validation fig2 sweep # some of them
Each figure also runs alone: ``python validation/figN.py --help``.
"""

from __future__ import annotations

import importlib
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))  # the figure scripts import _common as a top-level module

FIGURES = ("fig1", "fig2", "fig3", "fig4", "long_time", "models", "sweep")


def main(argv=None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    unknown = [a for a in argv if a not in FIGURES]
    if unknown:
        print(f"validation: unknown figure(s) {unknown}; choose from {list(FIGURES)}",
              file=sys.stderr)
        return 2
    status = 0
    for name in argv or FIGURES:
        start = time.perf_counter()
        code = importlib.import_module(name).main([])
        print(f"validation: {name} exit {code} after {time.perf_counter() - start:.0f} s",
              file=sys.stderr)
        status = status or code
    # The old-vs-new and capped-vs-whole comparisons (REPORT.md sections), then the report.
    status = status or importlib.import_module("compare_rules").main([])
    status = status or importlib.import_module("report").main([])
    return status


if __name__ == "__main__":
    sys.exit(main())
