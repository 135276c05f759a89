"""hydra-optuna-sweeper's OptunaSweeper, plus the full trial table: after the sweep (also after a failed
one) every trial of the study goes to trials.csv in the sweep folder, beside optimization_results.yaml.
With a shared storage (hydra.sweeper.storage=sqlite:///... or a database URL) that is every worker's
trials. Hydra loads sweepers only from the hydra_plugins package, hence this module's place."""

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
        # a storage object instead of its URL (or None: in memory), so the trials can be read back after
        impl.storage = _open_storage(impl.storage)
        try:
            return super().sweep(arguments)
        finally:
            names = [s.study_name for s in impl.storage.get_all_study_summaries()]
            # an unnamed study is the newest one (Optuna names it); a named one may not exist yet
            name = impl.study_name or (names[-1] if names else None)
            if name in names:
                study = optuna.load_study(study_name=name, storage=impl.storage)
                path = write_trials_csv(study, Path(str(impl.sweep_dir)) / "trials.csv")
                log.info("All %d trials of study %s: %s", len(study.trials), name, path)


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
