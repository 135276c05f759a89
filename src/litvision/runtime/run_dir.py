"""Run folders: each run claims its folder before anything is written into it, and a folder that holds an
earlier run is refused, so a refused run leaves every file of the earlier one byte-identical.

The claim is a small JSON file, CLAIM_FILE, created exclusively in the folder (complete or absent, never
half-written) with the run's id, when and where it started. The id identifies the run across processes
and restarts: a process whose id (LITVISION_RUN_ID) is the claim's joins the folder instead of being
refused. DDP's extra processes inherit it from the launching one; a run restarted into its own folder
(a pre-empted job) is recognised as the same run by passing its id again.

`ClaimRunDir` is the Hydra callback that claims `hydra.run.dir` (and a sweep's `hydra.sweep.dir`) in
`on_run_start` / `on_multirun_start`, which Hydra calls before its run_job creates the folder, opens the
job log and writes `.hydra/`; `litvision.runtime.run` claims `paths.output_dir` again (accepted: the same id) so
that runs built without the CLI are protected too.
"""

from __future__ import annotations

import json
import os
import socket
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

from hydra.experimental.callback import Callback
from hydra.types import RunMode
from omegaconf import DictConfig

from litvision.errors import ConfigError, LitvisionError
from litvision.runtime.console import report_error

CLAIM_FILE = ".litvision_run"
RUN_ID_ENV = "LITVISION_RUN_ID"
RANK_VARIABLES = ("LOCAL_RANK", "NODE_RANK", "GROUP_RANK", "SLURM_PROCID")


def is_launching_process() -> bool:
    """False in the extra processes of DDP (and on other nodes), which join the launching process's folder."""
    return all(int(os.environ.get(k, "0")) == 0 for k in RANK_VARIABLES)


def read_claim(folder: str | Path) -> dict | None:
    """The claim of `folder` (run_id, started, host, pid, argv, slurm_job_id), or None when unclaimed."""
    try:
        return json.loads((Path(folder) / CLAIM_FILE).read_text())
    except FileNotFoundError:
        return None
    except (OSError, ValueError):
        return {"run_id": None}  # unreadable: claimed by something, not by us


def _create_claim(folder: Path, run_id: str) -> bool:
    """Write the claim file exclusively (a complete temporary file hard-linked into place). False when the
    folder already has one."""
    record = {
        "run_id": run_id,
        "started": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "host": socket.gethostname(),
        "pid": os.getpid(),
        "argv": sys.argv,
        "slurm_job_id": os.environ.get("SLURM_JOB_ID"),
    }
    fd, tmp = tempfile.mkstemp(prefix=f"{CLAIM_FILE}.", dir=folder)
    try:
        with os.fdopen(fd, "w") as f:
            json.dump(record, f)
        os.link(tmp, folder / CLAIM_FILE)
        return True
    except FileExistsError:
        return False
    finally:
        os.unlink(tmp)


def _refusal(folder: Path, why: str, key: str) -> ConfigError:
    return ConfigError(
        f"output folder {folder} {why} and is never reused. Leave {key} at its default (a fresh "
        "timestamped folder) or name a new one."
    )


def claim_run_dir(
    folder: str | Path, run_id: str | None = None, require_empty: bool = False, key: str = "hydra.run.dir"
) -> str:
    """Claim `folder` for the run `run_id` (a new id when None) and return the id. Accepted when the folder
    is new, empty, or (require_empty false) unclaimed, or already claimed with this id; refused
    (ConfigError naming the setting `key` that chose the folder, nothing written) when another run claimed it
    or it cannot be written."""
    folder = Path(folder)
    run_id = run_id or uuid.uuid4().hex
    try:
        folder.mkdir(parents=True, exist_ok=True)
        claim = read_claim(folder)
        if claim is None:
            if require_empty and any(folder.iterdir()):
                raise _refusal(folder, "already holds files but no litvision run", key)
            if _create_claim(folder, run_id):
                return run_id
            claim = read_claim(folder)  # another process claimed it just now
    except OSError as err:
        raise ConfigError(
            f"cannot create or write the run folder {folder} ({err.strerror or err}): set paths.log_dir (or "
            f"{key}) to a writable folder."
        ) from err
    if claim and claim.get("run_id") == run_id:
        return run_id
    started = f" (started {claim['started']} on {claim.get('host')})" if claim and claim.get("started") else ""
    raise _refusal(folder, f"already holds an earlier run{started}", key)


