"""Downloads with checksum verification (SHA-1 as d2l publishes, or MD5 as CIFAR-10 does).

Hand-written rather than torchvision.datasets.utils: d2l publishes SHA-1 (torchvision checks MD5),
a download must never appear under its final name unverified, and two processes downloading the same
file at once must not write into one temporary file. Data folders are made from downloads by
litvision.data.core.prepare (prepare_archive); extraction is litvision.data.core.archive.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
import urllib.request
from pathlib import Path

from litvision.data.core.archive import extract_archive
from litvision.errors import ChecksumError, DataError

__all__ = [
    "download_file",
    "extract_archive",
    "file_digest",
    "sha1sum",
    "verify_checksum",
    "verify_placed_archive",
    "verify_sha1",
]

CHUNK = 1 << 20


def file_digest(path: str | Path, algorithm: str) -> str:
    digest = hashlib.new(algorithm)
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(CHUNK), b""):
            digest.update(block)
    return digest.hexdigest()


def sha1sum(path: str | Path) -> str:
    return file_digest(path, "sha1")


def verify_checksum(
    path: str | Path, sha1: str | None = None, md5: str | None = None, shown: Path | None = None
) -> None:
    """Raise ChecksumError (and delete the file) when `path` does not hash to `sha1` / `md5` (each
    checked when given). `shown` is the name the error uses (the final name of a temporary download)."""
    for algorithm, expected in (("sha1", sha1), ("md5", md5)):
        if expected is None:
            continue
        actual = file_digest(path, algorithm)
        if actual != expected.lower():
            Path(path).unlink(missing_ok=True)
            raise ChecksumError(
                f"{shown or path}: {algorithm.upper().replace('SHA1', 'SHA-1')} is {actual}, expected {expected}. "
                "The file was removed; nothing was extracted. Download it again (a partial or tampered download) "
                "or check the URL."
            )


def verify_sha1(path: str | Path, sha1: str | None) -> None:
    verify_checksum(path, sha1=sha1)


def verify_placed_archive(archive: str | Path, sha1: str | None = None, md5: str | None = None) -> None:
    """An archive the user put in place by hand (data.download=false): a checksum mismatch raises
    ChecksumError and, unlike a download, leaves the file where it is: it is the user's."""
    for algorithm, expected in (("sha1", sha1), ("md5", md5)):
        if expected is not None and (actual := file_digest(archive, algorithm)) != expected.lower():
            name = algorithm.upper().replace("SHA1", "SHA-1")
            raise ChecksumError(
                f"{archive}: {name} is {actual}, expected {expected}: it is not the official {Path(archive).name} "
                "(a partial or altered copy). Nothing was extracted and the file was left as it is: replace it "
                "with a complete copy."
            )


def download_file(url: str, dest: str | Path, sha1: str | None = None, md5: str | None = None) -> Path:
    """Fetch `url` to `dest` (skipped when `dest` exists and verifies). The bytes go to a temporary file
    of a unique name beside `dest`, are verified there and then renamed to `dest`, so a killed or
    corrupt download never appears under the final name and concurrent downloads do not collide.
    Works for http(s):// and file:// URLs."""
    dest = Path(dest)
    if dest.exists():
        verify_checksum(dest, sha1, md5)
        return dest
    try:
        dest.parent.mkdir(parents=True, exist_ok=True)
        fd, part = tempfile.mkstemp(prefix=f".{dest.name}.", suffix=".part", dir=dest.parent)
    except OSError as err:
        raise DataError(
            f"cannot write the download {dest} ({err.strerror or err}): make {dest.parent} writable, or set "
            "paths.data_dir to a writable folder."
        ) from err
    try:
        with os.fdopen(fd, "wb") as out, urllib.request.urlopen(url, timeout=60) as response:
            shutil.copyfileobj(response, out, CHUNK)
        verify_checksum(part, sha1, md5, shown=dest)
        os.replace(part, dest)
    except OSError as err:  # URLError is an OSError
        raise DataError(
            f"Could not download {url} to {dest}: {err}. Without network access, download it elsewhere and "
            f"put it at {dest}: it is verified{' (SHA-1)' if sha1 else ' (MD5)' if md5 else ''} and extracted on "
            "the next run, with data.download=false as well; or extract it yourself and point data.root at the "
            "extracted copy with data.download=false."
        ) from err
    finally:
        Path(part).unlink(missing_ok=True)
    return dest
