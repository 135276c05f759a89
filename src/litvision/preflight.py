"""Build a run's data module and task, reporting every missing input in one message.

A run needs files from outside: a data set (downloaded, generated, or put there by hand), pretrained
weights (a pip package, the torch hub cache or a file). Built one after the other, the first missing one
stops the run and the next is only found on the next try (offline: the weights first, the data only after
`weights=null`). Here the data module is built, the task is built, and the data is prepared (downloaded,
verified, extracted) in the launching process before Lightning starts, each attempted even when an
earlier one failed; every `DataError` / `WeightsUnavailableError` they raise goes into one
`MissingInputsError`. Any other error (a wrong config value) stops at once, as itself.
"""

from __future__ import annotations

from typing import Any

from omegaconf import DictConfig

from litvision.errors import DataError, MissingInputsError, WeightsUnavailableError

MISSING = (DataError, WeightsUnavailableError)


def build_data_and_model(cfg: DictConfig, build: Any, prepare: bool) -> tuple[Any, Any]:
    """(datamodule, task) from cfg.data / cfg.model with `build` (litvision.run.build); `prepare`: also run
    the data module's prepare_data() now (the launching process of a training or evaluation)."""
    problems: list[Exception] = []
    datamodule = model = None
    try:
        datamodule = build(cfg.data)
    except MISSING as err:
        problems.append(err)
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
