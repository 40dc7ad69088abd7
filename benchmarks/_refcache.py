"""On-disk cache of expensive solves (the references), shared by coverage.py and precision.py.

A solve is stored under a key made of everything that determines its arrays: the problem,
schedule, eta, horizon and rule parameters, and a hash of the package's source files (a
reference computed by other code is never reused). Both files of an entry, the result (.npz) and
its timings (.json), are written atomically, the .json last: an entry without its .json is
incomplete and is solved again. The times stored are those of the run that solved it. While a
process solves an entry it holds a lock file (its pid inside); another process wanting the same
entry waits for it instead of solving it twice (a lock whose process is gone is taken over).
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import time
from pathlib import Path

import quaddmft as qd
from quaddmft._io import atomic_write


@functools.lru_cache(maxsize=1)
def source_hash() -> str:
    """sha1 of the package's .py files (path and content), so a code change misses the cache;
    computed once, when this module is imported, i.e. of the code this process runs."""
    root = Path(qd.__file__).resolve().parent
    digest = hashlib.sha1()
    for path in sorted(root.rglob("*.py")):
        digest.update(str(path.relative_to(root)).encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()


source_hash()


def cache_key(problem, schedule, eta, t_max, rule) -> str:
    return json.dumps([problem.params(), schedule.params(), eta, t_max, rule.params(), source_hash()],
                      sort_keys=True, default=str)


def cached(cache, name, problem, schedule, eta, t_max, rule, solve):
    """``solve()`` -> (result, wall, cpu), or the result stored under the folder ``cache`` by an
    earlier run with the same key (no caching if ``cache`` is falsy)."""
    if not cache:
        return solve()
    key = cache_key(problem, schedule, eta, t_max, rule)
    path = Path(cache) / f"{hashlib.sha1(key.encode()).hexdigest()[:16]}.npz"
    meta_path = path.with_suffix(".json")
    path.parent.mkdir(parents=True, exist_ok=True)
    lock = path.with_suffix(".lock")
    while True:
        if path.exists() and meta_path.exists():
            meta = json.loads(meta_path.read_text())
            if meta.get("key") == key:  # guards against a (very unlikely) hash prefix collision
                return qd.load(path), meta["wall"], meta["cpu"]
        if _take(lock):
            break
        time.sleep(5.0)  # another process is solving this entry
    try:
        res, wall, cpu = solve()
        res.save(path)  # atomic (DMFTResult.save)
        with atomic_write(meta_path, "w") as fh:
            json.dump({"wall": wall, "cpu": cpu, "name": name, "key": key}, fh)
    finally:
        lock.unlink(missing_ok=True)
    return res, wall, cpu


def _take(lock: Path) -> bool:
    """Create ``lock`` holding this pid; False if a live process holds it (a dead one's is removed)."""
    try:
        fd = os.open(lock, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
    except FileExistsError:
        try:
            pid = int(lock.read_text() or 0)
        except (OSError, ValueError):
            return False  # being written right now
        if pid and not _alive(pid):
            lock.unlink(missing_ok=True)
        return False
    with os.fdopen(fd, "w") as fh:
        fh.write(str(os.getpid()))
    return True


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def write_text(path, text: str) -> None:
    """Write ``text`` to ``path`` atomically."""
    with atomic_write(path, "w") as fh:
        fh.write(text)
