"""Loading a script of benchmarks/ as a module, for the tests of its pieces.

The scripts import their cache helper as the top-level module "_refcache" (they run as scripts
from benchmarks/); a script is loaded by path, not by putting benchmarks/ on sys.path, where
numba's ``import coverage`` would find benchmarks/coverage.py.
"""

from __future__ import annotations

import contextlib
import importlib.util
import sys
from pathlib import Path

BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"


def _load(name: str, module_name: str):
    spec = importlib.util.spec_from_file_location(module_name, BENCHMARKS / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    spec.loader.exec_module(module)
    return module


@contextlib.contextmanager
def benchmark_script(name: str):
    """benchmarks/NAME.py as a module (named quaddmft_benchmark_NAME) within the block."""
    module_name = f"quaddmft_benchmark_{name}"
    saved = sys.modules.get("_refcache")
    _load("_refcache", "_refcache")
    try:
        yield _load(name, module_name)
    finally:
        sys.modules.pop(module_name, None)
        if saved is None:
            sys.modules.pop("_refcache", None)
        else:
            sys.modules["_refcache"] = saved
