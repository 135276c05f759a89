"""What the console shows while a run trains: the per-epoch line (litvision.callbacks.epoch_log)."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
from pathlib import Path

import lightning as L
from lightning.pytorch.callbacks import ModelCheckpoint
from lightning.pytorch.demos.boring_classes import BoringModel

import litvision
from litvision.callbacks.epoch_log import EpochLog

ENV = {**os.environ, "PYTHONPATH": str(Path(litvision.__file__).parents[1])}


class _GanLike(BoringModel):
    """Shows its loss in the bar and logs the metric that chooses the checkpoint only to the loggers."""

    def training_step(self, batch, batch_idx):
        out = super().training_step(batch, batch_idx)
        self.log("train/g_loss", out["loss"], prog_bar=True, on_step=False, on_epoch=True)
        return out

    def validation_step(self, batch, batch_idx):
        out = super().validation_step(batch, batch_idx)
        self.log("val/FID", 10.0 - self.current_epoch * (1 if self.current_epoch < 2 else -3) + 0.92)
        return out


def _epoch_lines(tmp_path, caplog) -> list[str]:
    trainer = L.Trainer(
        default_root_dir=tmp_path,
        max_epochs=3,
        limit_train_batches=2,
        limit_val_batches=1,
        logger=False,
        enable_model_summary=False,
        callbacks=[EpochLog(), ModelCheckpoint(dirpath=tmp_path, monitor="val/FID", mode="min")],
    )
    with caplog.at_level(logging.INFO, logger="litvision"):
        trainer.fit(_GanLike())
    return [r.getMessage() for r in caplog.records if r.getMessage().startswith("epoch ")]


def test_epoch_line_leads_with_the_checkpoint_metric_marked(tmp_path, caplog):
    lines = _epoch_lines(tmp_path, caplog)
    assert len(lines) == 3
    # 10.92, 9.92 (each better), then 16.92: worse, and the best so far is named
    assert lines[0].startswith("epoch 1/3  val/FID 10.9200 (checkpoint metric, new best)  train/g_loss ")
    assert lines[1].startswith("epoch 2/3  val/FID 9.9200 (checkpoint metric, new best)  ")
    assert lines[2].startswith("epoch 3/3  val/FID 16.9200 (checkpoint metric, best 9.9200)  ")
    assert all(line.count("val/FID") == 1 for line in lines)
    # one format for every figure: four decimals
    g_loss = lines[0].split("train/g_loss ")[1].split()[0]
    assert len(g_loss.split(".")[1]) == 4


SCRIPT = """
import logging, sys
import lightning.pytorch  # before Hydra configures logging, as litvision.cli imports it
logging.basicConfig(stream=sys.stdout, level=logging.INFO, format="[hydra] %(message)s")  # Hydra's console handler
from litvision.runtime.console import quiet_lightning
quiet_lightning()
logging.getLogger("lightning.pytorch.utilities.rank_zero").info("GPU available: False")
logging.getLogger("lightning.fabric.utilities.seed").info("Seed set to 42")
"""


def test_each_lightning_message_once():
    """In a fresh process: Lightning's own `INFO: ...` handler is not a second printer beside Hydra's."""
    done = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True, check=True, env=ENV)
    assert (done.stdout + done.stderr).splitlines() == ["[hydra] GPU available: False", "[hydra] Seed set to 42"]


def test_the_terminal_bar_fits_80_columns_and_leads_with_the_checkpoint_metric(monkeypatch):
    from lightning.pytorch.callbacks import ProgressBar
    from tqdm import tqdm

    from litvision.callbacks.progress_bar import CompactProgressBar

    logged = {"v_num": 0, "train/loss_step": 0.69314, "train/loss_epoch": 0.7, "train/acc": 0.5}
    logged |= {"val/loss": 0.4, "val/acc": 0.92, "val/precision": 0.8489, "val/recall": 0.9}
    monkeypatch.setattr(ProgressBar, "get_metrics", lambda self, trainer, module: dict(logged))
    monkeypatch.setenv("COLUMNS", "80")
    checkpoint = ModelCheckpoint(monitor="val/acc", mode="max")
    trainer = L.Trainer(callbacks=[checkpoint], logger=False, enable_progress_bar=False)
    shown = CompactProgressBar().get_metrics(trainer, None)
    assert next(iter(shown)) == "val/acc" and shown["val/acc"] == "0.9200" and "v_num" not in shown
    postfix = ", ".join(f"{k}={v}" for k, v in shown.items())
    bar_format = "{l_bar}{bar}| {n_fmt}/{total_fmt} [{elapsed}<{remaining}, {rate_fmt}{postfix}]"
    line = tqdm.format_meter(123, 456, 62.0, ncols=80, prefix="Epoch 12", postfix=postfix, bar_format=bar_format)
    assert len(line) <= 80, line


CHATTER = """
import logging, sys
logging.basicConfig(stream=sys.stdout, level=logging.INFO, format="%(name)s %(message)s")
log_file = logging.FileHandler(sys.argv[1])
logging.getLogger().addHandler(log_file)
from litvision.runtime.console import chatter_to_log_file_only
chatter_to_log_file_only()
logging.getLogger("onnx_ir.passes.common.unused_removal").info("Removed 2 unused nodes")
logging.getLogger("litvision.inference.export").info("model.onnx written")
logging.getLogger("onnxscript").warning("a warning")
log_file.flush()
"""


def test_library_chatter_goes_to_the_log_file_only(tmp_path):
    log = tmp_path / "export.log"
    done = subprocess.run(
        [sys.executable, "-c", CHATTER, str(log)], capture_output=True, text=True, check=True, env=ENV
    )
    assert done.stdout.splitlines() == ["litvision.inference.export model.onnx written", "onnxscript a warning"]
    assert log.read_text().splitlines() == ["Removed 2 unused nodes", "model.onnx written", "a warning"]
