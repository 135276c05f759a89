"""Image captioning (Stanford cs231n assignment 3; attention after Xu et al., "Show, Attend and Tell").

Training is teacher-forced: inputs captions[:, :-1], targets captions[:, 1:], the temporal softmax
loss over the non-<NULL> targets summed and divided by the number of captions (as the assignment
does), plus the doubly stochastic attention penalty for attention nets. Validation and test add
the same loss over every reference, decode each image (greedy search, the assignment's `sample`, or
beam search) and score the captions: BLEU-1..4 against all references, CIDEr-D, and on generated
data the composition score (litvision.metrics.composition).

The vocabulary and the shape of the features come from the data, so `net` is a factory
(`_partial_: true`) called with `vocab_size` and `feature_dim` once they are known: from the data
module in `setup`, or from a checkpoint, which keeps the vocabulary, the feature shape and what
computes the features from pixels (encoder settings and PCA), so predict.py captions new images
without the data.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import partial
from typing import Any

import torch
import torchvision.transforms.v2.functional as TF
from torch import Tensor, nn
from torchmetrics import MeanMetric

from litvision.callbacks.writers.captions import CaptionPredictionWriter
from litvision.data.captions.vocabulary import END, NULL, START, Vocabulary
from litvision.errors import CheckpointMismatchError, ConfigError
from litvision.metrics.caption_scores import BLEU, CIDErD, decode_all, reference_strings
from litvision.metrics.composition import composition_scores
from litvision.nets.caption_encoder import CaptionEncoder
from litvision.ops.attention import doubly_stochastic_penalty
from litvision.ops.decoding import Decoded, beam_search, greedy_decode
from litvision.ops.recurrent import temporal_softmax_loss
from litvision.tasks.base import ExportSpec, Photos, VisionTask

COMPOSITION_PARTS = ("composition", "objects", "relation", "background")


class CaptioningTask(VisionTask):
    """beam_size: 1 decodes by greedy search (the assignment's `sample`), more by beam search with that
    many beams; max_length: generated tokens at most, <END> included (the assignment samples 30);
    length_penalty: beam scores are divided by length ** it (0: plain log-probability).
    attention_regularization: weight of the doubly stochastic penalty (attention nets only)."""

    prediction_writer = CaptionPredictionWriter

    def __init__(
        self,
        net: Callable[..., nn.Module],
        beam_size: int = 1,
        max_length: int = 30,
        length_penalty: float = 0.0,
        attention_regularization: float = 1.0,
        **optim: Any,
    ) -> None:
        super().__init__(**optim)
        if isinstance(net, nn.Module):
            raise ConfigError("model.net must be a factory (_partial_: true): the vocabulary size comes from the data")
        for key, value in (("beam_size", beam_size), ("max_length", max_length)):
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ConfigError(f"model.{key} must be a positive integer, got {value!r}")
        self.net_factory = net
        self.beam_size, self.max_length, self.length_penalty = beam_size, max_length, float(length_penalty)
        self.attention_regularization = float(attention_regularization)
        self.net: nn.Module | None = None
        self.vocabulary: Vocabulary | None = None
        self.feature_shape: tuple[int, ...] = ()
        self.encoder_config: dict | None = None
        self.projection: tuple[Tensor, Tensor] | None = None
        self.encoder: CaptionEncoder | None = None  # built for prediction only

    # --- building from the data or a checkpoint ------------------------------------------------------

    def speed_modules(self) -> dict[str, nn.Module]:
        return {"net": self._require_net()}

    def build(
        self,
        vocabulary: Vocabulary,
        feature_shape: Sequence[int],
        encoder_config: dict | None = None,
        projection: tuple[Tensor, Tensor] | None = None,
    ) -> None:
        self.vocabulary, self.feature_shape = vocabulary, tuple(int(s) for s in feature_shape)
        self.encoder_config, self.projection = encoder_config, projection
        self.net = self.net_factory(vocab_size=len(vocabulary), feature_dim=self.feature_shape[0])
        self.add_stage_metrics(
            lambda stage: nn.ModuleDict(
                {
                    "bleu": BLEU(vocabulary),
                    "cider": CIDErD(vocabulary),
                    "composition": nn.ModuleDict({k: MeanMetric() for k in COMPOSITION_PARTS}),
                }
            ),
            stages=("val", "test"),
        )

    def _data_description(self) -> dict:
        return {
            "idx_to_word": self.vocabulary.idx_to_word,
            "feature_shape": list(self.feature_shape),
            "encoder": self.encoder_config,
            "projection": list(self.projection) if self.projection is not None else None,
        }

    def _adopt(self, meta: dict, from_checkpoint: bool) -> None:
        """Build from a description of the data (the data module's or a checkpoint's), or check that
        the one the net was built from matches it."""
        source = "the checkpoint's vocabulary" if from_checkpoint else "the data's vocabulary"
        vocabulary = Vocabulary(meta["idx_to_word"], source=source)
        shape = tuple(meta["feature_shape"])
        if self.net is None:
            projection = meta.get("projection")
            self.build(vocabulary, shape, meta.get("encoder"), tuple(projection) if projection else None)
            return
        if vocabulary != self.vocabulary or shape != self.feature_shape:
            ckpt, data = ((vocabulary, shape), (self.vocabulary, self.feature_shape))[:: 1 if from_checkpoint else -1]
            raise CheckpointMismatchError(
                f"the checkpoint was trained on other data: a vocabulary of {len(ckpt[0])} words and features of "
                f"shape {ckpt[1]}, where this data has {len(data[0])} words and features {data[1]}. Run it on the "
                "data it was trained on"
            )

    def adopt_checkpoint_structure(self, checkpoint: dict) -> None:
        """Called by litvision.runtime.checkpoints.verify_checkpoint before it compares weights."""
        meta = (checkpoint.get("litvision") or {}).get("captioning")
        if meta is not None:
            self._adopt(meta, from_checkpoint=True)

    def setup(self, stage: str) -> None:
        datamodule = getattr(self.trainer, "datamodule", None)
        vocabulary = getattr(datamodule, "vocabulary", None)
        if vocabulary is None:
            if self.net is None and stage != "predict":
                raise ConfigError("the captioning task needs a captioning data module (with a vocabulary)")
            return
        projection = datamodule.projection
        description = {
            "idx_to_word": vocabulary.idx_to_word,
            "feature_shape": list(datamodule.feature_shape),
            "encoder": datamodule.encoder_config,
            "projection": list(projection) if projection is not None else None,
        }
        self._adopt(description, from_checkpoint=False)

    def on_save_checkpoint(self, checkpoint: dict) -> None:
        super().on_save_checkpoint(checkpoint)
        checkpoint["litvision"]["captioning"] = self._data_description()

    def on_load_checkpoint(self, checkpoint: dict) -> None:
        super().on_load_checkpoint(checkpoint)
        self.adopt_checkpoint_structure(checkpoint)

    def identity(self) -> dict:
        factory = self.net_factory
        name = factory.func.__qualname__ if isinstance(factory, partial) else getattr(factory, "__qualname__", "?")
        cell = factory.keywords.get("cell") if isinstance(factory, partial) else None
        return {**super().identity(), "net": name, **({"cell": cell} if cell else {})}

    # --- loss and decoding ---------------------------------------------------------------------------

    def _require_net(self) -> nn.Module:
        if self.net is None:
            raise RuntimeError("the captioning net is built in setup() or from a checkpoint")
        return self.net

    def loss(self, features: Tensor, captions: Tensor) -> Tensor:
        """Teacher-forced loss of (M, T) caption rows given their images' features (M, ...), with the
        attention penalty for attention nets (so val/loss includes it too)."""
        scores, attention = self._require_net()(features, captions[:, :-1])
        targets = captions[:, 1:]
        loss = temporal_softmax_loss(scores, targets, ignore_index=NULL)
        if attention is not None and self.attention_regularization:
            loss = loss + self.attention_regularization * doubly_stochastic_penalty(attention, targets != NULL)
        return loss

    def decode(self, features: Tensor) -> Decoded:
        net = self._require_net()
        state = net.initial_state(features)
        common = dict(start_id=START, end_id=END, null_id=NULL, max_length=self.max_length)
        if self.beam_size > 1:
            return beam_search(net.step, state, beam_size=self.beam_size, length_penalty=self.length_penalty, **common)
        return greedy_decode(net.step, state, **common)

    def attention_maps(self, decoded: Decoded) -> Tensor | None:
        """(N, max_length, h, w) attention per generated word, for nets on a feature grid."""
        attention = decoded.extras.get("attention")
        if attention is None or len(self.feature_shape) != 3:
            return None
        return attention.view(*attention.shape[:2], *self.feature_shape[1:])

    # --- steps ---------------------------------------------------------------------------------------

    def training_step(self, batch: dict, batch_idx: int) -> Tensor:
        loss = self.loss(batch["features"], batch["captions"])
        self.log("train/loss", loss, on_step=True, on_epoch=True, prog_bar=True, batch_size=len(batch["captions"]))
        return loss

    def _evaluate(self, batch: dict, stage: str) -> dict:
        features, references = batch["features"], batch["captions"]
        real = references[..., 0] == START  # (B, R); padding rows are all <NULL>
        repeated = features.repeat_interleave(references.shape[1], dim=0)[real.flatten()]
        loss = self.loss(repeated, references.flatten(0, 1)[real.flatten()])
        self.log(f"{stage}/loss", loss, on_epoch=True, sync_dist=True, batch_size=int(real.sum()))
        decoded = self.decode(features)
        captions = decode_all(self.vocabulary, decoded.tokens)
        refs = reference_strings(self.vocabulary, references)
        metrics = self.stage_metrics(stage)
        metrics["bleu"].update(decoded.tokens, references, batch["index"])
        metrics["cider"].update(decoded.tokens, references, batch["index"])
        if "scene" in batch:
            parts = metrics["composition"]
            for caption, scene in zip(captions, batch["scene"]):
                for name, value in composition_scores(caption, scene).items():
                    parts[name].update(value)
        return {
            "captions": captions,
            "references": refs,
            "index": batch["index"],
            "attention": self.attention_maps(decoded),
        }

    def validation_step(self, batch: dict, batch_idx: int) -> dict:
        # the captions (and attention maps) go to callbacks (litvision.callbacks.grids.captions)
        return self._evaluate(batch, "val")

    def test_step(self, batch: dict, batch_idx: int) -> dict:
        return self._evaluate(batch, "test")

    def _log_scores(self, stage: str) -> None:
        metrics = self.stage_metrics(stage)
        cider = metrics["cider"]
        if not cider.update_called:
            return
        for name, value in metrics["bleu"].compute().items():
            self.log(f"{stage}/{name}", value, prog_bar=name == "BLEU4")
        metrics["bleu"].reset()
        self.log(f"{stage}/CIDEr", cider.compute(), prog_bar=True)
        cider.reset()
        for name, metric in metrics["composition"].items():
            if metric.update_called:
                key = "composition" if name == "composition" else f"composition_{name}"
                self.log(f"{stage}/{key}", metric.compute(), prog_bar=name == "composition")
            metric.reset()

    def on_validation_epoch_end(self) -> None:
        self._log_scores("val")

    def on_test_epoch_end(self) -> None:
        self._log_scores("test")

    # --- prediction ----------------------------------------------------------------------------------

    def _encoder(self) -> CaptionEncoder:
        if self.encoder is None:
            if self.encoder_config is None:
                raise ConfigError(
                    "this checkpoint's features cannot be computed from pixels (e.g. cs231n's VGG-16 fc7 files), "
                    "so it captions no image files; train on an image layout (COCO JSON, Karpathy, generated)"
                )
            self.encoder = CaptionEncoder(**self.encoder_config)
            if self.projection is not None:
                self.encoder.set_projection(*self.projection)
            self.encoder.to(self.device)
        return self.encoder

    def export_spec(self, photos: Photos) -> ExportSpec:
        """Refused, saying why: a caption is a loop (greedy or beam search over the vocabulary, stopping at <END>),
        not one pass of a network, and an encoder + one-step-decoder pair would leave that loop, the vocabulary and
        the beam bookkeeping to every consumer to re-implement."""
        raise ConfigError(
            "captioning is not exported: a caption comes from a decoding loop (beam search over the vocabulary "
            "until <END>), not from one pass of a network; use predict.py ckpt_path=<this checkpoint> input=<images>"
        )

    def predict_step(self, batch: dict, batch_idx: int = 0) -> list[dict]:
        """{"image": uint8 (B, 3, S, S) or a list of (3, S, S), "path", "meta"} -> per image
        {"tokens": (max_length,), "log_prob": (), "attention": (max_length, h, w) for attention nets}."""
        encoder = self._encoder()
        images = batch["image"]
        if isinstance(images, (list, tuple)):  # files of different sizes: each to the encoder's size
            size = [encoder.image_size] * 2
            images = torch.stack([TF.resize(im, size, antialias=True) for im in images])
        decoded = self.decode(encoder(images.to(self.device)))
        maps = self.attention_maps(decoded)
        out = []
        for i in range(len(images)):
            item = {"tokens": decoded.tokens[i], "log_prob": decoded.log_prob[i]}
            if maps is not None:
                item["attention"] = maps[i]
            out.append(item)
        return out
