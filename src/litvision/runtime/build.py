"""Build a run's objects from the composed config, reporting every missing input in one message.

`build` is hydra.utils.instantiate that lets a LitvisionError from inside a constructor through as itself.

A run needs files from outside: a data set (downloaded, generated, or put there by hand), pretrained
weights (a pip package, the torch hub cache or a file). Built one after the other, the first missing one
stops the run and the next is only found on the next try (offline: the weights first, the data only after
`weights=null`). `build_data_and_model` builds the data module and the task, and prepares the data
(downloaded, verified, extracted) in the launching process before Lightning starts, each attempted even
when an earlier one failed; every `DataError` / `WeightsUnavailableError` they raise goes into one
`MissingInputsError`. Any other error (a wrong config value) stops at once, as itself.
"""

from __future__ import annotations

import re
from typing import Any

import hydra
from hydra.errors import InstantiationException
from omegaconf import DictConfig, ListConfig
from omegaconf.errors import OmegaConfBaseException

from litvision.errors import ConfigError, DataError, LitvisionError, MissingInputsError, WeightsUnavailableError
from litvision.runtime.config_check import unresolvable

MISSING = (DataError, WeightsUnavailableError)


def build(node: Any, **kwargs: Any) -> Any:
    """hydra.utils.instantiate, re-raising a LitvisionError from inside a constructor as itself (Hydra
    wraps it in an InstantiationException whose message buries ours); a value that cannot be resolved is
    one ConfigError naming its key."""
    try:
        return hydra.utils.instantiate(node, **kwargs)
    except InstantiationException as err:
        cause = err.__cause__
        while cause is not None and not isinstance(cause, LitvisionError):
            cause = cause.__cause__
        if cause is not None:
            # Hydra's message ends with the config node that failed; say it, so the user knows where to look
            key = re.search(r"full_key: (\S+)", str(err))
            if key and cause.args and isinstance(cause.args[0], str) and "[config: " not in cause.args[0]:
                cause.args = (f"{cause.args[0]} [config: {key[1]}]", *cause.args[1:])
            raise cause from err
        raise
    except OmegaConfBaseException as err:  # an interpolation that cannot be resolved: name the key
        found = unresolvable(node) if isinstance(node, DictConfig | ListConfig) else None
        if found is None:
            raise ConfigError(f"the config cannot be resolved: {str(err).splitlines()[0]}") from None
        key, raw, reason = found
        raise ConfigError(f"{key}: {raw} cannot be resolved ({reason}); set {key} or what it refers to") from None


def build_all(group: DictConfig | None) -> list:
    """Instantiate every entry of a name -> {_target_: ...} group (callbacks, loggers); null entries skip."""
    if not group:
        return []
    return [build(node) for node in group.values() if node is not None and "_target_" in node]


def build_data_and_model(cfg: DictConfig, prepare: bool) -> tuple[Any, Any]:
    """(datamodule, task) from cfg.data / cfg.model; `prepare`: also run the data module's prepare_data()
    now (the launching process of a training or evaluation), and train a GAN's missing FID classifier first."""
    from litvision.runtime.fid_classifier import prepare_fid_classifier  # imports data preparation

    problems: list[Exception] = []
    datamodule = model = None
    try:
        datamodule = build(cfg.data)
    except MISSING as err:
        problems.append(err)
    if prepare:
        prepare_fid_classifier(cfg)  # a GAN's FID classifier, trained on first use
    try:
        model = build(cfg.model)
    except MISSING as err:
        problems.append(err)
    if datamodule is not None:
        datamodule.needs_test_split = bool(cfg.get("test", True))
    if prepare and datamodule is not None:
        try:
            datamodule.prepare_data()
        except MISSING as err:
            problems.append(err)
    if len(problems) == 1:
        raise problems[0]
    if problems:
        raise MissingInputsError(problems)
    return datamodule, model
