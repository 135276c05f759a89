"""`python export.py ckpt_path=<file.ckpt> format=onnx|torchscript`: write a checkpoint's network for use outside
Python / without litvision, check that the written model gives PyTorch's outputs on real photographs, and write
the input contract beside it (<file>.json).

The task says what it exports (`VisionTask.export_spec`, litvision.tasks.base.ExportSpec): the module, the inputs
it is traced with, the real inputs it is checked on (of other sizes where a size is dynamic), names, dynamic axes
and the contract (per input and output: dtype, range, layout, normalisation, meaning; class names; notes such as
where NMS lives). One generic path writes every task's: ONNX through `torch.onnx.export`'s torch.export-based
exporter (needs onnx and onnxscript; checked with onnxruntime: `pip install "litvision[export]"`), TorchScript
through `torch.jit.script`, or `torch.jit.trace` where scripting fails (then checked on the other sizes too, which
catches a traced-in size). A checkpoint with EMA weights (callbacks/ema) exports the average: it is the
checkpoint's state_dict. The file lands in this run's folder (outputs/export/runs/<time>/) unless `output=<path>`
names one, which must not exist yet.
"""

from __future__ import annotations

import json
import logging
import warnings
from pathlib import Path

import torch
from hydra.utils import get_class
from omegaconf import DictConfig
from torch import Tensor
from torchvision.transforms.v2 import functional as TF

from litvision.data.core.images import load_image
from litvision.errors import CheckpointMismatchError, ConfigError
from litvision.runtime import console
from litvision.runtime.checkpoints import load_litvision_checkpoint, rebuild_task
from litvision.runtime.run_dir import claim_output_dir
from litvision.tasks.base import ExportSpec, VisionTask

log = logging.getLogger(__name__)

FORMATS = {"onnx": ".onnx", "torchscript": ".pt"}
INSTALL = 'pip install "litvision[export]" (onnx, onnxscript, onnxruntime)'
PHOTOS = ("skimage:astronaut", "skimage:chelsea", "skimage:coffee", "skimage:rocket")


def photos(n: int, height: int, width: int) -> Tensor:
    """n real photographs (scikit-image's) as (n, 3, height, width) uint8: what export checks its file on."""
    return torch.stack([TF.pil_to_tensor(load_image(PHOTOS[i % len(PHOTOS)], (height, width))) for i in range(n)])


def export_spec(ckpt_path: str | Path) -> tuple[ExportSpec, dict]:
    """The checkpoint's task's ExportSpec (module in eval mode on the CPU) and the checkpoint's litvision stamp.
    A checkpoint of a task without one is refused naming the task and its experiment."""
    meta = load_litvision_checkpoint(ckpt_path)["litvision"]
    task, config = meta.get("task", "?"), meta.get("config") or {}
    try:
        cls = get_class(task)
    except Exception:  # an unknown dotted path
        cls = None
    if cls is None or not issubclass(cls, VisionTask) or cls.export_spec is VisionTask.export_spec:
        raise CheckpointMismatchError(
            f"checkpoint {ckpt_path} was written by {task} (experiment {config.get('task_name', '?')}), which has "
            "no network export.py writes (see docs/runs.md for the tasks that export)"
        )
    model, _, _ = rebuild_task(ckpt_path)
    spec = model.eval().cpu().export_spec(photos)
    spec.module.eval().cpu()
    return spec, meta


def _dynamic_shapes(spec: ExportSpec) -> tuple:
    dims: dict[str, torch.export.Dim] = {}
    shapes = []
    for name in spec.input_names:
        axes = {}
        for axis, dim in spec.dynamic.get(name, {}).items():
            if dim not in dims:
                dims[dim] = torch.export.Dim(dim, min=spec.min_size if dim in ("height", "width") else 1)
            axes[axis] = dims[dim]
        shapes.append(axes or None)
    return tuple(shapes)


def write_onnx(spec: ExportSpec, path: Path) -> None:
    try:
        import onnx  # noqa: F401
        import onnxscript  # noqa: F401
    except ImportError as err:
        raise ConfigError(f"format=onnx needs the package {err.name}: {INSTALL}") from None
    if spec.onnx_exporter == "torchscript":
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            torch.onnx.export(
                spec.module,
                spec.example,
                str(path),
                dynamo=False,
                opset_version=17,
                input_names=list(spec.input_names),
                output_names=list(spec.output_names),
                dynamic_axes={name: {a: d for a, d in axes.items()} for name, axes in spec.dynamic.items()},
            )
        return
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        program = torch.onnx.export(
            spec.module,
            spec.example,
            dynamic_shapes=_dynamic_shapes(spec),
            input_names=list(spec.input_names),
            output_names=list(spec.output_names),
            dynamo=True,
            verbose=False,
        )
    program.save(str(path))


