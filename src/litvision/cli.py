"""Every console entry point: train.py / eval.py / predict.py / export.py (and their `litvision-*` scripts),
and the tools `litvision-gallery`, `litvision-synth`, `litvision-classes`. `python -m litvision.cli <command>
[args]` runs any of them without the shims. The work lives in litvision.runtime (one run),
litvision.inference (predict, sampling, export) and litvision.reports."""

from __future__ import annotations

import sys
import warnings
from difflib import get_close_matches
from importlib.resources import files
from pathlib import Path

import hydra
from omegaconf import DictConfig

from litvision.errors import ConfigError, LitvisionError
from litvision.runtime.console import plain_text_off_terminal, report_error
from litvision.runtime.eval_replay import eval_argv
from litvision.utils.resolvers import register_resolvers

# The configs ship inside the package (src/litvision/conf), so an installed litvision finds them too
CONFIG_DIR = str(files("litvision") / "conf")

register_resolvers()
# conf/hydra/launcher/submitit_{local,slurm}.yaml keep the plugin's names and hold every key, so they work
# whether or not Hydra still validates them against its schemas of the same name (deprecated, warned)
warnings.filterwarnings("ignore", message=r"[\s\S]*is validated against ConfigStore schema with the same name")


def unknown_choice(args: list[str], conf_dir: Path = Path(CONFIG_DIR)) -> str | None:
    """The one-line error for a command-line `group=option` whose option is not in conf/<group>/ (Hydra's
    own message spans a dozen lines); None when every choice exists. Hydra's groups (hydra/...) and sweep
    expressions (choice(...), range(...)) are left to Hydra."""
    for arg in args:
        key, eq, value = arg.partition("=")
        key = key.lstrip("+~").partition("@")[0]
        if not eq or arg.startswith("-") or key.startswith("hydra") or not (conf_dir / key).is_dir():
            continue
        if "(" in value:
            continue
        options = sorted(str(p.relative_to(conf_dir / key).with_suffix("")) for p in (conf_dir / key).rglob("*.yaml"))
        for name in (v.strip() for v in value.strip("[]").split(",")):
            if name and name != "null" and name not in options:
                near = get_close_matches(name, options, n=1)
                hint = f"did you mean {key}={near[0]}? " if near else ""
                return (
                    f"{key}={name}: no such option in the config group {key}; {hint}the options are "
                    f"{', '.join(options)} (python train.py --help lists every group)"
                )
    return None


def unknown_key(args: list[str], config_name: str = "train") -> str | None:
    """The one-line error for a command-line `key=value` whose key the composed config does not have, naming
    the closest key (Hydra's own message spans five lines and names none); None when every key exists or
    composition fails otherwise (Hydra reports that itself). Sweeps and hydra.* keys are left to Hydra."""
    if any(a in ("-m", "--multirun") for a in args):
        return None
    overrides = [a for a in args if "=" in a and not a.startswith("-") and not a.lstrip("+~").startswith("hydra")]
    if not overrides:
        return None
    from hydra import compose, initialize_config_dir
    from hydra.errors import ConfigCompositionException
    from omegaconf.errors import ConfigAttributeError, ConfigKeyError

    try:
        with initialize_config_dir(config_dir=str(CONFIG_DIR), version_base="1.3"):
            compose(config_name, overrides=overrides)
    except ConfigCompositionException as err:
        cause = err.__cause__
        if not isinstance(cause, ConfigAttributeError | ConfigKeyError) or not cause.full_key:
            return None
        parent, _, name = str(cause.full_key).rpartition(".")  # the first missing part of the given key
        keys = [str(k) for k in cause.parent_node.keys()] if cause.parent_node is not None else []
        near = get_close_matches(name, keys, n=1)
        key = str(cause.full_key)
        given = next((a for a in overrides if f"{a.partition('=')[0].lstrip('+~')}.".startswith(f"{key}.")), key)
        where = f"{parent} has" if parent else "the config has"
        hint = f"did you mean {parent + '.' if parent else ''}{near[0]}? " if near else ""
        return (
            f"{given}: {where} no key {name}; {hint}(+{given} adds a key; python train.py --cfg job prints the "
            "composed config)"
        )
    return None


def _check_choices(config_name: str | None = None) -> None:
    """Mistyped group options (every entry point) and, with `config_name`, mistyped keys: one line each."""
    problem = unknown_choice(sys.argv[1:]) or (unknown_key(sys.argv[1:], config_name) if config_name else None)
    if problem:
        _fail(ConfigError(problem))


def _fail(err: LitvisionError) -> None:
    report_error(err)  # one `error:` line (and the same line in the run's log file)
    raise SystemExit(1)


@hydra.main(version_base="1.3", config_path=CONFIG_DIR, config_name="train")
def _train(cfg: DictConfig) -> float | None:
    # imported here: the launching process of a sweep (submitit, Optuna) needs no torch, and a refused
    # run folder (litvision.runtime.run_dir, a Hydra callback) is reported before torch is even loaded
    from litvision.runtime import run

    try:
        metrics = run.train(cfg)
    except Exception as err:
        if _in_sweep():  # the other points run whatever this one does (litvision.reports.sweep_summary)
            return _failed_point(err)
        if isinstance(err, LitvisionError):
            _fail(err)
        raise
    metric = cfg.get("optimized_metric")
    return metrics.get(metric) if metric else None


