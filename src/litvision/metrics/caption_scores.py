"""Caption metrics over an epoch, both the COCO caption scorer's own code (pycocoevalcap): BLEU-1..4
(`Bleu`, corpus BLEU against every reference of an image, the "closest" reference length — the shorter one
of two equally close, which torchmetrics' BLEUScore does not do) and CIDEr-D (`Cider`: clipped n-gram
counts, Gaussian length penalty, sigma 6 — the COCO evaluation server's "CIDEr").

Both are corpus metrics (CIDEr weighs n-grams by their document frequency over all images scored
together): a Metric keeps the token ids (tensors, so DDP gathers them) with each image's key and scores once
per epoch; an image seen twice (padding of a distributed sampler) counts once. pycocoevalcap's PTB tokenizer
(Java) is not used: the captions are already lower-case words separated by spaces
(litvision.data.captions.vocabulary.tokenize; docs/captioning.md says how that differs from PTB).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor
from torchmetrics import Metric
from torchmetrics.utilities import dim_zero_cat

from litvision.data.captions.vocabulary import START, Vocabulary


class _CaptionCorpus(Metric):
    """The generated caption and the references of every image of the epoch, as pycocoevalcap takes them."""

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

    def captions(self) -> tuple[dict[int, list[str]], dict[int, list[str]]]:
        """(gts, res): per image key its reference captions and its one generated caption."""
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
        return gts, res


class CIDErD(_CaptionCorpus):
    def compute(self) -> Tensor:
        from pycocoevalcap.cider.cider import Cider

        score, _ = Cider().compute_score(*self.captions())
        return torch.tensor(float(score), device=self.device)


class BLEU(_CaptionCorpus):
    """{"BLEU1": .., "BLEU4": ..}: pycocoevalcap's corpus BLEU with 1..4-grams, uniform weights."""

    def compute(self) -> dict[str, Tensor]:
        from pycocoevalcap.bleu.bleu import Bleu

        gts, res = self.captions()
        if not res:
            return {f"BLEU{n}": torch.tensor(0.0, device=self.device) for n in range(1, 5)}
        scores, _ = Bleu(4).compute_score(gts, res, verbose=0)
        return {f"BLEU{n}": torch.tensor(float(v), device=self.device) for n, v in enumerate(scores, 1)}


def reference_strings(vocabulary: Vocabulary, references: Tensor) -> list[list[str]]:
    """(B, R, T) caption rows -> per image its reference captions (padding rows dropped)."""
    return [[vocabulary.decode(r) for r in rows.tolist() if r[0] == START] for rows in references]


def decode_all(vocabulary: Vocabulary, tokens: Tensor | Sequence[Sequence[int]]) -> list[str]:
    rows = tokens.tolist() if isinstance(tokens, Tensor) else tokens
    return [vocabulary.decode(r) for r in rows]
