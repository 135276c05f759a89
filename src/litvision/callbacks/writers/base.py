"""Writing predictions to files: the base of every output kind's writer (class JSON, boxes, masks, images,
captions, ...), a Lightning `BasePredictionWriter`.

A task names its writer class (`VisionTask.prediction_writer`) and returns from
`predict_step` one dict of tensors per image; a writer turns each into files and one JSON record.
`predict.py` builds the writer with the options given on its command line (`predict.<option>=...`).
"""

from __future__ import annotations

import inspect
import json
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import lightning as L
from lightning.pytorch.callbacks import BasePredictionWriter

from litvision.errors import ConfigError


class PredictionWriter(BasePredictionWriter):
    """Subclasses implement `write_item`; options are their constructor's keyword arguments."""

    json_name = "predictions.json"

    def __init__(self, output_dir: str | Path) -> None:
        super().__init__(write_interval="batch")
        self.output_dir = Path(output_dir)
        self.records: list[dict] = []
        self.failed: list[dict] = []  # inputs that could not be read: {"file", "error"}
        self._stems: dict[Path, str] = {}

    def write_item(self, pl_module: L.LightningModule, prediction: dict, path: Path, meta: dict) -> dict:
        """Write the files of one input image; return its JSON record (without "file")."""
        raise NotImplementedError

    def output_file(self, path: Path, suffix: str) -> Path:
        """`<output_dir>/<stem><suffix>` for input `path`: every output of one input shares its stem, and
        inputs whose stems collide (a.png, a.jpg) get a_2, a_3, ... in input order."""
        stem = self._stems.get(path)
        if stem is None:
            taken = set(self._stems.values())
            stem, n = path.stem, 1
            while stem in taken:
                n += 1
                stem = f"{path.stem}_{n}"
            self._stems[path] = stem
        return self.output_dir / f"{stem}{suffix}"

    def write_on_batch_end(
        self,
        trainer: L.Trainer,
        pl_module: L.LightningModule,
        prediction: Sequence[dict],
        batch_indices: Sequence[int] | None,
        batch: Mapping[str, Any],
        batch_idx: int,
        dataloader_idx: int = 0,
    ) -> None:
        for item, path, meta in zip(prediction, batch["path"], batch["meta"]):
            record = self.write_item(pl_module, item, Path(path), meta)
            self.records.append({"file": str(path), **record})

    def on_predict_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if trainer.is_global_zero:
            write_json(self.output_dir / self.json_name, self.records + self.failed)


def write_json(path: Path, data: Any) -> None:
    """JSON written to a temporary file and renamed, so a reader never sees half a file."""
    part = path.with_name(f".{path.name}.{os.getpid()}.part")
    part.write_text(json.dumps(data, indent=2) + "\n")
    os.replace(part, path)


def build_writer(
    cls: type[PredictionWriter], output_dir: str | Path, options: Mapping[str, Any], failed: Sequence[dict] = ()
) -> PredictionWriter:
    """Writer `cls` with `options` (None values mean "the writer's default"); an option the writer does not
    take is a ConfigError naming the ones it does. `failed`: inputs that could not be read, listed in the JSON."""
    given = {k: v for k, v in options.items() if v is not None}
    accepted = [p for p in inspect.signature(cls.__init__).parameters if p not in ("self", "output_dir")]
    unknown = sorted(set(given) - set(accepted))
    if unknown:
        takes = ", ".join(f"predict.{p}" for p in accepted) or "no options"
        raise ConfigError(f"predict.{unknown[0]} is not an option of {cls.__name__}; it takes {takes}")
    writer = cls(output_dir, **given)
    writer.failed = list(failed)
    return writer