def _in_sweep() -> bool:
    from hydra.core.hydra_config import HydraConfig
    from hydra.types import RunMode

    return HydraConfig.initialized() and HydraConfig.get().mode == RunMode.MULTIRUN


def _failed_point(err: Exception):
    """The job's one-line error as its result; a bug's traceback goes to the job's log (train.log) too."""
    import logging

    from litvision.reports.sweep_summary import FailedPoint

    if isinstance(err, LitvisionError):
        report_error(err)
        line = str(err)
    else:
        line = f"{type(err).__name__}: {err}".splitlines()[0]
        logging.getLogger("litvision").error("error: %s", line, exc_info=err)
    return FailedPoint(line)


@hydra.main(version_base="1.3", config_path=CONFIG_DIR, config_name="predict")
def _predict(cfg: DictConfig) -> None:
    from litvision.inference.predict import predict as run_predict

    try:
        run_predict(cfg)
    except LitvisionError as err:
        _fail(err)


@hydra.main(version_base="1.3", config_path=CONFIG_DIR, config_name="eval")
def _evaluate(cfg: DictConfig) -> None:
    from litvision.runtime import run

    try:
        run.evaluate(cfg)
    except LitvisionError as err:
        _fail(err)


def train() -> None:
    """train.py (and train.py -m: a sweep)."""
    plain_text_off_terminal()  # before Hydra starts a sweeper (Optuna logs in colour)
    _check_choices("train")
    _train()


def predict() -> None:
    """predict.py."""
    plain_text_off_terminal()
    _check_choices()
    _predict()


def evaluate() -> None:
    """eval.py: composed with the experiment the checkpoint records (litvision.runtime.eval_replay)."""
    plain_text_off_terminal()
    try:
        sys.argv = eval_argv(sys.argv)
    except LitvisionError as err:
        _fail(err)
    _check_choices()
    _evaluate()


@hydra.main(version_base="1.3", config_path=CONFIG_DIR, config_name="export")
def export_main(cfg: DictConfig) -> None:
    from litvision.inference.export import export

    try:
        export(cfg)
    except LitvisionError as err:
        _fail(err)


def export() -> None:
    """export.py: a checkpoint's network as ONNX or TorchScript (litvision.inference.export)."""
    plain_text_off_terminal()
    _check_choices()
    export_main()


def gallery() -> None:
    """litvision-gallery: N augmented versions of one image as a PNG grid (litvision.reports.augmentation_gallery)."""
    from litvision.reports.augmentation_gallery import main

    main()


GENERATORS = ("bananas", "captions", "coco", "content_photos", "digits", "voc")


def synth() -> None:
    """litvision-synth <generator> [args]: write a small data set in a real on-disk format (litvision.data.synth)."""
    from importlib import import_module

    usage = f"usage: litvision-synth {{{','.join(GENERATORS)}}} --out <folder> [options]"
    if len(sys.argv) >= 2 and sys.argv[1] in ("-h", "--help"):
        print(f"{usage}\n\nWrite a small data set in a real on-disk format, offline, from real photographs.")
        for name in GENERATORS:
            summary = (import_module(f"litvision.data.synth.{name}").__doc__ or "").strip().split("\n\n")[0]
            print(f"\n  {name}: {' '.join(summary.split()).rstrip(':')}")
        print("\nlitvision-synth <generator> --help lists a generator's options.")
        return
    if len(sys.argv) < 2 or sys.argv[1] not in GENERATORS:
        raise SystemExit(f"{usage} (--help)")
    name = sys.argv.pop(1)
    sys.argv[0] = f"litvision-synth {name}"  # argparse's prog in the generator's usage
    import_module(f"litvision.data.synth.{name}").main(sys.argv[1:])


def classes() -> None:
    """litvision-classes [word ...]: the ImageNet class names (with their indices) that contain a word."""
    from litvision.nets import imagenet_classes

    if any(arg in ("-h", "--help") for arg in sys.argv[1:]):
        print(imagenet_classes.__doc__.strip())
        return
    raise SystemExit(imagenet_classes.main(sys.argv[1:]))


COMMANDS = {
    "train": train,
    "eval": evaluate,
    "predict": predict,
    "export": export,
    "gallery": gallery,
    "synth": synth,
    "classes": classes,
}


def main() -> None:
    """`python -m litvision.cli <command> [args]`."""
    usage = f"usage: python -m litvision.cli {{{','.join(COMMANDS)}}} [args]   (<command> --help: what it takes)"
    if len(sys.argv) >= 2 and sys.argv[1] in ("-h", "--help"):
        print(usage)
        return
    if len(sys.argv) < 2 or sys.argv[1] not in COMMANDS:
        raise SystemExit(usage)
    command = sys.argv.pop(1)
    sys.argv[0] = f"litvision-{command}"
    COMMANDS[command]()


if __name__ == "__main__":
    main()
