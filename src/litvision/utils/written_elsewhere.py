"""What this process wrote outside its run folder (a prepared data folder, an exported checkpoint): the run's
summary names each (litvision.reports.run_summary), since other runs need them and nobody looks for them there.

    record(path, what)   called by whatever writes it (data preparation, a callback)
    start()              forget earlier runs' records (a run starts; tests and sweeps run many in one process)
    written()            [(path, what), ...] in the order they were written
"""

from __future__ import annotations

from pathlib import Path

_WRITTEN: list[tuple[Path, str]] = []


def record(path: str | Path, what: str) -> None:
    entry = (Path(path).absolute(), what)
    if entry not in _WRITTEN:
        _WRITTEN.append(entry)


def start() -> None:
    _WRITTEN.clear()


def written() -> list[tuple[Path, str]]:
    return list(_WRITTEN)