def _user_error(err: BaseException) -> LitvisionError | None:
    """The LitvisionError behind `err` (OmegaConf wraps errors raised while resolving interpolations)."""
    while err is not None and not isinstance(err, LitvisionError):
        err = err.__cause__ or err.__context__
    return err


class ClaimRunDir(Callback):
    """Hydra callback: claim the run (or sweep) folder before Hydra writes anything into it."""

    def _claim(self, config: DictConfig, key: str, run_id: str) -> None:
        if not is_launching_process():
            return
        try:
            folder = Path(str(config.hydra[key].dir)).absolute()
            claim_run_dir(folder, run_id, require_empty=True, key=f"hydra.{key}.dir")
        except Exception as err:
            user = _user_error(err)
            if user is None:
                raise
            report_error(user, to_log_file=False)  # before Hydra opens the log: stderr only
            raise SystemExit(1) from None
        os.environ[RUN_ID_ENV] = run_id

    def on_run_start(self, config: DictConfig, **kwargs: Any) -> None:
        self._claim(config, "run", os.environ.get(RUN_ID_ENV) or uuid.uuid4().hex)

    def on_run_end(self, config: DictConfig, **kwargs: Any) -> None:
        os.environ.pop(RUN_ID_ENV, None)

    def on_multirun_start(self, config: DictConfig, **kwargs: Any) -> None:
        self._sweep_id = os.environ.get(RUN_ID_ENV) or uuid.uuid4().hex
        self._claim(config, "sweep", self._sweep_id)

    def on_job_start(self, config: DictConfig, **kwargs: Any) -> None:
        if config.hydra.mode == RunMode.MULTIRUN:  # each job's own id, derived from the sweep's
            os.environ[RUN_ID_ENV] = f"{getattr(self, '_sweep_id', uuid.uuid4().hex)}-{config.hydra.job.num}"

    def on_multirun_end(self, config: DictConfig, **kwargs: Any) -> None:
        os.environ.pop(RUN_ID_ENV, None)


def claim_output_dir(output_dir: str | Path) -> Path:
    """Claim `output_dir` for this run: a folder that holds an earlier run is refused, so no run writes
    checkpoints or logs into another's folder. DDP's extra processes join it."""
    output_dir = Path(output_dir)
    if is_launching_process():
        claim_run_dir(output_dir, os.environ.get(RUN_ID_ENV))
    else:
        output_dir.mkdir(parents=True, exist_ok=True)
    return output_dir


RESUME_CHOICES = ("latest",)


def latest_last_checkpoint(output_dir: str | Path) -> Path:
    """`resume=latest`: the last.ckpt of the newest earlier run beside `output_dir` (its experiment's runs/
    folder: outputs/<task_name>/runs/). Newest by the checkpoint's time, so a run that was itself resumed
    (a folder of its own) is the one continued next. None found: one ConfigError saying where it looked."""
    output_dir = Path(output_dir).absolute()
    runs = output_dir.parent
    found = [
        p
        for p in runs.glob("*/checkpoints/last.ckpt")
        if p.parent.parent != output_dir and read_claim(p.parent.parent) is not None
    ]
    if not found:
        raise ConfigError(
            f"resume=latest found no run with checkpoints/last.ckpt in {runs}: train without resume first, "
            "or name a checkpoint with ckpt_path=<file.ckpt>"
        )
    return max(found, key=lambda p: (p.stat().st_mtime_ns, str(p)))
