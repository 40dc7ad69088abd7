"""Progress of long runs on stderr: one tqdm bar for a whole solve, with the time t reached.

The bar counts units of work (node-steps of the causal sweeps, so that its rate and remaining
time mean something however the work is split into replicates, rungs and fixed-point sweeps);
a rule whose number of sweeps is only estimated raises the total when it is passed. The bar is
off unless asked for (the command line asks when stderr is a terminal).
"""

from __future__ import annotations

import sys

__all__ = ["Progress"]


class Progress:
    """A progress bar over ``total`` units of work (``unit``; ``initial`` of them done before),
    labelled ``label``; disabled: does nothing but remember where the run is
    (``Progress.last``, for the message of an interrupt)."""

    last = ""  # the position most recently reported by any bar, e.g. "t = 12.4"

    def __init__(self, enabled: bool, total: float, label: str, *, unit: str = " node-steps",
                 initial: int = 0):
        Progress.last = ""
        self.bar = None
        if enabled:
            from tqdm import tqdm

            self.bar = tqdm(total=max(int(total), 1), desc=label, unit=unit, initial=initial,
                            unit_scale=True, file=sys.stderr, dynamic_ncols=True, leave=True,
                            mininterval=0.5)

    def step(self, note: str = "", units: int = 1) -> None:
        Progress.last = note
        if self.bar is None:
            return
        if self.bar.n + units > self.bar.total:
            self.bar.total = self.bar.n + units
        self.bar.update(units)
        self.bar.set_postfix_str(note, refresh=False)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
