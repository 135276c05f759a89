"""What a GAN's samples are measured with at validation and test: FID and KID (torchmetrics) against
real images, the same two between two halves of real data (the floor: what a perfect generator would
score with this many samples and these features), and the collapse monitor (the class histogram of
the samples under a classifier, and its entropy; for a conditional generator also how often the
classifier sees the class each sample was asked for).

The real images of the split are divided into halves A and B (alternate images). FID and KID compare
A with as many generated images; the floors compare A with B — the same sample sizes and features,
so the two numbers are comparable.
"""

from __future__ import annotations

import warnings

import torch
from torch import Tensor, nn
from torchmetrics import Metric
from torchmetrics.classification import MulticlassAccuracy
from torchmetrics.image.fid import FrechetInceptionDistance
from torchmetrics.image.kid import KernelInceptionDistance

from litvision.ops.class_histogram import class_counts, class_shares, histogram_entropy


class PrecomputedFeatures(nn.Module):
    """torchmetrics' `feature` module for features extracted beforehand: each image is put through
    the extractor once and the features go to all four metrics, rather than four forward passes."""

    def __init__(self, num_features: int) -> None:
        super().__init__()
        self.num_features = int(num_features)

    def forward(self, features: Tensor) -> Tensor:
        return features


class ClassCounts(Metric):
    """How many samples the classifier puts in each class (summed over batches and processes)."""

    full_state_update = False

    def __init__(self, num_classes: int) -> None:
        super().__init__()
        self.add_state("counts", torch.zeros(num_classes, dtype=torch.long), dist_reduce_fx="sum")

    def update(self, logits: Tensor) -> None:
        self.counts += class_counts(logits)

    def compute(self) -> Tensor:
        return class_shares(self.counts)


class SampleQuality(nn.Module):
    """`extractor` maps [0, 1] images to (B, D) features (`num_features` = D); `classifier` (optional;
    may be the extractor itself, a `ClassifierFeatures`) gives the class scores for the histogram."""

    def __init__(
        self,
        extractor: nn.Module,
        classifier: nn.Module | None = None,
        kid_subsets: int = 50,
        kid_subset_size: int = 100,
    ) -> None:
        super().__init__()
        self.extractor, self.classifier = extractor, classifier
        self.conditional = False  # set by the first update with fake_labels
        self.kid_subset_size = int(kid_subset_size)
        features = PrecomputedFeatures(extractor.num_features)
        self.fid, self.fid_floor = (FrechetInceptionDistance(feature=features) for _ in range(2))
        with warnings.catch_warnings():  # "KID will save all extracted features": a few thousand here
            warnings.simplefilter("ignore", UserWarning)
            self.kid, self.kid_floor = (
                KernelInceptionDistance(feature=features, subsets=kid_subsets, subset_size=kid_subset_size)
                for _ in range(2)
            )
        if classifier is not None:
            self.fake_classes = ClassCounts(classifier.num_classes)
            self.real_classes = ClassCounts(classifier.num_classes)
            # conditional generators: how often the classifier sees the class the sample was asked for
            self.label_accuracy = MulticlassAccuracy(classifier.num_classes, average="micro")

    def _measure(self, images: Tensor) -> tuple[Tensor, Tensor | None]:
        """Features and (when there is a classifier) class scores, in one pass where they share a net."""
        features = self.extractor(images).float()
        if self.classifier is None:
            return features, None
        if self.classifier is self.extractor:
            return features, self.classifier.net.head(features)
        return features, self.classifier.logits(images)

    @torch.no_grad()
    def update(
        self, real_a: Tensor, real_b: Tensor, fake: Tensor, floor: bool, fake_labels: Tensor | None = None
    ) -> None:
        """One batch: halves A and B of the real images and generated images (as many as A), all in
        [0, 1]. `floor`: also accumulate the real-vs-real floors (once per run is enough).
        `fake_labels`: the classes a conditional generator was asked for."""
        feats_a, logits_a = self._measure(real_a)
        feats_fake, logits_fake = self._measure(fake)
        for metric in (self.fid, self.kid):
            metric.update(feats_a, real=True)
            metric.update(feats_fake, real=False)
        if logits_fake is not None:
            self.fake_classes.update(logits_fake)
            if fake_labels is not None:
                self.label_accuracy.update(logits_fake, fake_labels)
                self.conditional = True
        if floor:
            feats_b, logits_b = self._measure(real_b)
            for metric in (self.fid_floor, self.kid_floor):
                metric.update(feats_a, real=True)
                metric.update(feats_b, real=False)
            if logits_a is not None:
                self.real_classes.update(torch.cat([logits_a, logits_b]))

    def _kid(self, metric: KernelInceptionDistance, seed: int) -> Tensor:
        n = min(sum(len(f) for f in metric.real_features), sum(len(f) for f in metric.fake_features))
        metric.subset_size = min(self.kid_subset_size, n)
        with torch.random.fork_rng(devices=[]):  # KID draws its subsets from the global generator
            torch.manual_seed(seed)
            return metric.compute()[0]

    def compute(self, floor: bool, seed: int = 0) -> dict[str, Tensor]:
        """{FID, KID, (FID_floor, KID_floor,) class_entropy, class_max_share, (class_entropy_real,
        label_accuracy)} and the fake class shares under "class_shares" (not a scalar)."""
        out = {"FID": self.fid.compute(), "KID": self._kid(self.kid, seed)}
        if floor:
            out.update(FID_floor=self.fid_floor.compute(), KID_floor=self._kid(self.kid_floor, seed))
        if self.classifier is not None:
            shares = self.fake_classes.compute()
            out.update(class_entropy=histogram_entropy(shares), class_max_share=shares.max(), class_shares=shares)
            if floor:
                out["class_entropy_real"] = histogram_entropy(self.real_classes.compute())
            if self.conditional:
                out["label_accuracy"] = self.label_accuracy.compute()
        return out

    def reset(self) -> None:
        for metric in (self.fid, self.kid, self.fid_floor, self.kid_floor):
            metric.reset()
        if self.classifier is not None:
            self.fake_classes.reset()
            self.real_classes.reset()
            self.label_accuracy.reset()
