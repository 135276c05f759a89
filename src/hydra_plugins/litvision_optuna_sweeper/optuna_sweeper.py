"""hydra-optuna-sweeper's OptunaSweeper, plus the full trial table: after the sweep (also after a failed
one) every trial of the study goes to trials.csv in the sweep folder, beside optimization_results.yaml.
With a shared storage (hydra.sweeper.storage=sqlite:///... or a database URL) that is every worker's
trials. Hydra loads sweepers only from the hydra_plugins package, hence this module's place.

A failed trial (the job returns litvision.reports.sweep_summary.FailedPoint) is told to the study as FAIL
and the search goes on (hparams_search/optuna.yaml: max_failure_rate 1). A searched key the composed
experiment does not have (weight_decay of an optimiser configured without one) is left out of the search
with a warning naming it, rather than failing every trial."""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Any

from hydra_plugins.hydra_optuna_sweeper.optuna_sweeper import OptunaSweeper as _OptunaSweeper

log = logging.getLogger(__name__)


class OptunaSweeper(_OptunaSweeper):
    def sweep(self, arguments: list[str]) -> Any:
        import optuna  # lazily, as the plugin itself does: Hydra imports every plugin at start-up

        from litvision.reports.trial_table import write_trials_csv

        impl = self.sweeper
        _searchable_params(impl)
        # a storage object instead of its URL (or None: in memory), so the trials can be read back after
        impl.storage = _open_storage(impl.storage)
        try:
            return super().sweep(arguments)
        except ValueError as err:  # optuna's best_trial when every trial failed: the table says why
            if "No trials are completed yet" not in str(err):
                raise
            log.error("no trial of the study completed")
            return None
        finally:
            names = [s.study_name for s in impl.storage.get_all_study_summaries()]
            # an unnamed study is the newest one (Optuna names it); a named one may not exist yet
            name = impl.study_name or (names[-1] if names else None)
            if name in names:
                study = optuna.load_study(study_name=name, storage=impl.storage)
                path = write_trials_csv(study, Path(str(impl.sweep_dir)) / "trials.csv")
                log.info("All %d trials of study %s: %s", len(study.trials), name, path)


def _searchable_params(impl: Any) -> None:
    """Drop from hydra.sweeper.params the keys the composed config lacks (each trial would fail to compose)."""
    from omegaconf import OmegaConf

    params, config = getattr(impl, "params", None), getattr(impl, "config", None)
    if not params or config is None:
        return
    missing = [key for key in params if OmegaConf.select(config, str(key), default="\0missing") == "\0missing"]
    if not missing:
        return
    kept = {key: value for key, value in params.items() if key not in missing}
    if not kept:
        from litvision.errors import ConfigError

        raise ConfigError(
            f"none of the searched keys ({', '.join(missing)}) is in experiment {config.get('task_name')}'s "
            "config: give it its own hparams_search (conf/hparams_search/) with keys it has"
        )
    log.warning(
        "%s not in experiment %s's config: searching %s only (give the experiment its own hparams_search "
        "to search more)",
        ", ".join(missing),
        config.get("task_name"),
        ", ".join(kept),
    )
    impl.params = kept


def _open_storage(url: Any, attempts: int = 5) -> Any:
    """optuna.storages.get_storage, retried: sweeps started together on a new database race to create its
    tables and all but one fail ("table ... already exists", Optuna issue #1092); a retry finds them made."""
    import optuna
    from sqlalchemy.exc import SQLAlchemyError

    for attempt in range(attempts):
        try:
            return optuna.storages.get_storage(url)
        except SQLAlchemyError as err:
            if attempt == attempts - 1:
                raise
            log.info("Optuna storage not ready (%s), retrying", type(err).__name__)
            time.sleep(1 + attempt)
