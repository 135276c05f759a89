"""Files a run writes outside its run folder are named in its summary: the data it prepared, the checkpoint
digits_classifier exports for the GANs, and a GAN's FID classifier, which is trained first when it is missing."""

from __future__ import annotations

import logging
import shutil
import subprocess
from pathlib import Path

import pytest
from conftest import FAST, compose_config

from litvision.runtime import fid_classifier, run
from litvision.utils import written_elsewhere

CLASSIFIER = ["experiment=digits_classifier", *FAST, "logger=none", "test=false", "trainer.max_epochs=1"]
CLASSIFIER += ["data.image_size=16", "data.batch_size=64", "callbacks.model_summary=null"]
SHORT = ["+trainer.limit_train_batches=2", "+trainer.limit_val_batches=1"]


def _summary(caplog) -> str:
    return next(r.getMessage() for r in caplog.records if r.getMessage().startswith("Run finished"))


def test_summary_names_the_exported_classifier_and_the_prepared_data(tmp_path, caplog):
    cfg = compose_config([*CLASSIFIER, *SHORT, f"paths.data_dir={tmp_path / 'data'}"], tmp_path / "runs/one")
    with caplog.at_level(logging.INFO):
        run.train(cfg)
    lines = _summary(caplog).splitlines()
    outside = lines[lines.index("  written outside the run folder:") + 1 :]
    assert outside[0].startswith(f"    {tmp_path / 'data/digits_16px'}  (")  # prepared first
    assert outside[1].startswith(f"    {tmp_path / 'data/classifiers/digits_16px.ckpt'}  (the best checkpoint")
    assert len(outside) == 2
    # a second run writes nothing outside: nothing is listed, nothing is carried over from the first
    caplog.clear()
    other = compose_config(
        [
            *CLASSIFIER,
            *SHORT,
            f"paths.data_dir={tmp_path / 'data'}",
            f"callbacks.export_checkpoint.path={tmp_path / 'x.ckpt'}",
        ],
        tmp_path / "runs/two",
    )
    with caplog.at_level(logging.INFO):
        run.train(other)
    summary = _summary(caplog)
    assert "written outside the run folder" in summary and f"{tmp_path / 'x.ckpt'}  (" in summary
    assert "digits_16px  (" not in summary


def _gan_config(tmp_path: Path, train_command: str):
    return compose_config(
        [
            "experiment=gan_digits",
            f"paths.data_dir={tmp_path / 'data'}",
            "data.image_size=16",
            f"model.classifier.train_command='{train_command}'",
        ],
        tmp_path / "run",
    )


def test_missing_fid_classifier_is_trained_first_under_the_lock(tmp_path, caplog, monkeypatch):
    calls = []
    checkpoint = tmp_path / "data/classifiers/digits_16px.ckpt"

    def fake_run(args, env, check):
        assert (checkpoint.parent / f".{checkpoint.name}.lock").exists()  # the preparation lock is held
        calls.append(args)
        checkpoint.write_bytes(b"ckpt")
        return subprocess.CompletedProcess(args, 0)

    monkeypatch.setattr(fid_classifier.subprocess, "run", fake_run)
    cfg = _gan_config(tmp_path, "python train.py experiment=digits_classifier data=digits data.image_size=16")
    written_elsewhere.start()
    with caplog.at_level(logging.INFO):
        fid_classifier.prepare_fid_classifier(cfg)
        fid_classifier.prepare_fid_classifier(cfg)  # now there: not trained again
    (args,) = calls
    assert args[3:7] == ["train", "experiment=digits_classifier", "data=digits", "data.image_size=16"]
    assert f"callbacks.export_checkpoint.path={checkpoint}" in args
    assert f"paths.data_dir={tmp_path / 'data'}" in args
    assert any(f"FID classifier {checkpoint} is missing: training it first" in r.getMessage() for r in caplog.records)
    assert written_elsewhere.written() == [(checkpoint, "the FID classifier, trained first: it was missing")]


def test_a_failed_classifier_training_is_one_error(tmp_path, monkeypatch):
    monkeypatch.setattr(fid_classifier.subprocess, "run", lambda args, env, check: subprocess.CompletedProcess(args, 1))
    cfg = _gan_config(tmp_path, "python train.py experiment=digits_classifier data=digits data.image_size=16")
    with pytest.raises(Exception, match=r"training the FID classifier .*digits_16px.ckpt failed \(exit status 1"):
        fid_classifier.prepare_fid_classifier(cfg)


@pytest.mark.slow
def test_a_gan_without_its_classifier_trains_it_and_runs(tmp_path, caplog):
    fast = " ".join([*CLASSIFIER[1:], "data.num_workers=0"]).replace("trainer.max_epochs=1", "trainer.max_epochs=2")
    cfg = _gan_config(tmp_path, f"python train.py experiment=digits_classifier data=digits data.image_size=16 {fast}")
    overrides = [*FAST, "logger=none", "debug=fdr", "callbacks.model_summary=null", "data.batch_size=16"]
    cfg = compose_config([*overrides, *_gan_overrides(cfg)], tmp_path / "run")
    with caplog.at_level(logging.INFO):
        metrics = run.train(cfg)
    assert "val/FID" in metrics
    checkpoint = tmp_path / "data/classifiers/digits_16px.ckpt"
    assert checkpoint.is_file()
    assert f"    {checkpoint}  (the FID classifier, trained first" in _summary(caplog)
    shutil.rmtree(tmp_path / "data")


def _gan_overrides(cfg) -> list[str]:
    return [
        "experiment=gan_digits",
        f"paths.data_dir={cfg.paths.data_dir}",
        "data.image_size=16",
        f"model.classifier.train_command='{cfg.model.classifier.train_command}'",
    ]
