"""Atomic, concurrent-safe data preparation: the one way litvision creates a data folder, whether it is
downloaded, extracted from an archive (fetched or put there by hand) or generated.

API (what a data set calls, typically from its DataModule's `prepare_data` when `download` is true):

    prepare_dir(target, build, what="my data set", top=None, settings=None) -> Path
        Make `target` a complete data folder. Returns at once when it carries the completion marker.
        `settings` (a generator's arguments, JSON-able) are recorded in the marker; a folder prepared with
        other settings is a DataError naming each that differs (never silently the other data).
        Otherwise, holding a file lock beside it (`.<name>.lock`: a second process waits, then finds the
        finished data), `build(work)` writes the data into `work`, a fresh folder of a unique name beside
        `target` (`.<name>.<random>.partial`); `top` names a folder inside `work` to publish instead of
        `work` itself. The marker (MARKER, a small JSON file) is written last and one rename publishes
        the folder as `target`. An exception or a kill leaves `target` as it was; the work folder is
        removed then, or by the next preparation of `target`.
    prepare_archive(archive, target, url=None, sha1=None, md5=None, top=None, what=..., check=None) -> Path
        `prepare_dir` for data published as an archive: the archive is downloaded from `url` when it is
        missing (or must be there, put by hand, when `url` is None), its checksum verified, every
        member checked (litvision.data.core.archive), and its folder `top` published as `target`.
        `check(folder)` may raise a DataError when the content is not what was expected.
    is_prepared(folder) -> bool          the folder carries the marker
    data_lock(path)                      the lock prepare_dir holds for `path` (a context manager)

For example, a new data set's DataModule (with `download=false`, `root` is read as it is):

    def prepare_data(self):
        if self.download and not is_prepared(self.root):
            prepare_archive(self.root.parent / "set.zip", self.root, url=URL, sha1=SHA1, top="set")

and its offline generator:

    def generate_set(root, n=100):
        return prepare_dir(root, lambda work: write_images(work, n), what="generated set")

A data folder without the marker is never taken as prepared: `prepare_dir` refuses a non-empty one with
an error that names it and says what to do (delete it; or, for a complete copy of one's own, read it
with data.download=false), and builds into an empty one. A file where the folder should be, and a
folder that cannot be written, are one DataError before any work starts. Generators call
`prepare_dir` themselves (e.g. litvision.data.synth.bananas.generate_bananas), so data written from
the command line is atomic too.

Guarantees hold against killed processes and concurrent runs on one machine (or a file system with
working POSIX locks); data written just before a power failure may still be lost by the file system.
"""

from __future__ import annotations

import inspect
import json
import logging
import os
import shutil
import socket
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from filelock import FileLock, Timeout

from litvision.data.core.archive import extract_archive
from litvision.data.core.download import download_file, verify_placed_archive
from litvision.errors import DataError
from litvision.utils import written_elsewhere

log = logging.getLogger(__name__)

MARKER = ".litvision_complete"
WORK_SUFFIX = ".partial"
OWN_COPY_HINT = "; or, if it is a complete copy of your own, read it as it is with data.download=false"


def generator_settings(generator: Callable, **kwargs: Any) -> dict:
    """Every argument `generator(folder, **kwargs)` runs with, defaults included (what keys its folder)."""
    bound = inspect.signature(generator).bind(None, **kwargs)
    bound.apply_defaults()
    return dict(list(bound.arguments.items())[1:])


def is_prepared(folder: str | Path) -> bool:
    return (Path(folder) / MARKER).is_file()


def _lock_path(path: Path) -> Path:
    return path.parent / f".{path.name}.lock"


def _unwritable(folder: Path, err: OSError, what: str) -> DataError:
    return DataError(
        f"cannot write into {folder} ({err.strerror or err}) to prepare {what}: make it writable, or set "
        "paths.data_dir (or data.root) to a writable folder."
    )


def _ensure_parent(target: Path, what: str) -> list[Path]:
    """The folder that will hold `target` exists and nothing in the way is a file. Returns the folders
    it created (removed again if the preparation fails, so a failed first run leaves nothing behind)."""
    missing = []
    for ancestor in (target, *target.parents):
        if ancestor.exists() or ancestor.is_symlink():
            if not ancestor.is_dir():
                where = "there" if ancestor == target else f"at {target}"
                raise DataError(
                    f"{ancestor} is a file, but {what} needs a folder {where}: move the file away, or point "
                    "data.root (or paths.data_dir) at a folder."
                )
            break
        missing.append(ancestor)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise _unwritable(target.parent, err, what) from err
    return [folder for folder in missing if folder != target]


def _remove_created(folders: list[Path], lock: Path) -> None:
    if folders:  # nobody else knew these folders before this call
        lock.unlink(missing_ok=True)
        for folder in folders:  # deepest first
            try:
                folder.rmdir()
            except OSError:
                break


@contextmanager
def data_lock(path: str | Path, what: str = "data") -> Iterator[None]:
    """Hold the preparation lock of `path` (a file lock beside it); logs when it has to wait."""
    path = Path(path)
    lock = FileLock(_lock_path(path))
    try:
        try:
            lock.acquire(timeout=0)
        except Timeout:
            log.info("waiting for another process that is preparing %s (lock %s)", path, _lock_path(path))
            lock.acquire()
    except OSError as err:
        raise _unwritable(path.parent, err, what) from err
    try:
        yield
    finally:
        lock.release()


