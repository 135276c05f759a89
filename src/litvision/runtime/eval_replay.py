"""`eval.py ckpt_path=<file>` composes the experiment the checkpoint was trained with.

A checkpoint written by train.py records its experiment (Hydra's `experiment` choice) and the command
line's overrides (litvision.tasks.base.VisionTask.run_origin). `eval_argv(argv)` puts them in front of
eval.py's own arguments before Hydra composes: `experiment=<recorded>`, then the recorded overrides that
shape the model and its data (`data.*`, `model.*`, `augment@...`, `paths.data_dir`, `seed`, `debug`), each
unless eval.py's command line sets the same key itself. An explicit `experiment=` that differs from the
recorded one is a ConfigError naming both. Checkpoints that record no experiment (older ones) are
evaluated under the command line as given, as before.
"""

from __future__ import annotations

from litvision.errors import ConfigError, LitvisionError

# recorded overrides that eval replays: the ones that decide the model and the data it is tested on
REPLAYED = ("data", "model", "augment", "paths.data_dir", "paths.root_dir", "seed", "debug")
HELP_FLAGS = ("--help", "-h", "--hydra-help", "--info", "-i")


def _key(override: str) -> str:
    return override.partition("=")[0].lstrip("+~")


def _replayed(key: str) -> bool:
    return any(key == p or key.startswith((f"{p}.", f"{p}@", f"{p}/")) for p in REPLAYED)


def recorded_run(ckpt_path: str) -> tuple[str | None, list[str]]:
    """(experiment, overrides) recorded in the checkpoint; (None, []) when it records none or cannot be read
    (the run itself then reports what is wrong with the file)."""
    from litvision.runtime.checkpoints import load_litvision_checkpoint

    try:
        meta = load_litvision_checkpoint(ckpt_path)["litvision"]
    except LitvisionError:
        return None, []
    return meta.get("experiment"), list(meta.get("overrides") or [])


def eval_argv(argv: list[str]) -> list[str]:
    """See the module docstring. `argv[0]` is the program."""
    args = argv[1:]
    if any(a in HELP_FLAGS for a in args):
        return argv
    given = {_key(a): a.partition("=")[2] for a in args if "=" in a and not a.startswith("-")}
    ckpt_path = given.get("ckpt_path")
    if not ckpt_path:
        return argv
    experiment, overrides = recorded_run(ckpt_path)
    if not experiment:
        return argv
    asked = given.get("experiment")
    if asked is not None and asked != experiment:
        raise ConfigError(
            f"checkpoint {ckpt_path} was trained with experiment {experiment}, but experiment={asked} was given: "
            f"drop experiment= (eval.py uses the checkpoint's) or pass experiment={experiment}"
        )
    replay = [o for o in overrides if _replayed(_key(o)) and _key(o) not in given]
    front = [] if asked is not None else [f"experiment={experiment}"]
    return [argv[0], *front, *replay, *args]
