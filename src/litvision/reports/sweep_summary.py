"""A table at the end of a sweep (grid or Optuna): each job's number, the overrides it ran, its optimised
metric and its folder, best first — printed, and written to `sweep_summary.csv` / `sweep_summary.md` in
the sweep folder.

A point that fails does not stop the sweep: the job (litvision.cli) returns a `FailedPoint` holding its
one-line error instead of raising, so every launcher (basic, submitit) runs the other points and Optuna
records the trial as FAIL (a FailedPoint is no float) and goes on; the table marks it `failed: <error>`
and the sweep exits 1 after the table, saying how many points failed.

`SweepSummary` is a Hydra callback (hydra/default.yaml). Each job writes its own record, `job_result.json`,
into its folder when it ends (in the job's process, so launchers that run jobs elsewhere work too) and
refreshes the two files, so the table is current even when a later job stops the sweep; at the end of the
sweep the table is rebuilt from every record and printed. "Best" follows the sweeper's direction
(Optuna's `direction`) or else the experiment's `optimized_mode`.
"""

from __future__ import annotations

import csv
import io
import json
import logging
import os
from pathlib import Path
from typing import Any

from hydra.core.utils import JobReturn, JobStatus
from hydra.experimental.callback import Callback
from hydra.types import RunMode
from omegaconf import DictConfig

from litvision.reports.tensorboard import pinned_url

log = logging.getLogger("litvision")

RECORD = "job_result.json"


class FailedPoint(str):
    """What a failed sweep job returns: its one-line error (a str, so it pickles across launchers and
    Optuna's float() refuses it)."""


class SweepFailed(SystemExit):
    """Raised after the sweep's table: some points failed (exit status 1)."""


CSV_NAME, MD_NAME = "sweep_summary.csv", "sweep_summary.md"


def _atomic_write(path: Path, text: str) -> None:
    part = path.with_name(f".{path.name}.{os.getpid()}.part")
    part.write_text(text)
    os.replace(part, path)


def _maximise(config: DictConfig) -> bool:
    direction = str(config.hydra.sweeper.get("direction", "") or "")
    if direction:
        return direction.startswith("max")
    return str(config.get("optimized_mode", "max")) == "max"


def job_record(config: DictConfig, job_return: JobReturn) -> dict[str, Any]:
    """What one job ran and gave."""
    value = job_return._return_value  # the return_value property re-raises a failed job's exception
    ok = job_return.status == JobStatus.COMPLETED and not isinstance(value, FailedPoint)
    if isinstance(value, BaseException):
        value = (str(value) or type(value).__name__).splitlines()[0]
    return {
        "job": int(config.hydra.job.num),
        "overrides": list(job_return.overrides or []),
        "metric": config.get("optimized_metric"),
        "value": float(value) if ok and isinstance(value, int | float) else None,
        "status": "ok" if ok else f"failed: {value}",
        "folder": str(Path(config.hydra.runtime.output_dir).resolve()),
    }


def read_records(sweep_dir: Path) -> list[dict]:
    records = []
    for path in sorted(sweep_dir.glob(f"*/{RECORD}")):
        try:
            records.append(json.loads(path.read_text()))
        except (OSError, ValueError):
            continue  # a job still writing it, or a damaged file: left out of this refresh
    return records


def ranked(records: list[dict], maximise: bool) -> list[dict]:
    """Best first; jobs without a value (failed, or nothing to optimise) last, in job order."""
    scored = sorted((r for r in records if r["value"] is not None), key=lambda r: r["value"], reverse=maximise)
    return scored + sorted((r for r in records if r["value"] is None), key=lambda r: r["job"])


def _varying(records: list[dict]) -> tuple[list[str], dict[int, list[str]]]:
    """(the overrides every job shares, each job's other overrides)."""
    common = set.intersection(*(set(r["overrides"]) for r in records)) if len(records) > 1 else set()
    return sorted(common), {r["job"]: [o for o in r["overrides"] if o not in common] for r in records}


