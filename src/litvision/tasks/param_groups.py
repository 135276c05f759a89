"""Per-parameter-group learning rates from configuration: an ordered list of
{pattern: <glob on parameter names>, lr_scale: <factor>}; the first match wins and unmatched
parameters use the optimiser's base lr."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from fnmatch import fnmatchcase

from torch import nn

from litvision.errors import ConfigError


def build_param_groups(
    named_parameters: Iterable[tuple[str, nn.Parameter]],
    rules: Sequence[Mapping],
    base_lr: float,
) -> list[dict]:
    """Optimizer param groups, named for the learning-rate monitor: "base" first, then one per rule
    (named by its pattern). Frozen parameters are left out. A rule that matches nothing is an error:
    it is almost always a typo in the pattern."""
    params = [(name, p) for name, p in named_parameters if p.requires_grad]
    for rule in rules:
        if set(rule) - {"pattern", "lr_scale"} or "pattern" not in rule:
            raise ConfigError(f"param_groups entry {dict(rule)} must have exactly `pattern` and `lr_scale`")
    buckets: list[list[nn.Parameter]] = [[] for _ in range(len(rules) + 1)]
    for name, p in params:
        index = next((i for i, r in enumerate(rules) if fnmatchcase(name, r["pattern"])), None)
        buckets[0 if index is None else index + 1].append(p)
    for rule, bucket in zip(rules, buckets[1:]):
        if not bucket:
            sample = ", ".join(n for n, _ in params[:3])
            raise ConfigError(
                f"param_groups pattern {rule['pattern']!r} matches no trainable parameter; names look like "
                f"{sample}, ... (the task's named_parameters())"
            )
    groups = [{"params": buckets[0], "lr": base_lr, "name": "base"}] if buckets[0] else []
    for rule, bucket in zip(rules, buckets[1:]):
        groups.append({"params": bucket, "lr": base_lr * float(rule.get("lr_scale", 1.0)), "name": rule["pattern"]})
    return groups
