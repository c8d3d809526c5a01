"""Raw files under resources/<dataset>/: downloaded once with short timeouts, checked, unpacked.

Nothing here retries. With no network a download fails in seconds, and the caller turns the
failure into one UserError that says which files to put where by hand.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tarfile
import tempfile
import urllib.error
import urllib.request
import zipfile
from pathlib import Path

from ..errors import UserError

# Seconds per blocking socket operation (connecting, each read), not for the whole file:
# a dead network fails fast, a slow but live one still finishes a large download.
SOCKET_TIMEOUT_S = 15
USER_AGENT = "prunebench-dataset-preparation"


class DownloadFailed(Exception):
    """The file could not be fetched; the message says why in a few words."""


def md5_of(path: Path) -> str:
    with open(path, "rb") as fh:
        return hashlib.file_digest(fh, "md5").hexdigest()


def default_resources_dir(dataset: str) -> Path:
    """resources/<dataset>, relative to the working directory (Snakemake's --directory)."""
    return Path("resources") / dataset


def download(url: str, dest: Path, *, md5: str | None = None,
             timeout: float = SOCKET_TIMEOUT_S) -> None:
    """Fetch `url` to `dest` through a temporary file, so a broken transfer leaves no `dest`."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{dest.name}.", suffix=".part", dir=dest.parent)
    os.close(fd)
    try:
        request = urllib.request.Request(url, headers={"User-Agent": USER_AGENT})
        with urllib.request.urlopen(request, timeout=timeout) as response, open(tmp, "wb") as fh:
            shutil.copyfileobj(response, fh, 1 << 20)
        if md5 is not None and md5_of(Path(tmp)) != md5:
            raise DownloadFailed(f"the downloaded file's md5 is not the published {md5}")
        os.replace(tmp, dest)
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", None) or exc
        raise DownloadFailed(f"{type(exc).__name__}: {reason}") from exc
    finally:
        Path(tmp).unlink(missing_ok=True)


def extract(archive: Path, into: Path) -> None:
    """Unpack a .tar.gz or .zip into `into`, refusing members that would land outside it."""
    into.mkdir(parents=True, exist_ok=True)
    try:
        if archive.suffix == ".zip":
            with zipfile.ZipFile(archive) as zf:
                root = into.resolve()
                for member in zf.namelist():
                    if not (root / member).resolve().is_relative_to(root):
                        raise UserError(f"{archive} holds a file outside its folder ({member}); "
                                        "it is not the official archive - delete it")
                zf.extractall(into)
        else:
            with tarfile.open(archive) as tf:
                tf.extractall(into, filter="data")
    except (tarfile.TarError, zipfile.BadZipFile, EOFError, OSError) as exc:
        raise UserError(f"{archive} cannot be unpacked ({exc}); it is damaged or incomplete - "
                        "delete it and run again to download it anew") from exc


def fetch_archive(*, url: str, archive: Path, md5: str | None, download_allowed: bool,
                  manual_hint: str) -> None:
    """Make sure `archive` exists (and matches `md5`), downloading it when allowed.

    `manual_hint` finishes the error message: which files a user can put where instead.
    """
    if archive.exists():
        if md5 is not None and md5_of(archive) != md5:
            raise UserError(f"{archive} does not match the published md5 {md5} (damaged or "
                            f"incomplete); delete it and run again, or {manual_hint}")
        return
    if not download_allowed:
        raise UserError(f"{archive.parent.resolve()} lacks the dataset and the option "
                        f"download is false: download {url} and put {archive.name} in "
                        f"{archive.parent.resolve()}/, or {manual_hint}")
    try:
        download(url, archive, md5=md5)
    except DownloadFailed as exc:
        raise UserError(f"cannot download {url} ({exc}); with no network, download it "
                        f"elsewhere and put {archive.name} in {archive.parent.resolve()}/, "
                        f"or {manual_hint}") from exc