def write_torchscript(spec: ExportSpec, path: Path) -> str:
    """Scripted when it scripts, else traced; returns which."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # torch.jit is deprecated, still the format asked for
        try:
            scripted, how = torch.jit.script(spec.module), "script"
        except Exception:  # Python the compiler cannot read (timm's nets, torchvision's detection heads)
            scripted, how = torch.jit.trace(spec.module, spec.example, check_trace=False), "trace"
        torch.jit.save(scripted, str(path))
    return how


def _as_tuple(outputs) -> tuple[Tensor, ...]:
    return tuple(outputs) if isinstance(outputs, list | tuple) else (outputs,)


def run_exported(path: Path, inputs: Tensor | tuple[Tensor, ...], input_names=("image",)) -> tuple[Tensor, ...] | None:
    """The exported model's outputs on `inputs`; None when the ONNX runtime is absent."""
    inputs = _as_tuple(inputs)
    if path.suffix == ".onnx":
        try:
            import onnxruntime
        except ImportError:
            return None
        session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
        feed = {name: x.numpy() for name, x in zip(input_names, inputs)}
        return tuple(torch.from_numpy(out) for out in session.run(None, feed))
    with torch.no_grad():
        return _as_tuple(torch.jit.load(str(path))(*inputs))


INTEGER_MISMATCH = 1e-3  # integer outputs (a mask's argmax): the share of elements allowed to differ (near-ties)


def differences(expected: tuple[Tensor, ...], got: tuple[Tensor, ...]) -> list[float]:
    """Per output: the largest |difference| for float outputs, the share of differing elements for integer ones;
    inf when a shape differs."""
    if len(expected) != len(got):
        return [float("inf")]
    found = []
    for e, g in zip(expected, got):
        if e.shape != g.shape:
            found.append(float("inf"))
        elif not e.numel():
            found.append(0.0)
        elif e.is_floating_point():
            found.append(float((e.double() - g.double()).abs().max()))
        else:
            found.append(float((e != g).double().mean()))
    return found


def _contract(spec: ExportSpec, meta: dict, fmt: str) -> dict:
    return {
        "format": fmt,
        "task": meta.get("task"),
        "experiment": (meta.get("config") or {}).get("task_name"),
        "inputs": {
            name: {**spec.inputs[name], "dynamic_axes": spec.dynamic.get(name, {})} for name in spec.input_names
        },
        "outputs": {name: spec.outputs[name] for name in spec.output_names},
        "class_names": meta.get("class_names") or [],
        "notes": spec.notes,
    }


def export(cfg: DictConfig) -> dict:
    """Write cfg.ckpt_path's network in cfg.format with its contract beside it; returns the record written to
    export.json."""
    console.chatter_to_log_file_only()  # the ONNX exporter's optimiser passes log ~30 INFO lines
    fmt = str(cfg.format)
    if fmt not in FORMATS:
        raise ConfigError(f"format={fmt!r}: choose {' or '.join(FORMATS)}")
    spec, meta = export_spec(cfg.ckpt_path)
    out_dir = claim_output_dir(cfg.paths.output_dir)
    name = (meta.get("config") or {}).get("task_name") or "model"
    path = Path(cfg.output) if cfg.get("output") else out_dir / f"{name}{FORMATS[fmt]}"
    contract_path = path.with_suffix(".json")
    for target in (path, contract_path):
        if target.exists():
            raise ConfigError(f"output={path}: {target} exists already and is never overwritten: name a new file")
    path.parent.mkdir(parents=True, exist_ok=True)
    record = {"file": str(path), "contract": str(contract_path), "format": fmt, "checkpoint": str(cfg.ckpt_path)}
    if fmt == "onnx":
        write_onnx(spec, path)
    else:
        record["torchscript"] = write_torchscript(spec, path)
    with torch.no_grad():
        expected = _as_tuple(spec.module(*spec.check))
    got = run_exported(path, spec.check, spec.input_names)
    record["task"] = meta.get("task")
    if got is None:
        log.warning("%s written but not checked: the ONNX runtime is not installed (%s)", path, INSTALL)
    else:
        found = dict(zip(spec.output_names, differences(expected, got)))
        shapes = {n: list(x.shape) for n, x in zip(spec.input_names, spec.check)}
        record.update({"checked_on": shapes, "max_difference": found})
        limits = {
            n: spec.tolerance if e.is_floating_point() else INTEGER_MISMATCH
            for n, e in zip(spec.output_names, expected)
        }
        bad = {n: d for n, d in found.items() if not d <= limits.get(n, spec.tolerance)}
        if bad:
            path.unlink()
            raise ConfigError(
                f"the exported {path.name} differs from the PyTorch network on inputs {shapes} ({bad}; tolerance "
                f"{spec.tolerance}, integer outputs {INTEGER_MISMATCH} of the elements): it cannot be trusted and was "
                "removed"
            )
        log.info("%s written; on inputs %s its outputs differ from PyTorch by at most %s", path, shapes, found)
    contract_path.write_text(json.dumps({**_contract(spec, meta, fmt), "check": record.get("checked_on")}, indent=2))
    (out_dir / "export.json").write_text(json.dumps(record, indent=2) + "\n")
    return record
