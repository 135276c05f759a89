"""`python export.py ckpt_path=<file.ckpt> format=onnx|torchscript`: write a checkpoint's network
for use outside Python / without litvision, and check that the written model gives the same pixels.

The task names what it exports (`export_module()`: the fast style-transfer net, (N, 3, H, W) float
pixels in [0, 1] -> stylised pixels in [0, 1], any N, H, W). ONNX goes through `torch.onnx.export`'s
torch.export-based exporter with dynamic batch, height and width (needs the packages onnx and onnxscript:
`pip install "litvision[export]"`); TorchScript through `torch.jit.script`. The file lands in this run's
folder (outputs/export/runs/<time>/) unless `output=<path>` names one, which must not exist yet.
"""

from __future__ import annotations

import json
import logging
import warnings
from pathlib import Path

import torch
from hydra.utils import get_class
from omegaconf import DictConfig
from torch import nn

from litvision.errors import CheckpointMismatchError, ConfigError
from litvision.runtime import console
from litvision.runtime.checkpoints import load_litvision_checkpoint, rebuild_task
from litvision.runtime.run_dir import claim_output_dir
from litvision.tasks.base import VisionTask

log = logging.getLogger(__name__)

FORMATS = {"onnx": ".onnx", "torchscript": ".pt"}
INSTALL = 'pip install "litvision[export]" (onnx, onnxscript, onnxruntime)'
# the exported model runs on a (1, 3, H, W) image of a size other than the example it was traced with
CHECK_SIZE = (67, 93)
TOLERANCE = 1e-4  # largest pixel difference (pixels in [0, 1]) between the exported model and PyTorch's


def exportable_module(ckpt_path: str | Path) -> tuple[nn.Module, dict]:
    """The network the checkpoint's task exports (eval mode, CPU) and the checkpoint's litvision stamp.
    A checkpoint of a task without one is refused naming the task and its experiment."""
    meta = load_litvision_checkpoint(ckpt_path)["litvision"]
    task, config = meta.get("task", "?"), meta.get("config") or {}
    try:
        cls = get_class(task)
    except Exception:  # an unknown dotted path
        cls = None
    if cls is None or not issubclass(cls, VisionTask) or cls.export_module is VisionTask.export_module:
        raise CheckpointMismatchError(
            f"checkpoint {ckpt_path} was written by {task} (experiment {config.get('task_name', '?')}), which has "
            "no network to export; export writes fast style-transfer networks (experiment=fast_style_transfer "
            "or fast_style_transfer_effnet)"
        )
    model, _, _ = rebuild_task(ckpt_path)
    return model.export_module().eval().cpu(), meta


def write_onnx(module: nn.Module, path: Path, example: torch.Tensor) -> None:
    try:
        import onnx  # noqa: F401
        import onnxscript  # noqa: F401
    except ImportError as err:
        raise ConfigError(f"format=onnx needs the package {err.name}: {INSTALL}") from None
    minimum = int(getattr(module, "minimum_input_size", 1))
    dims = {
        0: torch.export.Dim("batch"),
        2: torch.export.Dim("height", min=minimum),
        3: torch.export.Dim("width", min=minimum),
    }
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        program = torch.onnx.export(
            module,
            (example,),
            dynamic_shapes=(dims,),
            input_names=["image"],
            output_names=["stylised"],
            dynamo=True,
            verbose=False,
        )
    program.save(str(path))


def write_torchscript(module: nn.Module, path: Path) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)  # torch.jit is deprecated, still the format asked for
        torch.jit.save(torch.jit.script(module), str(path))


def run_exported(path: Path, images: torch.Tensor) -> torch.Tensor | None:
    """The exported model's output on `images` (float (N, 3, H, W)); None when the ONNX runtime is absent."""
    if path.suffix == ".onnx":
        try:
            import onnxruntime
        except ImportError:
            return None
        session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
        return torch.from_numpy(session.run(None, {"image": images.numpy()})[0])
    with torch.no_grad():
        return torch.jit.load(str(path))(images)


def export(cfg: DictConfig) -> dict:
    """Write cfg.ckpt_path's network in cfg.format; returns the record written to export.json."""
    console.chatter_to_log_file_only()  # the ONNX exporter's optimiser passes log ~30 INFO lines
    fmt = str(cfg.format)
    if fmt not in FORMATS:
        raise ConfigError(f"format={fmt!r}: choose {' or '.join(FORMATS)}")
    module, meta = exportable_module(cfg.ckpt_path)
    out_dir = claim_output_dir(cfg.paths.output_dir)
    name = (meta.get("config") or {}).get("task_name") or "model"
    path = Path(cfg.output) if cfg.get("output") else out_dir / f"{name}{FORMATS[fmt]}"
    if path.exists():
        raise ConfigError(f"output={path} exists already and is never overwritten: name a new file")
    path.parent.mkdir(parents=True, exist_ok=True)
    example = torch.rand(1, 3, 64, 64, generator=torch.Generator().manual_seed(0))
    if fmt == "onnx":
        write_onnx(module, path, example)
    else:
        write_torchscript(module, path)
    check = torch.rand(2, 3, *CHECK_SIZE, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        expected = module(check)
    got = run_exported(path, check)
    record = {"file": str(path), "format": fmt, "checkpoint": str(cfg.ckpt_path), "task": meta.get("task")}
    if got is None:
        log.warning("%s written but not checked: the ONNX runtime is not installed (%s)", path, INSTALL)
    else:
        difference = float((got - expected).abs().max())
        record.update({"checked_on": [2, 3, *CHECK_SIZE], "max_pixel_difference": difference})
        if got.shape != expected.shape or difference > TOLERANCE:
            raise ConfigError(
                f"the exported {path} differs from the PyTorch network by up to {difference:.2g} (tolerance "
                f"{TOLERANCE}) on a {CHECK_SIZE[0]}x{CHECK_SIZE[1]} image: this export cannot be trusted"
            )
        log.info("%s written; on a %dx%d image it differs from PyTorch by at most %.2g", path, *CHECK_SIZE, difference)
    (out_dir / "export.json").write_text(json.dumps(record, indent=2) + "\n")
    return record