def _value_text(record: dict) -> str:
    return f"{record['value']:.4f}" if record["value"] is not None else record["status"]


def tables(records: list[dict]) -> tuple[str, str]:
    """(CSV text, Markdown text) of ranked records."""
    common, own = _varying(records)
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["rank", "job", "overrides", "metric", "value", "status", "folder"])
    for rank, r in enumerate(records, 1):
        writer.writerow([rank, r["job"], " ".join(own[r["job"]]), r["metric"], r["value"], r["status"], r["folder"]])
    metric = next((r["metric"] for r in records if r["metric"]), "value")
    md = [f"Common overrides: `{' '.join(common)}`", ""] if common else []
    md += [f"| rank | job | overrides | {metric} | folder |", "|---|---|---|---|---|"]
    md += [
        f"| {rank} | {r['job']} | `{' '.join(own[r['job']]) or '-'}` | {_value_text(r)} | {r['folder']} |"
        for rank, r in enumerate(records, 1)
    ]
    return out.getvalue(), "\n".join(md) + "\n"


def console_table(records: list[dict]) -> str:
    common, own = _varying(records)
    metric = next((r["metric"] for r in records if r["metric"]), "value")
    rows = [("job", "overrides", metric, "folder")]
    rows += [(str(r["job"]), " ".join(own[r["job"]]) or "-", _value_text(r), r["folder"]) for r in records]
    widths = [max(len(row[i]) for row in rows) for i in range(3)]
    lines = ["  " + "  ".join(f"{cell:<{w}}" for cell, w in zip(row[:3], widths)) + f"  {row[3]}" for row in rows]
    head = [f"  common overrides: {' '.join(common)}"] if common else []
    return "\n".join(head + lines)


def write_summary(sweep_dir: Path, maximise: bool) -> list[dict]:
    records = ranked(read_records(sweep_dir), maximise)
    if records:
        csv_text, md_text = tables(records)
        _atomic_write(sweep_dir / CSV_NAME, csv_text)
        _atomic_write(sweep_dir / MD_NAME, md_text)
    return records


class SweepSummary(Callback):
    """See the module docstring."""

    def on_job_end(self, config: DictConfig, job_return: JobReturn, **kwargs: Any) -> None:
        if config.hydra.mode != RunMode.MULTIRUN:
            return
        folder = Path(config.hydra.runtime.output_dir)
        _atomic_write(folder / RECORD, json.dumps(job_record(config, job_return), indent=2) + "\n")
        write_summary(Path(config.hydra.sweep.dir), _maximise(config))

    def on_multirun_end(self, config: DictConfig, **kwargs: Any) -> None:
        sweep_dir = Path(config.hydra.sweep.dir)
        records = write_summary(sweep_dir, _maximise(config))
        if not records:
            return
        best = records[0]
        lines = [
            f"Sweep of {len(records)} job(s), best first ({sweep_dir.resolve() / CSV_NAME}):",
            console_table(records),
        ]
        if best["value"] is not None:
            lines.append(f"Best: job {best['job']}, {best['metric']} {best['value']:.4f}, in {best['folder']}")
        if next(sweep_dir.rglob("events.out.tfevents.*"), None):  # the jobs logged to TensorBoard
            lines.append(f"View the jobs side by side: tensorboard --logdir {sweep_dir.resolve()}")
            if best["metric"]:
                lines.append(f"  {best['metric']} pinned on top: {pinned_url([best['metric']])}")
        log.info("%s", "\n".join(lines))
        failed = [r for r in records if r["status"] != "ok"]
        if failed:
            jobs = ", ".join(str(r["job"]) for r in sorted(failed, key=lambda r: r["job"]))
            table = sweep_dir.resolve() / MD_NAME
            message = f"{len(failed)} of {len(records)} sweep points failed (jobs {jobs}); see {table}"
            from litvision.runtime.console import report_error

            report_error(RuntimeError(message))
            raise SweepFailed(1)