def _remove_left_overs(target: Path) -> None:
    """Work folders of killed preparations of `target` (only the lock holder creates them)."""
    for stale in target.parent.glob(f".{target.name}.*{WORK_SUFFIX}"):
        log.info("removing %s, left by an interrupted preparation", stale)
        shutil.rmtree(stale, ignore_errors=True)


def _refuse_unmarked(target: Path, what: str, hint: str) -> None:
    if target.is_dir() and any(target.iterdir()):
        raise DataError(
            f"{target} was not completely prepared ({what}): it lacks the completion marker {MARKER} (an "
            f"interrupted preparation, one by an older litvision, or files put there by hand). Delete {target} "
            f"to prepare it again{hint}."
        )


def _plain(settings: Mapping[str, Any]) -> dict:
    """`settings` as the marker's JSON stores them (tuples as lists, paths as strings)."""
    return json.loads(json.dumps(dict(settings), default=str))


def _check_settings(target: Path, what: str, settings: Mapping[str, Any] | None) -> None:
    """A prepared `target` holds what `settings` would write, or a DataError names what differs."""
    if settings is None:
        return
    try:
        recorded = json.loads((target / MARKER).read_text()).get("settings")
    except (OSError, ValueError, AttributeError):
        recorded = None
    if recorded is None:  # an older litvision's marker: the settings it used are unknown
        log.warning(
            "%s was prepared without a record of its settings; using it as it is (delete it to regenerate)", target
        )
        return
    wanted = _plain(settings)
    differs = [
        f"{key}={json.dumps(recorded.get(key))} (this run: {json.dumps(value)})"
        for key, value in wanted.items()
        if recorded.get(key) != value
    ]
    if differs:
        raise DataError(
            f"{target} holds {what} generated with other settings: {', '.join(differs)}. Delete {target} to "
            "generate it again with this run's settings, or set paths.data_dir (or data.root) to another folder."
        )


def _write_marker(folder: Path, what: str, settings: Mapping[str, Any] | None = None) -> None:
    record = {"what": what, "finished": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "host": socket.gethostname()}
    if settings is not None:
        record["settings"] = _plain(settings)
    with open(folder / MARKER, "w") as f:
        json.dump(record, f)
        f.flush()
        os.fsync(f.fileno())


def _build_and_publish(
    target: Path, build: Callable[[Path], object], what: str, top: str | None, settings: Mapping[str, Any] | None
) -> None:
    try:
        work = Path(tempfile.mkdtemp(prefix=f".{target.name}.", suffix=WORK_SUFFIX, dir=target.parent))
    except OSError as err:
        raise _unwritable(target.parent, err, what) from err
    try:
        build(work)
        result = work / top if top else work
        if not result.is_dir():
            raise DataError(f"preparing {what} for {target} produced no folder {top!r}")
        _write_marker(result, what, settings)
        os.rename(result, target)  # target is absent or an empty folder: replaced in one step
    finally:
        shutil.rmtree(work, ignore_errors=True)


def prepare_dir(
    target: str | Path,
    build: Callable[[Path], object],
    what: str = "data set",
    top: str | None = None,
    hint: str = OWN_COPY_HINT,
    settings: Mapping[str, Any] | None = None,
) -> Path:
    """See the module docstring. Returns `target`."""
    target = Path(target)
    if target.is_symlink() and target.is_dir():
        target = target.resolve()  # publish into the folder the link points to, keep the link
    if is_prepared(target):
        _check_settings(target, what, settings)
        return target
    created = _ensure_parent(target, what)
    try:
        with data_lock(target, what):
            if is_prepared(target):  # another process finished it while we waited
                _check_settings(target, what, settings)
                return target
            _refuse_unmarked(target, what, hint)
            _remove_left_overs(target)
            _build_and_publish(target, build, what, top, settings)
    except BaseException:
        _remove_created(created, _lock_path(target))
        raise
    log.info("prepared %s in %s", what, target)
    written_elsewhere.record(target, what)
    return target


def prepare_archive(
    archive: str | Path,
    target: str | Path,
    url: str | None = None,
    sha1: str | None = None,
    md5: str | None = None,
    top: str | None = None,
    what: str | None = None,
    check: Callable[[Path], None] | None = None,
) -> Path:
    """See the module docstring. The archive is kept (a later preparation needs no download)."""
    archive = Path(archive)
    what = what or f"data of {archive.name}"

    def build(work: Path) -> None:
        for stale in archive.parent.glob(f".{archive.name}.*.part"):  # downloads of killed runs
            stale.unlink(missing_ok=True)
        if url is not None:
            download_file(url, archive, sha1=sha1, md5=md5)
        elif not archive.is_file():
            raise DataError(f"{archive} does not exist: put the archive there, or set data.download=true.")
        else:  # put there by hand (data.download=false): verified, but never deleted
            verify_placed_archive(archive, sha1, md5)
        extract_archive(archive, work)
        if check is not None:
            check(work / top if top else work)
        if top and not (work / top).is_dir():
            raise DataError(f"{archive} holds no {top}/ folder: it is not the expected archive. Delete it.")

    return prepare_dir(target, build, what=what, top=top)
