"""The trial table of an Optuna study as CSV: one row per trial (every worker's, when several sweeps share
the study's storage). Written by hand with the csv module: Optuna's trials_dataframe() needs pandas,
which nothing else here does."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any


def write_trials_csv(study: Any, path: str | Path) -> Path:
    """`path` with columns number, state, value (value_<i> for several objectives), datetime_start,
    datetime_complete, duration_s and params_<name> for every parameter any trial has."""
    trials = study.get_trials(deepcopy=False)
    n_values = max((len(t.values) for t in trials if t.values), default=1)
    value_columns = ["value"] if n_values == 1 else [f"value_{i}" for i in range(n_values)]
    params = sorted({name for t in trials for name in t.params})
    path = Path(path)
    tmp = path.with_name(f".{path.name}.partial")
    with open(tmp, "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(
            ["number", "state", *value_columns, "datetime_start", "datetime_complete", "duration_s"]
            + [f"params_{p}" for p in params]
        )
        for t in trials:
            values = list(t.values) if t.values else [""] * len(value_columns)
            duration = t.duration.total_seconds() if t.duration is not None else ""
            writer.writerow(
                [t.number, t.state.name, *values, t.datetime_start or "", t.datetime_complete or "", duration]
                + [t.params.get(p, "") for p in params]
            )
    tmp.replace(path)
    return path
