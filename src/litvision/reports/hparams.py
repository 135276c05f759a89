"""The hyper-parameters a person compares between runs, and TensorBoard's HPARAMS tab for them.

`compared_hparams(cfg)` picks from the composed config the values one compares runs by — experiment, net,
pretrained weights, optimiser, learning rates (the base one and each per-group rule's), weight decay,
momentum, scheduler, batch size, epochs, precision, the augmentation preset, the loss weights, the seed —
plus every key the command line set (so whatever a sweep varied is a column). The full config stays in the
run's `.hydra/`.

Whole numbers (batch size, epochs, seed) and true/false are written as text: TensorBoard prints every number
with five significant digits (`batch_size 8.0000`; torch writes a bool as the number 1), and as text they show
as `8` and `true` and filter as the discrete values they are. Other numbers stay numbers (a numeric axis in
the parallel-coordinates view).

`write_hparams_session(log_dir, hparams, metrics, steps, trial)` writes the run's HPARAMS session into
`<log_dir>/hparams/`, a sub-run holding only that session and the metrics it shows (the best epoch's
train/val figures and the test figures, one per name, at their own steps). TensorBoard's HParams plugin
reads a metric's value from a scalar series in the session's run; keeping those scalars under the metrics'
own names in a sub-run means no `hp/*` cards in the SCALARS tab (the values appear as one point on the
runs' own curves), and the metric columns are exactly these. No experiment summary is written: TensorBoard
then takes the union of every run's hyper-parameters as columns (it would otherwise use one arbitrary run's
list for all runs), so runs of different experiments and sweeps compare side by side.
"""

from __future__ import annotations

import inspect
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from hydra.utils import get_class
from omegaconf import DictConfig, OmegaConf

from litvision.reports.run_summary import STAGES, one_per_metric

SUBRUN = "hparams"
# command-line keys that say where things are or how they are shown, not how the model was made
_NOT_COMPARED = (
    "paths.", "hydra.", "ckpt_path", "resume", "logger", "trainer.enable_progress_bar", "data.num_workers", "data.root",
)  # fmt: skip
# command-line keys that are already a column under a short name
_COVERED = {
    "experiment", "seed", "data.batch_size", "trainer.max_epochs", "trainer.max_steps", "trainer.precision",
    "model.optimizer.lr", "model.optimizer.weight_decay", "model.optimizer.momentum", "augment@data.train_transforms",
}  # fmt: skip


def _short(target: Any) -> str | None:
    return str(target).rsplit(".", 1)[-1] if target else None


def _nodes(node: Any) -> list[Mapping]:
    """Every mapping in `node`, breadth first (the model's own keys before its sub-modules')."""
    found, queue = [], [node]
    while queue:
        current = queue.pop(0)
        if isinstance(current, Mapping):
            found.append(current)
            queue += list(current.values())
        elif isinstance(current, list):
            queue += current
    return found


def _value(value: Any) -> bool | int | float | str:
    """A compared value: numbers and text; lists and null as text."""
    if isinstance(value, bool | int | float | str):
        return value
    return "null" if value is None else str(value)


