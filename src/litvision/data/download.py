"""Download with SHA-1 verification and safe archive extraction.

Hand-written rather than torchvision.datasets.utils: d2l publishes SHA-1 checksums (torchvision checks MD5),
and torchvision/zipfile silently rewrite archive members that would escape the target folder, where we
want to refuse the archive outright.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tarfile
import urllib.request
import zipfile
from pathlib import Path

from litvision.errors import ChecksumError, DataError, UnsafeArchiveError

CHUNK = 1 << 20


def sha1sum(path: str | Path) -> str:
    digest = hashlib.sha1()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(CHUNK), b""):
            digest.update(block)
    return digest.hexdigest()


def verify_sha1(path: str | Path, sha1: str | None) -> None:
    """Raise ChecksumError (and delete the file) when `path` does not hash to `sha1`."""
    if sha1 is None:
        return
    actual = sha1sum(path)
    if actual != sha1.lower():
        Path(path).unlink(missing_ok=True)
        raise ChecksumError(
            f"{path}: SHA-1 is {actual}, expected {sha1}. The file was removed; nothing was extracted. "
            "Download it again (a partial or tampered download) or check the URL."
        )


def download_file(url: str, dest: str | Path, sha1: str | None = None) -> Path:
    """Fetch `url` to `dest` (skipped if `dest` exists and verifies). Writes to `dest.part` first so an
    interrupted download never looks complete. Works for http(s):// and file:// URLs."""
    dest = Path(dest)
    if dest.exists():
        verify_sha1(dest, sha1)
        return dest
    dest.parent.mkdir(parents=True, exist_ok=True)
    part = dest.with_name(dest.name + ".part")
    try:
        with urllib.request.urlopen(url, timeout=60) as response, open(part, "wb") as out:
            shutil.copyfileobj(response, out, CHUNK)
    except OSError as err:  # URLError is an OSError
        part.unlink(missing_ok=True)
        raise DataError(
            f"Could not download {url} to {dest}: {err}. Without network access, download it elsewhere and "
            f"put it at {dest}: it is verified{' (SHA-1)' if sha1 else ''} and extracted on the next run, with "
            "data.download=false as well; or extract it yourself and point data.root at the extracted copy "
            "with data.download=false."
        ) from err
    os.replace(part, dest)
    verify_sha1(dest, sha1)
    return dest


def _check_member(target: Path, name: str, archive: Path) -> None:
    resolved = (target / name).resolve()
    if resolved != target and target not in resolved.parents:
        raise UnsafeArchiveError(
            f"{archive}: member {name!r} would be written outside {target}. Nothing was extracted; "
            "the archive is not trustworthy — delete it and download it again from the official source."
        )


def extract_archive(archive: str | Path, target: str | Path) -> Path:
    """Extract a .zip or .tar(.gz) into `target` after checking that every member stays inside it
    (no absolute paths, no `..`, no links pointing out). Returns `target`."""
    archive, target = Path(archive), Path(target)
    target.mkdir(parents=True, exist_ok=True)
    target = target.resolve()
    if zipfile.is_zipfile(archive):
        with zipfile.ZipFile(archive) as zf:
            for name in zf.namelist():
                _check_member(target, name, archive)
            zf.extractall(target)
    elif tarfile.is_tarfile(archive):
        with tarfile.open(archive) as tf:
            members = tf.getmembers()
            for m in members:
                _check_member(target, m.name, archive)
                if m.issym() or m.islnk():
                    _check_member(target, str(Path(m.name).parent / m.linkname), archive)
            tf.extractall(target, members=members, filter="data")
    else:
        raise DataError(f"{archive}: not a zip or tar archive. Delete it and download it again.")
    return target


def download_and_extract(url: str, sha1: str | None, download_dir: str | Path, target: str | Path) -> Path:
    """Download the archive at `url` into `download_dir` (verified) and extract it into `target`."""
    archive = download_file(url, Path(download_dir) / url.rsplit("/", 1)[-1], sha1)
    return extract_archive(archive, target)


def extract_placed_archive(archive: str | Path, sha1: str | None, target: str | Path) -> Path:
    """An archive the user put in place by hand (data.download=false): check its SHA-1 and extract it into
    `target`. A mismatch extracts nothing and, unlike a download, leaves the file where it is: it is the
    user's."""
    archive = Path(archive)
    if sha1 is not None and (actual := sha1sum(archive)) != sha1.lower():
        raise ChecksumError(
            f"{archive}: SHA-1 is {actual}, expected {sha1}: it is not the official {archive.name} (a partial or "
            "altered copy). Nothing was extracted and the file was left as it is: replace it with a complete copy."
        )
    return extract_archive(archive, target)
