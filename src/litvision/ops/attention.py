"""The doubly stochastic attention regulariser of Xu et al., "Show, Attend and Tell" (ICML 2015), eq. 14."""

from __future__ import annotations

from torch import Tensor


def doubly_stochastic_penalty(attention: Tensor, mask: Tensor) -> Tensor:
    """sum_i (1 - sum_t alpha_ti)^2 per caption, summed over the batch and divided by its size (the
    captioning loss's normalisation): encourages the model to look at every position over the caption.
    attention (N, T, L) weights over L positions at each step; mask (N, T) true at the counted steps."""
    seen = (attention * mask[..., None]).sum(dim=1)
    return ((1 - seen) ** 2).sum() / attention.shape[0]
