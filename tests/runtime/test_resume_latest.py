"""resume=latest picks the newest last.ckpt among the experiment's earlier run folders."""

import json
import os

import pytest

from litvision.errors import ConfigError
from litvision.runtime.run_dir import CLAIM_FILE, latest_last_checkpoint


def _run(runs, name, mtime, claimed=True):
    folder = runs / name
    (folder / "checkpoints").mkdir(parents=True)
    if claimed:
        (folder / CLAIM_FILE).write_text(json.dumps({"run_id": name}))
    last = folder / "checkpoints/last.ckpt"
    last.write_bytes(b"x")
    os.utime(last, ns=(mtime, mtime))
    return last


def test_the_newest_checkpoint_wins_and_this_run_and_foreign_folders_are_skipped(tmp_path):
    _run(tmp_path, "2026-01-01_00-00-00", 1_000)
    newest = _run(tmp_path, "2026-01-02_00-00-00", 3_000)
    _run(tmp_path, "not_a_run", 9_000, claimed=False)  # no run claim: not litvision's
    _run(tmp_path, "this_run", 10_000)
    assert latest_last_checkpoint(tmp_path / "this_run") == newest


def test_runs_without_last_ckpt_are_nothing_to_resume(tmp_path):
    (tmp_path / "old" / "checkpoints").mkdir(parents=True)
    (tmp_path / "old" / CLAIM_FILE).write_text("{}")
    with pytest.raises(ConfigError, match=f"found no run with checkpoints/last.ckpt in {tmp_path}"):
        latest_last_checkpoint(tmp_path / "new")
