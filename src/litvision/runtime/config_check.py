"""A typed check of the keys every run shares, right after composition and before anything is built.

`check_config(cfg)` raises one ConfigError naming the key, the value given and what is expected (e.g.
`trainer.max_epochs='abc' is not a whole number: expected a whole number >= -1 (-1: no limit), e.g.
trainer.max_epochs=10`) for the first problem among:

- a required value left unset (`???`: `ckpt_path`, `input`, `data.root` of one's own ImageFolder, ...);
- a value that cannot be resolved (an interpolation to a missing key, a resolver that fails);
- a common key of the wrong type or range (the table `RULES`: trainer epochs/steps/devices/precision/
  limits, data batch size/workers/classes/fractions, optimiser lr/weight decay/momentum, seed, ...).

Why a check rather than structured configs: the config groups are open-ended (every data module and task
has keys of its own, and each new experiment or branch adds more), so a schema per group would have to
list every option of every group and fail on each new one; Hydra's structured-config errors are also
several lines from inside composition. One table of the common keys, checked against whatever the groups
composed, stays valid as groups are added and gives the one-line error. Keys a rule names but the config
lacks are skipped (not every task has an optimiser or a batch size); a module's own keys are still checked
by its constructor.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from omegaconf import DictConfig, ListConfig, OmegaConf
from omegaconf.errors import OmegaConfBaseException

from litvision.errors import ConfigError, LitvisionError

# torch.compile's modes (litvision.tasks.base.COMPILE_MODES; not imported: the check runs before torch loads)
COMPILE_MODES = ("default", "reduce-overhead", "max-autotune", "max-autotune-no-cudagraphs")
PRECISIONS = ("64", "64-true", "32", "32-true", "16", "16-mixed", "16-true", "bf16", "bf16-mixed", "bf16-true")

# what to give for a required value; the default hint is "<value>"
REQUIRED_HINTS = {
    "ckpt_path": "ckpt_path=<a .ckpt file written by train.py>",
    "input": "input=<an image file or a folder of images>",
    "data.root": "data.root=<the folder holding train/ and test/>",
    "data.num_classes": "data.num_classes=<number of classes>",
    "logger.mlflow.tracking_uri": "logger.mlflow.tracking_uri=http://<host>:<port> (or logger=mlflow: a local store)",
}


def _is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _is_number(v: Any) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool)


@dataclass(frozen=True)
class Rule:
    key: str
    accepts: Callable[[Any], bool]
    expected: str
    example: str
    nullable: bool = False


def whole(low: int) -> Callable[[Any], bool]:
    return lambda v: _is_int(v) and v >= low


def number(low: float, high: float | None = None, low_open: bool = False, high_open: bool = True) -> Callable:
    def accepts(v: Any) -> bool:
        if not _is_number(v):
            return False
        if v < low or (low_open and v == low):
            return False
        return high is None or v < high or (not high_open and v == high)

    return accepts


def _limit(v: Any) -> bool:  # Lightning's limit_*_batches: a count, or a fraction of the batches
    return (_is_int(v) and v >= 0) or (isinstance(v, float) and 0.0 <= v <= 1.0)


def _devices(v: Any) -> bool:
    if _is_int(v):
        return v >= -1 and v != 0
    if isinstance(v, str):
        return v == "auto" or all(p.strip().lstrip("-").isdigit() for p in v.split(",") if p.strip())
    return isinstance(v, list | tuple) and bool(v) and all(_is_int(i) and i >= 0 for i in v)


def _precision(v: Any) -> bool:
    return str(v) in PRECISIONS and not isinstance(v, bool | float)


RULES = [
    Rule("seed", whole(0), "a whole number >= 0", "seed=42"),
    Rule("trainer.max_epochs", whole(-1), "a whole number >= -1 (-1: no limit)", "trainer.max_epochs=10", True),
    Rule("trainer.min_epochs", whole(0), "a whole number >= 0", "trainer.min_epochs=1", True),
    Rule("trainer.max_steps", whole(-1), "a whole number >= -1 (-1: no limit)", "trainer.max_steps=1000"),
    Rule("trainer.devices", _devices, "a number of devices, -1, 'auto' or a list of indices", "trainer.devices=1"),
    Rule("trainer.num_nodes", whole(1), "a whole number >= 1", "trainer.num_nodes=1"),
    Rule("trainer.precision", _precision, f"one of {', '.join(PRECISIONS)}", "trainer.precision=bf16-mixed"),
    Rule("trainer.log_every_n_steps", whole(1), "a whole number >= 1", "trainer.log_every_n_steps=10"),
    Rule("trainer.check_val_every_n_epoch", whole(1), "a whole number >= 1", "trainer.check_val_every_n_epoch=1", True),
    Rule("trainer.accumulate_grad_batches", whole(1), "a whole number >= 1", "trainer.accumulate_grad_batches=2"),
    Rule("trainer.gradient_clip_val", number(0.0), "a number >= 0", "trainer.gradient_clip_val=1.0", True),
    Rule(
        "trainer.gradient_clip_algorithm",
        lambda v: v in ("norm", "value"),
        "norm or value",
        "trainer.gradient_clip_algorithm=value",
        True,
    ),
    *(
        Rule(
            f"trainer.limit_{s}_batches",
            _limit,
            "a count >= 0 or a fraction in [0, 1]",
            f"trainer.limit_{s}_batches=0.5",
            True,
        )
        for s in ("train", "val", "test", "predict")
    ),
    Rule("data.batch_size", whole(1), "a whole number >= 1", "data.batch_size=32"),
    Rule("data.num_workers", whole(0), "a whole number >= 0", "data.num_workers=2"),
    Rule("data.num_classes", whole(1), "a whole number >= 1", "data.num_classes=2"),
    Rule("data.image_size", whole(1), "a whole number of pixels >= 1", "data.image_size=224"),
    Rule("data.resize_size", whole(1), "a whole number of pixels >= 1", "data.resize_size=256"),
    Rule("data.val_fraction", number(0.0, 1.0), "a fraction in [0, 1)", "data.val_fraction=0.2"),
    Rule("data.download", lambda v: isinstance(v, bool), "true or false", "data.download=false"),
    Rule("data.pin_memory", lambda v: isinstance(v, bool), "true or false", "data.pin_memory=true"),
    Rule(
        "data.persistent_workers",
        lambda v: isinstance(v, bool),
        "true, false or null",
        "data.persistent_workers=true",
        True,
    ),
    Rule("data.prefetch_factor", whole(1), "a whole number >= 1 or null", "data.prefetch_factor=4", True),
    Rule("data.decode_on", lambda v: v in ("cpu", "device"), "cpu or device", "data.decode_on=device"),
    Rule(
        "model.compile",
        lambda v: v in COMPILE_MODES,
        f"null or one of {', '.join(COMPILE_MODES)}",
        "model.compile=default",
        True,
    ),
    Rule("model.channels_last", lambda v: isinstance(v, bool), "true or false", "model.channels_last=true"),
    Rule("model.num_classes", whole(1), "a whole number >= 1", "data.num_classes=2"),
    Rule("model.optimizer.lr", number(0.0, low_open=True), "a number > 0", "model.optimizer.lr=0.01"),
    Rule("model.optimizer.weight_decay", number(0.0), "a number >= 0", "model.optimizer.weight_decay=1e-4"),
    Rule("model.optimizer.momentum", number(0.0, 1.0), "a number in [0, 1)", "model.optimizer.momentum=0.9"),
    Rule("train", lambda v: isinstance(v, bool), "true or false", "train=false"),
    Rule("test", lambda v: isinstance(v, bool), "true or false", "test=false"),
    Rule("optimized_mode", lambda v: v in ("min", "max"), "min or max", "optimized_mode=max"),
    Rule("batch_size", whole(1), "a whole number >= 1", "batch_size=8"),  # predict.py
    Rule(
        "predict.score_threshold",
        number(0.0, 1.0, high_open=False),
        "a score in [0, 1]",
        "predict.score_threshold=0.3",
        True,
    ),
    Rule("predict.top_k", whole(1), "a whole number >= 1", "predict.top_k=3", True),
]


def _missing_keys(node: DictConfig | ListConfig, prefix: str = "") -> list[str]:
    """Keys set to `???`, without resolving anything (OmegaConf.missing_keys resolves interpolations, and
    one that fails would hide the missing value behind it)."""
    found = []
    keys = node.keys() if isinstance(node, DictConfig) else range(len(node))
    for key in keys:
        child = node._get_node(key)
        full = f"{prefix}{key}" if isinstance(node, DictConfig) else f"{prefix.rstrip('.')}[{key}]"
        if child is None or full == "hydra":
            continue
        if child._is_missing():
            found.append(full)
        elif isinstance(child, DictConfig | ListConfig) and not child._is_interpolation():
            found += _missing_keys(child, f"{full}.")
    return found


def _value(cfg: DictConfig, key: str) -> tuple[bool, Any]:
    """(present, value) of a dotted key, resolved."""
    parent, _, leaf = key.rpartition(".")
    node = OmegaConf.select(cfg, parent) if parent else cfg
    if not isinstance(node, DictConfig) or leaf not in node:
        return False, None
    try:
        value = OmegaConf.select(cfg, key, throw_on_resolution_failure=True, throw_on_missing=True)
    except OmegaConfBaseException as err:
        ours = _our_cause(err)
        if ours is not None:  # a resolver's own error (it names the key and what to do)
            raise ours from None
        raise ConfigError(f"{key} cannot be resolved: {str(err).splitlines()[0]}") from None
    if isinstance(value, DictConfig | ListConfig):
        value = OmegaConf.to_container(value, resolve=True)
    return True, value


def unresolvable(node: DictConfig | ListConfig) -> tuple[str, str, str] | None:
    """(full key, its raw value, OmegaConf's first line) of the first value under `node` that cannot be
    resolved, None when all can (a resolver's own LitvisionError is raised as itself)."""
    keys = node.keys() if isinstance(node, DictConfig) else range(len(node))
    for key in keys:
        child = node._get_node(key)
        if child is None or (isinstance(node, DictConfig) and node._get_full_key(key) == "hydra"):
            continue
        try:
            value = node[key]
        except OmegaConfBaseException as err:
            ours = _our_cause(err)
            if ours is not None:
                raise ours from None
            reason = re.sub(r"^\w+ raised while resolving interpolation: ", "", str(err).splitlines()[0])
            return node._get_full_key(key), str(child._value()), reason
        if isinstance(value, DictConfig | ListConfig):
            found = unresolvable(value)
            if found is not None:
                return found
    return None


def _our_cause(err: BaseException) -> LitvisionError | None:
    """The LitvisionError a resolver raised, found in the chain of OmegaConf's wrapping exceptions."""
    cause: BaseException | None = err
    while cause is not None:
        if isinstance(cause, LitvisionError):
            return cause
        cause = cause.__cause__ or cause.__context__
    return None


def check_config(cfg: DictConfig, rules: list[Rule] = RULES, optional: tuple[str, ...] = ()) -> None:
    """See the module docstring. `optional`: required keys that may stay unset for now (checked later)."""
    missing = [key for key in _missing_keys(cfg) if key not in optional]
    if missing:
        key = missing[0]
        more = f" (also unset: {', '.join(missing[1:])})" if len(missing) > 1 else ""
        raise ConfigError(f"{key} is required and has no value: add {REQUIRED_HINTS.get(key, f'{key}=<value>')}{more}")
    for rule in rules:
        present, value = _value(cfg, rule.key)
        if not present or (value is None and rule.nullable) or rule.accepts(value):
            continue
        shown = "null" if value is None else repr(value)
        raise ConfigError(f"{rule.key}={shown} is not valid: expected {rule.expected}, e.g. {rule.example}")
