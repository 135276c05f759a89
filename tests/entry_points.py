"""Run litvision's command-line entry points (litvision.cli.train / evaluate / predict, what train.py,
eval.py and predict.py call) inside the test process, as a user's command line would: cheaper than a
subprocess per case, with Hydra's global state put back afterwards."""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable
from dataclasses import dataclass

from hydra.core.global_hydra import GlobalHydra
from hydra.core.hydra_config import HydraConfig


@dataclass
class Result:
    code: int
    out: str
    err: str

    @property
    def error_lines(self) -> list[str]:
        return [line for line in (self.out + self.err).splitlines() if line.startswith("error:")]


def run_entry(entry: Callable[[], object], args: list[str], capfd, script: str = "train.py") -> Result:
    """`entry()` with sys.argv = [script, *args]; the exit status (0 when it returns), stdout and stderr."""
    saved_argv, root = sys.argv, logging.getLogger()
    saved_handlers, saved_level = list(root.handlers), root.level
    capfd.readouterr()
    sys.argv = [script, *args]
    code = 0
    try:
        entry()
    except SystemExit as stop:
        code = stop.code if isinstance(stop.code, int) else 1
    finally:
        sys.argv = saved_argv
        for handler in list(root.handlers):
            if handler not in saved_handlers:
                root.removeHandler(handler)
                handler.close()
        for handler in saved_handlers:
            if handler not in root.handlers:
                root.addHandler(handler)
        root.setLevel(saved_level)
        GlobalHydra.instance().clear()
        HydraConfig.instance().cfg = None
    captured = capfd.readouterr()
    return Result(code, captured.out, captured.err)
