"""Atomic file writes: a temporary file beside the target, synced, then renamed over it.

A crash or ``kill -9`` during a write leaves either the old file or the new one, never a
half-written one. The temporary file is named ``.<target>.<pid>.<random>.bayescore-tmp``;
ones left by killed writes are removed by the next write to the same path (when their
process is gone, or after ten minutes). Used by model files (:mod:`bayescore._netcdf`) and
HTML reports (:mod:`bayescore.reporting`).
"""

from __future__ import annotations

import contextlib
import os
import stat
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

__all__ = ["TMP_SUFFIX", "atomic_write"]

TMP_SUFFIX = ".bayescore-tmp"
#: Stale temporary files are only removed when no write could still be running on them.
_STALE_SECONDS = 600.0


def _remove_stale_temps(target: Path) -> None:
    """Delete temporary files of earlier, killed writes to ``target``."""
    now = time.time()
    for tmp in target.parent.glob(f".{target.name}.*{TMP_SUFFIX}"):
        with contextlib.suppress(OSError):
            if now - tmp.stat().st_mtime > _STALE_SECONDS or not _pid_alive(tmp):
                tmp.unlink()


def _pid_alive(tmp: Path) -> bool:
    """Whether the process that named ``tmp`` (``.name.<pid>.<rand>.bayescore-tmp``) runs."""
    try:
        pid = int(tmp.name.rsplit(".", 3)[-3])
    except (ValueError, IndexError):
        return False
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _fsync_dir(directory: Path) -> None:
    with contextlib.suppress(OSError):  # not every platform/filesystem can open a directory
        fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def atomic_write(path: str | os.PathLike[str], write: Callable[[Path], object]) -> Path:
    """Call ``write(tmp)`` on a temporary file beside ``path``, then move it into place.

    The temporary file is synced to disk (``fsync``) and renamed over the target
    (``os.replace``, atomic on POSIX), and the directory is synced. An existing file keeps
    its permission bits, a new one gets the umask's; a symlink at ``path`` is written
    through to its target (the link stays). If ``write`` raises, the target is untouched
    and the temporary file removed.

    Parameters
    ----------
    path : str or path-like
        Destination; its directory is created if missing.
    write : callable
        Writes the complete content to the path it is given.

    Returns
    -------
    Path
        The file written (a symlink's target).

    Examples
    --------
    >>> import os, tempfile
    >>> target = os.path.join(tempfile.mkdtemp(), "note.txt")
    >>> atomic_write(target, lambda tmp: tmp.write_text("hello")).read_text()
    'hello'
    >>> os.listdir(os.path.dirname(target))
    ['note.txt']
    """
    target = Path(os.path.realpath(Path(path)))  # through symlinks to the real file
    target.parent.mkdir(parents=True, exist_ok=True)
    _remove_stale_temps(target)
    fd, tmp_name = tempfile.mkstemp(
        prefix=f".{target.name}.{os.getpid()}.", suffix=TMP_SUFFIX, dir=target.parent
    )
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        write(tmp)
        if target.exists():
            mode = stat.S_IMODE(target.stat().st_mode)
        else:
            umask = os.umask(0)
            os.umask(umask)
            mode = 0o666 & ~umask
        os.chmod(tmp, mode)  # mkstemp makes 0600; keep the old file's mode or the umask's
        with open(tmp, "rb+") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp, target)
        _fsync_dir(target.parent)
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
    return target
