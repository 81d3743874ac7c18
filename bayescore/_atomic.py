"""Atomic file writes: complete content, synced, renamed over the target; inputs never hit.

Every file bayescore writes (model netCDF, HTML report, CSV) goes through
:func:`atomic_write`, which takes the complete content as bytes or text. Building the
content in memory first means no other library ever writes to the disk: HDF5 in
particular, which after a failed write on a full disk leaves its file half-closed, and whose
next close (often at garbage collection) then dies with a segmentation fault. Here a full
disk or an I/O error is an ordinary :class:`OSError` from ``os.write``/``os.fsync``, raised
once, with the target named and the old file untouched.

The content goes to an anonymous file in the target's directory (Linux ``O_TMPFILE``: it
has no name, so a ``kill -9`` while writing leaves nothing behind), is synced (``fsync``),
linked under a temporary name and renamed over the target (``os.replace``, atomic on POSIX),
and the directory is synced. Where ``O_TMPFILE`` is not available the temporary file is
named ``.<target>.<pid>.<random>.bayescore-tmp`` from the start; ones left by killed writes
are removed by the next write to the same path (when their process is gone, or after ten
minutes).

Targets are checked first (:func:`check_target`): an existing target must be a regular file
(a device such as ``/dev/null``, a FIFO or a directory would be *replaced* by the rename),
and :func:`check_outputs` refuses an output that is one of the command's inputs, through
symlinks, relative paths and hard links.
"""

from __future__ import annotations

import contextlib
import errno
import os
import secrets
import stat
import time
from collections.abc import Iterable
from pathlib import Path

__all__ = ["TMP_SUFFIX", "atomic_write", "check_outputs", "check_target"]

TMP_SUFFIX = ".bayescore-tmp"
#: Stale temporary files are only removed when no write could still be running on them.
_STALE_SECONDS = 600.0
#: Bytes per ``os.write`` call (a short write is continued, never lost).
_CHUNK = 1 << 20
#: ``open(dir, O_TMPFILE)`` fails with these where the filesystem or kernel lacks it.
_NO_TMPFILE = (errno.EOPNOTSUPP, errno.EISDIR, errno.EINVAL, errno.ENOENT, errno.ENOTSUP)

