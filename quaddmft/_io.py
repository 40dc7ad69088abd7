"""Writing files safely: every file quaddmft writes goes through ``atomic_write``.

A file is written to a temporary file in the same folder and renamed over the target only once it
is complete and flushed to disk (``os.replace`` is atomic within a file system). A failed or
interrupted write (disk full, Ctrl-C, an exception in the writer) therefore never damages what
was there: the previous file stays byte for byte, and the temporary file is removed.

``check_output_path`` validates a destination before any computation starts (the command line
calls it for ``--json``, ``--save`` and ``--plot``), so that a bad path is refused in a second,
not after an hour.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path

from ._errors import ParameterError

__all__ = ["atomic_write", "check_output_path", "IMAGE_SUFFIXES"]

# Formats matplotlib writes without extra backends.
IMAGE_SUFFIXES = (".png", ".pdf", ".svg")


@contextlib.contextmanager
def atomic_write(path, mode: str = "wb"):
    """Open a temporary file beside ``path`` for writing; rename it to ``path`` on success.

    Yields the open file object (``mode`` "wb" or "w"). On any exception inside the block the
    temporary file is deleted and ``path`` is left as it was; the exception propagates.

    Examples
    --------
    >>> import pathlib, tempfile
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     target = pathlib.Path(tmp) / "a.txt"
    ...     with atomic_write(target, "w") as fh:
    ...         _ = fh.write("hello")
    ...     print(target.read_text(), sorted(p.name for p in pathlib.Path(tmp).iterdir()))
    hello ['a.txt']
    """
    path = Path(path)
    handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        # mkstemp creates the file 0600; give it the mode a plain open() would (the file it
        # replaces keeps its own mode), so results stay readable by the group as usual.
        os.chmod(temporary, _mode_for(path))
        with os.fdopen(handle, mode) as fh:
            yield fh
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise


def _mode_for(path: Path) -> int:
    with contextlib.suppress(OSError):
        return path.stat().st_mode & 0o7777
    return 0o666 & ~_umask()


def _umask() -> int:
    # Linux gives the umask without changing it; os.umask (set and restore) is the fallback.
    with contextlib.suppress(OSError, ValueError, StopIteration):
        status = Path("/proc/self/status").read_text().splitlines()
        return int(next(line for line in status if line.startswith("Umask:")).split()[1], 8)
    umask = os.umask(0o022)
    os.umask(umask)
    return umask


def check_output_path(path, *, what: str, suffixes=None, make_parent: bool = True) -> Path:
    """Validate an output file path before computing; return it as a Path.

    The path must name a file (not an existing folder), with one of ``suffixes`` when given, in
    a folder that exists and is writable, or (``make_parent``) a missing folder whose own parent
    exists: one level, which the caller creates and says so. Raises ParameterError naming
    ``what`` otherwise.
    """
    path = Path(path)
    if path.name in ("", ".", ".."):
        raise ParameterError(f"{what}: {str(path)!r} is not a file name")
    if path.is_dir():
        raise ParameterError(f"{what}: {path} is a folder; give a file name inside it")
    if suffixes is not None and path.suffix.lower() not in suffixes:
        raise ParameterError(f"{what}: {path} must end with one of {', '.join(suffixes)}")
    parent = path.parent
    if not parent.exists():
        if not (make_parent and parent.parent.is_dir()):
            raise ParameterError(f"{what}: the folder {parent} does not exist; create it first")
    elif not parent.is_dir():
        raise ParameterError(f"{what}: {parent} is not a folder")
    elif not os.access(parent, os.W_OK | os.X_OK):
        raise ParameterError(f"{what}: the folder {parent} is not writable")
    return path
