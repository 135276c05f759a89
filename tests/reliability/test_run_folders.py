"""Findings 6 and 8 (run side): a refused run leaves every file of the earlier run byte-identical, and
unwritable or misplaced log / run folders are one error line before any work starts."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest
from conftest import REPO, run_cli
from faults import run_unprivileged

from litvision.errors import ConfigError

TRAIN = str(REPO / "train.py")
CLAIM_FILE = ".litvision_run"  # litvision.runtime.run_dir.CLAIM_FILE, spelled out so these tests also run on older code


def _snapshot(folder: Path) -> dict[str, str]:
    return {
        str(p.relative_to(folder)): hashlib.sha1(p.read_bytes()).hexdigest() for p in folder.rglob("*") if p.is_file()
    }


def _earlier_run(folder: Path) -> dict[str, str]:
    """What a finished run leaves (claim, .hydra/, log, checkpoint), as an older litvision wrote it."""
    (folder / ".hydra").mkdir(parents=True)
    (folder / CLAIM_FILE).write_text("")  # older claims were empty files
    for name in ("config.yaml", "hydra.yaml", "overrides.yaml"):
        (folder / ".hydra" / name).write_text(f"{name}: earlier run\n")
    (folder / "cli.log").write_text("[earlier run] Final metrics ...\n")
    (folder / "checkpoints").mkdir()
    (folder / "checkpoints/last.ckpt").write_bytes(b"weights of the earlier run")
    return _snapshot(folder)


def _one_error_line(proc) -> str:
    assert proc.returncode == 1, proc.stdout[-2000:] + proc.stderr[-2000:]
    assert proc.stderr.startswith("error: ") and proc.stderr.count("\n") == 1, proc.stderr
    assert "Traceback" not in proc.stdout + proc.stderr
    return proc.stderr


def test_a_refused_run_leaves_the_earlier_run_byte_identical(tmp_path):
    # finding 6: the refusal came after Hydra had rewritten .hydra/*.yaml and appended to cli.log
    earlier = tmp_path / "earlier"
    before = _earlier_run(earlier)
    proc = run_cli([TRAIN, "experiment=fcn_voc_synth", "seed=7", f"hydra.run.dir={earlier}"], tmp_path, check=False)
    assert "already holds an earlier run" in _one_error_line(proc)
    assert _snapshot(earlier) == before


def test_a_refused_sweep_leaves_the_earlier_sweep_byte_identical(tmp_path):
    sweep = tmp_path / "sweep"
    _earlier_run(sweep / "0")
    (sweep / CLAIM_FILE).write_text(json.dumps({"run_id": "an earlier sweep"}))
    before = _snapshot(sweep)
    proc = run_cli([TRAIN, "-m", "seed=1,2", f"hydra.sweep.dir={sweep}"], tmp_path, check=False)
    line = _one_error_line(proc)
    assert "already holds an earlier run" in line and "Leave hydra.sweep.dir at its default" in line
    assert _snapshot(sweep) == before


def test_an_unclaimed_folder_with_files_is_not_written_into(tmp_path):
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "notes.txt").write_text("mine")
    proc = run_cli([TRAIN, f"hydra.run.dir={mine}"], tmp_path, check=False)
    assert "already holds files but no litvision run" in _one_error_line(proc)
    assert sorted(p.name for p in mine.iterdir()) == ["notes.txt"]


@pytest.mark.parametrize("where", ["log_dir", "run_dir", "log_dir_is_a_file"])
def test_unwritable_log_and_run_folders_are_one_line(tmp_path, where):
    # finding 8: a read-only paths.log_dir gave 102 lines of traceback, a read-only hydra.run.dir 32
    readonly = tmp_path / "readonly"
    readonly.mkdir(mode=0o555)
    (tmp_path / "afile").write_text("")
    override = {
        "log_dir": f"paths.log_dir={readonly}/outputs",
        "run_dir": f"hydra.run.dir={readonly}",
        "log_dir_is_a_file": f"paths.log_dir={tmp_path / 'afile'}",
    }[where]
    proc = run_unprivileged([TRAIN, override], cwd=tmp_path)
    line = _one_error_line(proc)
    assert "cannot create" in line and ("Permission denied" in line or "Not a directory" in line), line
    assert list(readonly.iterdir()) == []


def test_the_same_run_id_joins_its_folder_and_another_is_refused(tmp_path):
    # the contract DDP's extra processes, and later a restarted (pre-empted) run, rely on
    from litvision.runtime.run_dir import claim_run_dir, read_claim

    run_id = claim_run_dir(tmp_path / "run")
    assert read_claim(tmp_path / "run")["run_id"] == run_id
    assert claim_run_dir(tmp_path / "run", run_id) == run_id
    with pytest.raises(ConfigError, match="already holds an earlier run"):
        claim_run_dir(tmp_path / "run", "another run")
    assert json.loads((tmp_path / "run" / CLAIM_FILE).read_text())["run_id"] == run_id
