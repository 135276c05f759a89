"""The model summary at the start of fit, as plain text in the run's log.

Lightning's ModelSummary with its own table: Lightning's (and RichModelSummary's) also print a FLOPs column
and "Total FLOPs: 0" for every model without an `example_input_array` (FLOPs are only counted with one),
and the Rich variant draws box characters. Here the FLOPs appear only when they were counted.
"""

from __future__ import annotations

import logging
from typing import Any

from lightning.pytorch.callbacks import ModelSummary as LightningModelSummary
from lightning.pytorch.utilities.model_summary.model_summary import get_formatted_model_size, get_human_readable_count

log = logging.getLogger("litvision")


def summary_text(
    summary_data: list[tuple[str, list[str]]],
    total_parameters: int,
    trainable_parameters: int,
    model_size: float,
    total_training_modes: dict[str, int],
    total_flops: int,
) -> str:
    columns = [(name, [str(v) for v in values]) for name, values in summary_data if name != "FLOPs" or total_flops]
    widths = [max(len(name), *(len(v) for v in values)) if values else len(name) for name, values in columns]
    rows = [[name for name, _ in columns], *zip(*(values for _, values in columns))]
    lines = ["  ".join(f"{cell:<{w}}" for cell, w in zip(row, widths)).rstrip() for row in rows]
    lines.insert(1, "-" * len(lines[0]))
    lines += [
        f"{get_human_readable_count(trainable_parameters)} trainable params, "
        f"{get_human_readable_count(total_parameters - trainable_parameters)} non-trainable, "
        f"{get_formatted_model_size(model_size)} MB; modules: {total_training_modes['train']} in train mode, "
        f"{total_training_modes['eval']} in eval mode"
        + (f"; {get_human_readable_count(total_flops)} FLOPs" if total_flops else "")
    ]
    return "\n".join(lines)


class ModelSummary(LightningModelSummary):
    """Lightning's ModelSummary (same `max_depth`), written as the plain table of `summary_text`."""

    @staticmethod
    def summarize(*columns_and_totals: Any, total_flops: int = 0, **summarize_kwargs: Any) -> None:
        """Lightning's call: (summary_data, total_parameters, trainable_parameters, model_size,
        total_training_modes, total_flops=...)."""
        log.info("Model summary:\n%s", summary_text(*columns_and_totals, total_flops=total_flops))