_KINDS = (
    (stat.S_ISDIR, "a directory"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
    (stat.S_ISFIFO, "a FIFO (named pipe)"),
    (stat.S_ISSOCK, "a socket"),
)


def _kind(mode: int) -> str:
    return next((name for test, name in _KINDS if test(mode)), "not a regular file")


def check_target(path: str | os.PathLike[str]) -> Path:
    """The real path a write to ``path`` would replace, if it may be replaced.

    Parameters
    ----------
    path : str or path-like
        Where to write; a symlink is followed to its target.

    Returns
    -------
    Path
        The absolute, symlink-free path of the file to write.

    Raises
    ------
    ValueError
        ``path`` is empty, ends with a separator, or names something other than a regular
        file (a directory, a device such as ``/dev/null``, a FIFO, a socket): writing
        would replace it.

    Examples
    --------
    >>> check_target("/dev/null")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    ValueError: '/dev/null' is a character device, not a regular file: ...
    """
    text = os.fspath(path)
    if not text:
        raise ValueError("The output path is empty; give a file name such as 'model.nc'.")
    if text.endswith((os.sep, "/")):
        raise ValueError(f"{text!r} names a directory; give a file name inside it.")
    target = Path(os.path.realpath(text))
    try:
        mode = os.stat(target).st_mode
    except FileNotFoundError:
        return target
    if stat.S_ISDIR(mode):
        raise ValueError(
            f"{text!r} is a directory (not a regular file: bayescore writes only regular "
            "files); give a file name in it."
        )
    if not stat.S_ISREG(mode):
        raise ValueError(
            f"{text!r} is {_kind(mode)}, not a regular file: bayescore writes only regular "
            "files (a write would replace it). Give a file path."
        )
    return target


def check_outputs(
    output: str | os.PathLike[str], inputs: Iterable[str | os.PathLike[str] | None]
) -> Path:
    """Refuse an output that cannot be written safely or that is one of the inputs.

    Parameters
    ----------
    output : str or path-like
    inputs : iterable of str, path-like or None
        The files the same command reads (``None`` entries are skipped).

    Returns
    -------
    Path
        :func:`check_target` of ``output``.

    Raises
    ------
    ValueError
        As :func:`check_target`, or ``output`` is one of ``inputs`` (the same path once
        symlinks and ``..`` are resolved, or the same file through a hard link).

    Examples
    --------
    >>> import os, tempfile
    >>> d = tempfile.mkdtemp(); model = os.path.join(d, "m.nc"); open(model, "w").close()
    >>> check_outputs(os.path.join(d, "sub", "..", "m.nc"), [model])  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    ValueError: The output ... is the input ...m.nc: writing it would destroy the input. ...
    """
    target = check_target(output)
    for source in inputs:
        if source is None or not os.fspath(source):
            continue
        real = Path(os.path.realpath(source))
        same = real == target
        if not same and target.exists() and real.exists():
            with contextlib.suppress(OSError):
                same = os.path.samefile(real, target)
        if same:
            raise ValueError(
                f"The output {os.fspath(output)} is the input {os.fspath(source)}: writing it "
                "would destroy the input. Give another output path."
            )
    return target


def _remove_stale_temps(target: Path) -> None:
    """Delete named temporary files of earlier, killed writes to ``target``."""
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


def _temp_name(target: Path) -> Path:
    return target.parent / f".{target.name}.{os.getpid()}.{secrets.token_hex(4)}{TMP_SUFFIX}"


def _open_anonymous(directory: Path, mode: int) -> int | None:
    """An unnamed file in ``directory`` (``O_TMPFILE``), or None where that is unsupported."""
    flag = getattr(os, "O_TMPFILE", None)
    if flag is None or not os.path.isdir("/proc/self/fd"):  # linking it needs /proc
        return None
    try:
        return os.open(directory, flag | os.O_WRONLY | getattr(os, "O_CLOEXEC", 0), mode)
    except OSError as exc:
        if exc.errno in _NO_TMPFILE:
            return None
        raise


def _link(fd: int, target: Path) -> Path:
    """Give the anonymous file ``fd`` a temporary name beside ``target``."""
    directory = os.open(target.parent, os.O_RDONLY)
    try:
        while True:
            name = _temp_name(target)
            try:
                # A directory fd makes CPython call linkat(..., AT_SYMLINK_FOLLOW), which
                # links the file behind the /proc link (plain link() would link the link).
                os.link(f"/proc/self/fd/{fd}", name.name, dst_dir_fd=directory)
                return name
            except FileExistsError:  # pragma: no cover - 32 random bits collided
                continue
    finally:
        os.close(directory)


def _write_all(fd: int, data: memoryview) -> None:
    while data:
        written = os.write(fd, data[:_CHUNK])
        data = data[written:]


def _replace(target: Path, data: memoryview, mode: int) -> None:
    """Write ``data`` to a new file, sync it and rename it over ``target``."""
    fd = _open_anonymous(target.parent, mode)
    name: Path | None = None
    if fd is None:
        name = _temp_name(target)
        fd = os.open(
            name, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0), mode
        )
    try:
        _write_all(fd, data)
        os.fchmod(fd, mode)  # the creation mode went through the umask
        os.fsync(fd)
        if name is None:
            name = _link(fd, target)
        os.replace(name, target)
        name = None
        _fsync_dir(target.parent)
    finally:
        os.close(fd)
        if name is not None:
            with contextlib.suppress(OSError):
                os.unlink(name)


def atomic_write(path: str | os.PathLike[str], data: bytes | bytearray | memoryview | str) -> Path:
    """Write ``data`` to ``path`` atomically: all of it, or nothing and the old file kept.

    The content is written to a new file beside ``path``, synced to disk (``fsync``) and
    renamed over the target (``os.replace``, atomic on POSIX); the directory is synced. An
    existing file keeps its permission bits, a new one gets the umask's; a symlink at
    ``path`` is written through to its target (the link stays). On any failure (a full
    disk, an I/O error, an interrupt) the target is untouched and no temporary file
    remains; a ``kill -9`` leaves none either where the system has ``O_TMPFILE``.

    Parameters
    ----------
    path : str or path-like
        Destination, a regular file or nothing yet; its directory is created if missing.
    data : bytes, bytearray, memoryview or str
        The complete content; text is written as UTF-8.

    Returns
    -------
    Path
        The file written (a symlink's target).

    Raises
    ------
    ValueError
        ``path`` cannot be a file (see :func:`check_target`).
    OSError
        The write failed; the message names the target and says the old file is unchanged.

    Examples
    --------
    >>> import os, tempfile
    >>> target = os.path.join(tempfile.mkdtemp(), "note.txt")
    >>> atomic_write(target, "hello").read_text()
    'hello'
    >>> os.listdir(os.path.dirname(target))
    ['note.txt']
    """
    target = check_target(path)
    view = memoryview(data.encode("utf-8") if isinstance(data, str) else data).cast("B")
    existed = False
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        _remove_stale_temps(target)
        if target.exists():
            existed = True
            mode = stat.S_IMODE(target.stat().st_mode)
        else:
            umask = os.umask(0)
            os.umask(umask)
            mode = 0o666 & ~umask
        _replace(target, view, mode)
    except OSError as exc:
        kept = "the existing file is unchanged" if existed else "no file was written"
        message = f"could not write {os.fspath(path)}: {exc.strerror or exc}; {kept}"
        if exc.errno is None:
            raise OSError(message) from exc
        raise OSError(exc.errno, message) from exc  # OSError(errno, ...) picks the subclass
    return target
