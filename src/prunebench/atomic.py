"""Result files: atomic writes (no half-written file is ever seen), and array reads that
fail with one line naming the file and the rule that rebuilds it."""

from __future__ import annotations

import contextlib
import errno
import json
import os
import tempfile
from collections.abc import Callable
from pathlib import Path

import numpy as np

from .errors import UserError

_SPACE = "free space on that disk, or run the workflow in a folder with room"
_ACCESS = "fix the permissions of that folder, or run the workflow in a folder you own"
# the fix for each way a write can fail that the user, not the code, has to mend
WRITE_FIXES = {
    errno.ENOSPC: _SPACE,
    errno.EDQUOT: "your disk quota is used up: " + _SPACE,
    errno.EFBIG: "the file is larger than this file system allows: " + _SPACE,
    errno.EACCES: _ACCESS,
    errno.EPERM: _ACCESS,
    errno.EROFS: "the file system is read-only: run the workflow in a writable folder",
}


def write_error(path: str | Path, exc: OSError) -> UserError:
    """One line naming the file, what went wrong and how to fix it."""
    fix = WRITE_FIXES.get(exc.errno, "check free space and the folder's permissions")
    return UserError(f"cannot write {path}: {exc.strerror or exc}; {fix}")


def _default_mode() -> int:
    """The mode a plain open() would give a new file: 0666 less the umask (mkstemp uses 0600,
    which would hide results from the rest of a group sharing a project folder)."""
    umask = os.umask(0)
    os.umask(umask)
    return 0o666 & ~umask


def write_atomically(path: str | Path, write: Callable[[str], None]) -> None:
    """`write(tmp)` fills a temporary file next to `path`, which then replaces `path` in one
    rename. On any failure the temporary file is removed and `path` is left as it was; an
    OSError (disk full, no permission, read-only) becomes a UserError naming `path`."""
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
        os.close(fd)
    except OSError as exc:
        raise write_error(path, exc) from exc
    try:
        write(tmp)
        os.chmod(tmp, _default_mode())
        os.replace(tmp, path)
    except BaseException as exc:
        with contextlib.suppress(OSError):
            Path(tmp).unlink(missing_ok=True)
        if isinstance(exc, OSError):
            raise write_error(path, exc) from exc
        raise


def write_text(path: str | Path, text: str) -> None:
    def write(tmp: str) -> None:
        with open(tmp, "w") as fh:
            fh.write(text)

    write_atomically(path, write)


def write_json(path: str | Path, obj) -> None:
    write_text(path, json.dumps(obj, indent=2, sort_keys=True) + "\n")


class _ChunkWriter:
    """Only `write`: np.save then streams the array through Python's file write (16 MiB at a
    time), whose OSError keeps its errno. Given a real file it calls ndarray.tofile, which
    reports a full disk as a bare 'N requested and M written'."""

    def __init__(self, fh):
        self.write = fh.write


def save_npy(path: str | Path, array: np.ndarray) -> None:
    def write(tmp: str) -> None:
        with open(tmp, "wb") as fh:
            np.save(_ChunkWriter(fh), array)

    write_atomically(path, write)


def save_npz(path: str | Path, **arrays: np.ndarray) -> None:
    def write(tmp: str) -> None:
        with open(tmp, "wb") as fh:
            np.savez(fh, **arrays)

    write_atomically(path, write)


def read_npy(path: str | Path, *, what: str, rule: str) -> np.ndarray:
    """np.load without pickles; an unreadable file is a UserError naming `rule`."""
    try:
        return np.load(path, allow_pickle=False)
    except (OSError, ValueError, EOFError) as exc:
        raise UserError(f"{what} {path} cannot be read ({exc}); rebuild it with "
                        f"snakemake --forcerun {rule} {path}") from exc
