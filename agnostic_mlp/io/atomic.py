"""Replacing a file atomically and durably: a crash leaves the old file or the new one.

Nothing here knows models; :mod:`agnostic_mlp.io.format` writes through it.
"""

from __future__ import annotations

import contextlib
import errno
import os
import secrets
import stat
from collections.abc import Iterator
from os import PathLike
from typing import Any

from ..constraints import short
from ..errors import InvalidArgumentError

__all__ = ["as_path", "atomic_write", "check_destination", "naming"]

# A file name's limit in bytes on the common file systems (NAME_MAX).
_NAME_MAX = 255


def check_destination(path: Any, name: str = "path") -> str:
    """``path`` as a str, if a file can be written there; checked before any work is done.

    It must name a regular file or nothing, in an existing folder where a new
    file can be created (tried, then removed).

    Raises
    ------
    InvalidArgumentError
        If ``path`` is not a non-empty str or ``os.PathLike[str]``, ends with a
        separator, or names a folder, FIFO, device or other special file.
    OSError
        If the folder does not exist or refuses a new file (``FileNotFoundError``,
        ``PermissionError``, ...).
    """
    path = as_path(path, name)
    if path.endswith((os.sep, os.altsep or os.sep)):
        raise InvalidArgumentError(f"{name}={path!r} names a folder, not a file")
    with naming(path, "checking"):
        target = os.path.realpath(path)
        _refuse_special(target, path, name)
        folder = os.path.dirname(target)
        if not os.path.isdir(folder):
            raise FileNotFoundError(
                errno.ENOENT, f"the folder of {name}={path!r} does not exist", path)
        fd, tmp = _create_temporary(folder, os.path.basename(target), path)
        os.close(fd)
        os.unlink(tmp)
    return path


def as_path(path: Any, name: str = "path") -> str:
    """``path`` as a str: a non-empty str or ``os.PathLike`` of str, with no NUL character."""
    text = os.fspath(path) if isinstance(path, PathLike) else path
    if not isinstance(text, str) or not text or "\0" in text:
        raise InvalidArgumentError(
            f"{name} must be a non-empty str or os.PathLike of str, without NUL characters, "
            f"got {short(path)}")
    return text


def _refuse_special(target: str, path: str, name: str) -> None:
    try:
        mode = os.stat(target).st_mode
    except FileNotFoundError:
        return
    if not stat.S_ISREG(mode):
        kind = "a folder" if stat.S_ISDIR(mode) else "not a regular file"
        raise InvalidArgumentError(f"{name}={path!r} is {kind}; a file would replace it")


def atomic_write(path: str | PathLike[str], data: bytes, name: str = "path") -> None:
    """Replace the file at ``path`` with ``data``, atomically and durably.

    The bytes go to a new temporary file beside the target, which is flushed,
    fsynced and renamed over the target with :func:`os.replace`; then the
    folder is fsynced so the rename itself survives a power cut. Readers see
    the complete old file or the complete new one, never a mix. If the write
    fails, the temporary file is removed and the old file is untouched; a
    process killed mid-write can leave a ``.NAME.*.tmp`` file beside the
    target, never a partial file at it. A symbolic link at ``path`` is
    followed: the file it points to is replaced. An existing file keeps its
    permission bits. Anything at ``path`` but a regular file is refused.

    Parameters
    ----------
    path : str or os.PathLike
        Where to write.
    data : bytes
        The complete new contents.
    name : str
        What the caller's user calls ``path`` (``"checkpoint"`` for fit's), as
        refusals name it.

    Raises
    ------
    InvalidArgumentError
        If ``path`` names a folder, FIFO, device or other special file.
    OSError
        If writing fails; the message names ``path``, never the temporary file.
    """
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise TypeError(f"data must be bytes, got {type(data).__name__}")
    shown = as_path(path, name)
    if shown.endswith((os.sep, os.altsep or os.sep)):
        raise InvalidArgumentError(f"{name}={shown!r} names a folder, not a file")
    with naming(shown, "writing"):
        target = os.path.realpath(shown)
        _refuse_special(target, str(shown), name)
        folder, name = os.path.split(target)
        try:
            mode: int | None = stat.S_IMODE(os.stat(target).st_mode)
        except FileNotFoundError:
            mode = None
        # Beside the target, because os.replace is atomic only within one file system.
        fd, tmp = _create_temporary(folder, name, shown)
        try:
            if mode is not None and hasattr(os, "fchmod"):
                os.fchmod(fd, mode)
            with os.fdopen(fd, "wb") as f:
                f.write(data)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, target)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise
        _fsync_folder(folder)


@contextlib.contextmanager
def naming(shown: str, doing: str) -> Iterator[None]:
    """Any OSError inside names ``shown``, the user's path, whatever failed.

    A full disk fails a write or an fsync with an OSError that names no file
    (ENOSPC, EFBIG, EDQUOT, EIO), as a failing disk fails a read; a rename names
    the temporary file; a stat names the resolved path. The user knows none of
    these as theirs. ``doing`` ("writing", "reading") goes in the message.
    """
    try:
        yield
    except OSError as exc:
        if exc.filename == shown and exc.filename2 is None:
            raise
        message = f"{exc.strerror or exc or type(exc).__name__} while {doing} {shown}"
        # OSError(errno, ...) is the errno's own class again (PermissionError, ...); an
        # OSError of a message alone stays one.
        raise (type(exc)(message) if exc.errno is None else
               OSError(exc.errno, message, shown)) from None


def _create_temporary(folder: str, name: str, shown: Any) -> tuple[int, str]:
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0)
    # ".NAME.xxxxxxxxxxxx.tmp" within the file system's limit on names.
    room = _NAME_MAX - len(".." + "x" * 12 + ".tmp")
    stem = os.fsencode(name)[:room].decode(errors="ignore") if len(os.fsencode(name)) > room \
        else name
    for _ in range(100):
        tmp = os.path.join(folder, f".{stem}.{secrets.token_hex(6)}.tmp")
        try:
            # Mode 0o666 lets the umask decide, as for any new file (mkstemp would force 0o600).
            return os.open(tmp, flags, 0o666), tmp
        except FileExistsError:
            continue
        except OSError as exc:
            raise type(exc)(exc.errno, f"cannot write beside {shown}: {exc.strerror}",
                            os.fspath(shown)) from None
    raise FileExistsError(f"could not create a temporary file beside {shown!r}")


def _fsync_folder(folder: str) -> None:
    try:
        fd = os.open(folder, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    except OSError:  # Windows cannot open a folder; its renames are durable as they are
        return
    try:
        os.fsync(fd)
    except OSError as exc:
        # Some file systems do not support fsync on a folder; real I/O errors still surface.
        if exc.errno not in (errno.EINVAL, errno.ENOTSUP, errno.EOPNOTSUPP, errno.EBADF):
            raise
    finally:
        os.close(fd)
