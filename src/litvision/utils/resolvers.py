"""OmegaConf resolvers used by conf/. Registered on import of litvision.cli."""

from __future__ import annotations

import os

from omegaconf import OmegaConf

from litvision.errors import ConfigError

_RESERVED: dict[str, str] = {}


def fresh_dir(path: str) -> str:
    """`path`, or `path_2`, `path_3`, ... if it exists: the folder is created here (atomically, so two
    runs started in the same second cannot both take it) and remembered, because Hydra resolves the
    run directory several times per process."""
    if path in _RESERVED:
        return _RESERVED[path]
    candidate, n = path, 1
    while True:
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
    _RESERVED[path] = candidate
    return candidate


def register_resolvers() -> None:
    if not OmegaConf.has_resolver("fresh_dir"):
        # cached in the config, which travels with a submitit job: the job resolves the sweep folder its
        # launcher made instead of reserving a new one
        OmegaConf.register_new_resolver("fresh_dir", fresh_dir, use_cache=True)
