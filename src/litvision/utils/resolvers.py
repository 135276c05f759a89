"""OmegaConf resolvers used by conf/. Registered on import of litvision.cli."""

from __future__ import annotations

import atexit
import os
from pathlib import Path
from typing import Any

from omegaconf import OmegaConf

from litvision.errors import ConfigError, DataError

_RESERVED: dict[str, str] = {}
_CREATED: list[Path] = []  # folders fresh_dir made, parents first


def fresh_dir(path: str) -> str:
    """`path`, or `path_2`, `path_3`, ... if it exists: the folder is created here (atomically, so two
    runs started in the same second cannot both take it) and remembered, because Hydra resolves the
    run directory several times per process. OmegaConf also resolves an overridden value while merging
    configs (eval's and debug's run folders replace the default one), so the folders made for nothing
    are removed again at exit if they stayed empty (and `--cfg job` leaves no folder either)."""
    if path in _RESERVED:
        return _RESERVED[path]
    candidate, n = path, 1
    while True:
        new = [p for p in (Path(candidate), *Path(candidate).parents) if not p.exists()]
        try:
            os.makedirs(candidate)
            break
        except FileExistsError:
            n += 1
            candidate = f"{path}_{n}"
        except OSError as err:  # unwritable, or a file where a folder should be
            raise ConfigError(
                f"cannot create the run folder {candidate} ({err.strerror or err}): set paths.log_dir to a "
                "writable folder."
            ) from err
    if not _CREATED:
        atexit.register(_remove_unused)
    _CREATED.extend(reversed(new))
    _RESERVED[path] = candidate
    return candidate


def _remove_unused() -> None:
    for folder in reversed(_CREATED):  # children before parents; rmdir only removes empty folders
        try:
            folder.rmdir()
        except OSError:
            pass


def run_group(task_name: str, *, _root_: Any) -> str:
    """The folder under outputs/ for a run: `task_name`, or `<task_name>_<name of data.root>` for one's own
    ImageFolder (`data=imagefolder`), so those runs never land among the experiment's own (the face
    runs of the default experiment). A `task_name=` on the command line is taken as it is."""
    try:
        hydra_node = _root_.hydra
        chosen = hydra_node.runtime.choices.get("data")
        asked = any(o.lstrip("+").startswith("task_name=") for o in hydra_node.overrides.task)
        root = _root_.data.root if chosen == "imagefolder" and not asked else None
    except Exception:  # no Hydra context (compose API), or data.root unset: the check reports that later
        return task_name
    return f"{task_name}_{Path(str(root)).expanduser().resolve().name}" if root else task_name


def class_folders(root: str, split: str = "train") -> int:
    """The number of class folders in `root/split` (ImageFolder's classes): `data.num_classes`'s default
    for one's own ImageFolder."""
    folder = Path(root).expanduser() / split
    if not folder.is_dir():
        raise DataError(
            f"{folder} does not exist, so data.num_classes cannot be counted from its class folders: point "
            "data.root at a folder with train/<class>/<image> and test/<class>/<image>"
        )
    classes = [d for d in folder.iterdir() if d.is_dir() and not d.name.startswith(".")]
    if not classes:
        raise DataError(f"{folder} holds no class folders: expected {folder}/<class>/<image>")
    return len(classes)


def workers(wanted: int) -> int:
    """DataLoader workers for a data config (`${workers:4}`): `wanted`, at most the CPU cores this process
    may use (more workers than cores only adds switching, and torch warns about it)."""
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        cores = os.cpu_count() or 1
    return max(0, min(int(wanted), cores))


def folder_name(path: str) -> str:
    """The last part of a path: a run's name (its timestamped folder) for trackers such as MLflow."""
    return Path(str(path)).name


def register_resolvers() -> None:
    # fresh_dir is cached in the config, which travels with a submitit job: the job resolves the sweep
    # folder its launcher made instead of reserving a new one
    for name, resolver, cache in (
        ("fresh_dir", fresh_dir, True),
        ("run_group", run_group, False),
        ("class_folders", class_folders, False),
        ("workers", workers, False),
        ("folder_name", folder_name, False),
    ):
        if not OmegaConf.has_resolver(name):
            OmegaConf.register_new_resolver(name, resolver, use_cache=cache)