def tensorboard_value(value: bool | int | float | str) -> bool | float | str:
    """How HPARAMS shows a compared value: whole numbers and true/false as text (module docstring)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value) if isinstance(value, int) else value


def _loss_weights(model: Mapping) -> dict[str, Any]:
    """The task's `*_weight(s)` arguments: those the config sets, and the others' defaults in the task class
    (a config holds only what differs from them)."""
    weights = {}
    try:
        signature = inspect.signature(get_class(model["_target_"]))
        weights = {n: p.default for n, p in signature.parameters.items() if p.default is not inspect.Parameter.empty}
    except Exception:  # no importable _target_: the config's values only
        pass
    weights.update(model)
    return {k: v for k, v in weights.items() if k.endswith(("_weight", "_weights")) and v is not None}


def _net_and_weights(model: Mapping) -> tuple[str | None, Any]:
    nodes = _nodes(model)
    net = next((n[k] for n in nodes for k in ("backbone", "name") if isinstance(n.get(k), str)), None)
    if net is None and isinstance(model.get("net"), Mapping):
        net = _short(model["net"].get("_target_"))
    weights = next((n["weights"] for n in nodes if "weights" in n), "n/a")
    return net, weights


def _augmentation(cfg: Mapping, choices: Mapping) -> str | None:
    chosen = choices.get("augment@data.train_transforms")
    if chosen:
        return chosen
    pipeline = (cfg.get("data") or {}).get("train_transforms")
    if not isinstance(pipeline, Mapping):
        return None if pipeline is None else str(pipeline)
    steps = pipeline.get("transforms") or [pipeline]
    return "+".join(_short(s.get("_target_")) or "?" for s in steps if isinstance(s, Mapping)) or None


def _select(cfg: Mapping, dotted: str) -> Any:
    node: Any = cfg
    for part in dotted.split("."):
        if not isinstance(node, Mapping) or part not in node:
            return None
        node = node[part]
    return node


def compared_hparams(
    cfg: DictConfig | Mapping, choices: Mapping | None = None, overrides: list[str] | None = None
) -> dict[str, bool | int | float | str]:
    """See the module docstring. `choices` are Hydra's config-group choices, `overrides` the command line's
    `key=value` items (both from HydraConfig when the run has one)."""
    if isinstance(cfg, DictConfig):
        cfg = OmegaConf.to_container(cfg, resolve=True)
    choices = dict(choices or {})
    model, data, trainer = (cfg.get(k) or {} for k in ("model", "data", "trainer"))
    optimizer = model.get("optimizer") or {}
    net, weights = _net_and_weights(model)
    params: dict[str, Any] = {
        "experiment": choices.get("experiment") or cfg.get("task_name"),
        "net": net,
        "weights": weights,
        "optimizer": _short(optimizer.get("_target_")),
        "lr": optimizer.get("lr"),
    }
    lr = optimizer.get("lr")
    for rule in model.get("param_groups") or []:
        if isinstance(rule, Mapping) and isinstance(lr, int | float) and "pattern" in rule:
            params[f"lr/{rule['pattern']}"] = lr * float(rule.get("lr_scale", 1.0))
    for key in ("weight_decay", "momentum"):
        if key in optimizer:
            params[key] = optimizer[key]
    scheduler = model.get("scheduler")
    params["scheduler"] = _short(scheduler.get("_target_")) if isinstance(scheduler, Mapping) else "none"
    params["batch_size"] = data.get("batch_size")
    max_steps = trainer.get("max_steps")
    params["max_steps" if isinstance(max_steps, int) and max_steps > 0 else "max_epochs"] = (
        max_steps if isinstance(max_steps, int) and max_steps > 0 else trainer.get("max_epochs")
    )
    params["precision"] = trainer.get("precision")
    params["augment"] = _augmentation(cfg, choices)
    params.update(_loss_weights(model))
    params["seed"] = cfg.get("seed")
    for item in overrides or []:
        key, sep, text = item.partition("=")
        key = key.lstrip("+~")
        if not sep or key.startswith(_NOT_COMPARED) or key in _COVERED:
            continue
        if "/" in key or "@" in key or key in choices:  # a config-group choice (data=imagefolder, augment@...=hflip)
            params[key] = choices.get(key, text)
        else:
            value = _select(cfg, key)
            params[key] = text if value is None else value
    return {k: _value(v) for k, v in params.items() if v is not None}


def hparam_metrics(metrics: Mapping[str, float]) -> dict[str, float]:
    """The metrics HPARAMS shows: `<stage>/<name>` for train/val/test, one per name, no per-class breakdowns
    (`val/IoU/cat`) and no learning rates."""
    return {k: v for k, v in one_per_metric(metrics).items() if k.split("/")[0] in STAGES and k.count("/") == 1}


def write_hparams_session(
    log_dir: str | Path,
    hparams: Mapping[str, Any],
    metrics: Mapping[str, float],
    steps: Mapping[str, int],
    trial: str = "",
) -> Path:
    """See the module docstring; `steps[name]` is the global step a metric's value belongs to, `trial` the id the
    HPARAMS table shows (litvision.reports.tensorboard.trial_name; TensorBoard's default is the sub-run's path).
    Returns the sub-run's folder."""
    from tensorboard.plugins.hparams import plugin_data_pb2
    from torch.utils.tensorboard import SummaryWriter
    from torch.utils.tensorboard.summary import hparams as hparams_summaries

    folder = Path(log_dir) / SUBRUN
    # torch's hparams() gives (experiment, session start, session end); the experiment is left out (above)
    shown = {k: tensorboard_value(v) for k, v in hparams.items()}
    _, session_start, session_end = hparams_summaries(shown, dict(metrics))
    # torch's hparams() has no group name (TensorBoard's own session_start_pb has, but imports TensorFlow):
    if trial:  # set it in the session-start record torch built
        value = session_start.value[0]
        content = plugin_data_pb2.HParamsPluginData.FromString(value.metadata.plugin_data.content)
        content.session_start_info.group_name = trial
        value.metadata.plugin_data.content = content.SerializeToString()
    writer = SummaryWriter(log_dir=str(folder))
    try:
        writer.file_writer.add_summary(session_start)
        for name, value in metrics.items():
            writer.add_scalar(name, value, global_step=steps.get(name, 0))
        writer.file_writer.add_summary(session_end)
    finally:
        writer.close()
    return folder
