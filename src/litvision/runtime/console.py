"""What a run prints: the run's own messages, Lightning's useful ones, nothing else; plain text where the
output is not a terminal.

- `quiet_lightning()` prints each Lightning message once (through Hydra's handlers, so it is in the log file
  too, not a second time through Lightning's own `INFO: ...` handler), drops Lightning's advertising
  ("💡 Tip: ... litlogger / litmodels") with a filter on the loggers Lightning's rank-zero messages go
  through, and the FutureWarning that Lightning's own pytree helper triggers with this torch
  (`isinstance(treespec, LeafSpec)`: Lightning's call, not ours).
- `chatter_to_log_file_only()` (part of `quiet_lightning()`): other libraries' INFO messages (an ONNX export's
  30 lines of onnxscript passes) go to the log file only; their warnings still reach the console.
- `trainer_console_options(callbacks)`: the Trainer arguments that fit the callbacks: no second model
  summary when one is configured (Lightning otherwise says "Trainer already configured with model
  summary callbacks"), and where stderr/stdout is not a terminal (a log file, CI, a pipe) a progress
  "bar" of one plain line per epoch (EpochLog) instead of Lightning's redrawn bar with its control codes; on a
  terminal, Lightning's bar with its metrics fitted to the terminal's width (CompactProgressBar).
- `plain_text_off_terminal()`: where the output is not a terminal, NO_COLOR (no-color.org) is set, which
  colorlog (Optuna's log) and Rich honour: no colour codes in log files and pipes.
- `report_error(err)`: a LitvisionError as one `error:` line on stderr, and into the run's log file,
  not a second time on the console.
"""

from __future__ import annotations

import logging
import os
import sys
import warnings

log = logging.getLogger("litvision")

# the loggers Lightning's rank_zero_info goes through (lightning_utilities' rank_zero module logger)
_LIGHTNING_RANK_ZERO_LOGGERS = ("lightning.pytorch.utilities.rank_zero", "lightning.fabric.utilities.rank_zero")


class _DropTips(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return not str(record.msg).startswith("💡 Tip")


# whose INFO messages the console shows; other libraries' (onnxscript's optimiser passes, ...) go to the log file
CONSOLE_LOGGERS = ("litvision", "lightning", "hydra", "optuna")


class _LibraryChatter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return record.levelno >= logging.WARNING or record.name.split(".")[0] in CONSOLE_LOGGERS


def chatter_to_log_file_only() -> None:
    """Idempotent: the console handlers (not the log file's) drop other libraries' INFO and DEBUG messages."""
    for handler in logging.getLogger().handlers:
        # exactly Hydra's console handler: not the log file's, not a test runner's capturing handlers
        if type(handler) is logging.StreamHandler and not any(isinstance(f, _LibraryChatter) for f in handler.filters):
            handler.addFilter(_LibraryChatter())


def quiet_lightning() -> None:
    """Idempotent: install the filters described in the module docstring, and print each Lightning message once."""
    chatter_to_log_file_only()
    if logging.getLogger().handlers:
        # Hydra's console and log-file handlers are on the root logger: Lightning's own stderr handlers (on
        # `lightning`, and on `lightning.pytorch`/`lightning.fabric` when imported before Hydra configured
        # logging) would print every message a second time, as `INFO: ...`
        for name in ("lightning", "lightning.pytorch", "lightning.fabric"):
            logger = logging.getLogger(name)
            for handler in [h for h in logger.handlers if type(h) is logging.StreamHandler]:
                logger.removeHandler(handler)
            logger.propagate = True
    for name in _LIGHTNING_RANK_ZERO_LOGGERS:
        logger = logging.getLogger(name)
        if not any(isinstance(f, _DropTips) for f in logger.filters):
            logger.addFilter(_DropTips())
    warnings.filterwarnings(
        "ignore", message=r"`isinstance\(treespec, LeafSpec\)` is deprecated", category=FutureWarning
    )


def is_terminal() -> bool:
    """Both stdout (Rich's output) and stderr (tqdm's) are terminals."""
    return all(getattr(stream, "isatty", lambda: False)() for stream in (sys.stdout, sys.stderr))


def plain_text_off_terminal() -> None:
    if not is_terminal():
        os.environ.setdefault("NO_COLOR", "1")


def trainer_console_options(callbacks: list, progress_bar: bool) -> dict:
    """Trainer keyword arguments (and the callbacks to add) for a quiet console: see the module docstring."""
    # imported here: cli.py imports this module in a sweep's launching process, which needs no torch
    from lightning.pytorch.callbacks import ModelSummary, ProgressBar

    options: dict = {}
    if any(isinstance(c, ModelSummary) for c in callbacks):
        options["enable_model_summary"] = False  # the configured one prints it
    if progress_bar and not any(isinstance(c, ProgressBar) for c in callbacks):
        if is_terminal():
            from litvision.callbacks.progress_bar import CompactProgressBar

            callbacks.append(CompactProgressBar())
        else:
            from litvision.callbacks.epoch_log import EpochLog

            callbacks.append(EpochLog())
    return options


def report_error(err: BaseException, to_log_file: bool = True) -> None:
    """`error: <message>` once on stderr; the run's log file (Hydra's file handler) gets the same line
    unless `to_log_file` is false (a refused run folder: no log of this run exists, and the handler left
    from an earlier run in this process must not be written to)."""
    record = logging.LogRecord("litvision", logging.ERROR, __file__, 0, "%s", (err,), None)
    for handler in logging.getLogger().handlers if to_log_file else ():
        if isinstance(handler, logging.FileHandler):
            handler.handle(record)
    print(f"error: {err}", file=sys.stderr, flush=True)
