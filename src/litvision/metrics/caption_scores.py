"""Caption metrics over an epoch: BLEU-1..4 (torchmetrics' BLEUScore, every reference of an image)
and CIDEr-D (pycocoevalcap's Cider: clipped n-gram counts, Gaussian length penalty, sigma 6 — the
COCO evaluation server's "CIDEr").

CIDEr weighs n-grams by their document frequency over all images scored together, so it is a
corpus metric: this Metric keeps the token ids (tensors, so DDP gathers them) with each image's key
and scores once per epoch; an image seen twice (padding of a distributed sampler) counts once.
BLEU is corpus-level too, and torchmetrics' sums already synchronise. pycocoevalcap's PTB tokenizer
(Java) is not used: the captions are already lower-case words separated by spaces.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor
from torchmetrics import Metric
from torchmetrics.text import BLEUScore
from torchmetrics.utilities import dim_zero_cat

from litvision.data.captions.vocabulary import START, Vocabulary


class CIDErD(Metric):
    full_state_update = False

    def __init__(self, vocabulary: Vocabulary, **kwargs) -> None:
        super().__init__(**kwargs)
        self.vocabulary = vocabulary
        self.add_state("preds", default=[], dist_reduce_fx="cat")
        self.add_state("pred_keys", default=[], dist_reduce_fx="cat")
        self.add_state("refs", default=[], dist_reduce_fx="cat")
        self.add_state("ref_counts", default=[], dist_reduce_fx="cat")

    def update(self, preds: Tensor, references: Tensor, keys: Tensor) -> None:
        """preds (B, L) generated ids; references (B, R, T) caption rows (all-<NULL> rows are padding);
        keys (B,) an id per image, unique over the epoch."""
        real = references[..., 0] == START
        self.preds.append(preds)
        self.pred_keys.append(keys)
        self.refs.append(references[real])  # image by image, in batch order
        self.ref_counts.append(real.sum(dim=1))

    def compute(self) -> Tensor:
        from pycocoevalcap.cider.cider import Cider

        preds, keys = dim_zero_cat(self.preds).tolist(), dim_zero_cat(self.pred_keys).tolist()
        refs, counts = dim_zero_cat(self.refs).tolist(), dim_zero_cat(self.ref_counts).tolist()
        res: dict[int, list[str]] = {}
        gts: dict[int, list[str]] = {}
        start = 0
        for key, pred, count in zip(keys, preds, counts):
            if key not in res:  # an image scored twice (a distributed sampler's padding) counts once
                res[key] = [self.vocabulary.decode(pred)]
                gts[key] = [self.vocabulary.decode(r) for r in refs[start : start + count]]
            start += count
        score, _ = Cider().compute_score(gts, res)
        return torch.tensor(float(score), device=self.device)


def bleu_metrics() -> dict[str, BLEUScore]:
    """BLEU1 .. BLEU4: corpus BLEU with 1..n-grams, uniform weights."""
    return {f"BLEU{n}": BLEUScore(n_gram=n) for n in range(1, 5)}


def reference_strings(vocabulary: Vocabulary, references: Tensor) -> list[list[str]]:
    """(B, R, T) caption rows -> per image its reference captions (padding rows dropped)."""
    return [[vocabulary.decode(r) for r in rows.tolist() if r[0] == START] for rows in references]


def decode_all(vocabulary: Vocabulary, tokens: Tensor | Sequence[Sequence[int]]) -> list[str]:
    rows = tokens.tolist() if isinstance(tokens, Tensor) else tokens
    return [vocabulary.decode(r) for r in rows]
