"""Generative adversarial networks (Stanford cs231n assignment 3: vanilla GAN, least-squares GAN,
DCGAN; beyond it hinge and WGAN-GP objectives, a generator EMA and class conditioning).

Manual optimisation: each training batch makes one discriminator step; after every `d_steps`-th
discriminator step the generator makes `g_steps` steps (each discriminator step takes a new batch,
as WGAN-GP's critic iterations do). Lightning's `global_step` — TensorBoard's x-axis, `trainer.max_steps`,
the sample grids' step — counts every optimiser step of both nets: with the default 1:1 ratio one
batch is 2 steps. Schedulers (one per net) step once per epoch (`scheduler_interval: epoch`) or once
per training batch (`step`).

Pixels: batches hold uint8 (or [0, 1] float) images; the task maps them to [-1, 1], the range of the
generator's tanh (an InputNormalization with mean = std = 0.5), and maps samples back to [0, 1] pixels
with its inverse for the metrics and the grids.

Randomness: the noise of each optimiser step, and the validation noise, come from generators seeded
by (seed, step), so a run resumed from last.ckpt draws exactly the noise a run without the stop would.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from torch import Tensor, nn
from torch.optim.swa_utils import AveragedModel, get_ema_multi_avg_fn

from litvision.callbacks.writers.gan_samples import GANSampleWriter
from litvision.errors import ConfigError
from litvision.nets.gan_base import Discriminator, Generator
from litvision.nets.normalization import InputNormalization, to_unit_float
from litvision.ops.gan_losses import GANLoss
from litvision.ops.gradient_penalty import gradient_penalty
from litvision.tasks.base import ExportSpec, Photos, VisionTask
from litvision.tasks.gan_quality import SampleQuality

NOISE = ("uniform", "normal")
VALIDATION_STREAM = 1 << 40  # seed offset of the validation noise, far from any training step


def tanh_range(channels: int) -> InputNormalization:
    """uint8 0..255 or float [0, 1] pixels <-> float [-1, 1] (its `denormalize`, clamped)."""
    return InputNormalization([0.5] * channels, [0.5] * channels)


class GANTask(VisionTask):
    # predict.py: new samples from seeded noise (litvision.inference.sampling), not predictions on image files
    prediction_writer = GANSampleWriter
    generates_samples = True
    # its generator EMA (samples, FID, predict, export); callbacks/ema would average the discriminator as well
    own_weight_average = "model.ema_decay"

    def __init__(
        self,
        generator: Generator,
        discriminator: Discriminator,
        loss: GANLoss,
        discriminator_optimizer: Callable[..., torch.optim.Optimizer] | None = None,
        noise: str = "uniform",
        d_steps: int = 1,
        g_steps: int = 1,
        gradient_clip_val: float | None = None,
        gradient_clip_algorithm: str = "norm",
        ema_decay: float | None = None,
        classifier: nn.Module | None = None,
        fid_features: str = "classifier",
        inception_weights: str | None = None,
        kid_subsets: int = 50,
        kid_subset_size: int = 100,
        grid_samples: int = 100,
        seed: int = 0,
        **optim: Any,
    ) -> None:
        if optim.get("param_groups") or optim.get("scheduler_monitor"):
            raise ConfigError("model.param_groups / model.scheduler_monitor: the GAN's two optimisers take neither")
        super().__init__(**optim)
        self.automatic_optimization = False
        if noise not in NOISE:
            raise ConfigError(f"model.noise={noise!r}: choose one of {', '.join(NOISE)}")
        for key, value in (("d_steps", d_steps), ("g_steps", g_steps)):
            if not isinstance(value, int) or value < 1:
                raise ConfigError(f"model.{key} must be a whole number >= 1, got {value!r}")
        if gradient_clip_algorithm not in ("norm", "value"):
            raise ConfigError(f"model.gradient_clip_algorithm must be norm or value, got {gradient_clip_algorithm!r}")
        if ema_decay is not None and not 0 < ema_decay < 1:
            raise ConfigError(f"model.ema_decay must be in (0, 1) or null, got {ema_decay}")
        if generator.num_classes != discriminator.num_classes:
            raise ConfigError(
                f"generator and discriminator disagree on conditioning: num_classes {generator.num_classes} vs "
                f"{discriminator.num_classes}"
            )
        if generator.image_shape != discriminator.image_shape:
            raise ConfigError(
                f"the generator makes {generator.image_shape} images, "
                f"the discriminator takes {discriminator.image_shape}"
            )
        self.generator, self.discriminator, self.loss = generator, discriminator, loss
        self.pixels = tanh_range(generator.image_shape[0])
        self.discriminator_optimizer_factory = discriminator_optimizer
        self.noise, self.d_steps, self.g_steps, self.seed = noise, d_steps, g_steps, int(seed)
        self.gradient_clip_val, self.gradient_clip_algorithm = gradient_clip_val, gradient_clip_algorithm
        self.noise_dim, self.num_classes = generator.noise_dim, generator.num_classes
        self.ema_decay = ema_decay
        self.generator_ema = (
            AveragedModel(generator, multi_avg_fn=get_ema_multi_avg_fn(ema_decay), use_buffers=True)
            if ema_decay is not None
            else None
        )
        self.quality = self._build_quality(classifier, fid_features, inception_weights, kid_subsets, kid_subset_size)
        self.discriminator_steps = 0
        self.generator_steps = 0
        self.floor_done: set[str] = set()  # stages whose real-data floor was logged in this process
        self.last_class_shares: Tensor | None = None  # the last validation's histogram
        fixed = torch.Generator().manual_seed(self.seed)
        if self.num_classes:  # one row per class
            per_class = max(1, grid_samples // self.num_classes)
            self.register_buffer("fixed_labels", torch.arange(self.num_classes).repeat_interleave(per_class))
        else:
            self.register_buffer("fixed_labels", torch.zeros(grid_samples, dtype=torch.long))
        self.register_buffer("fixed_noise", self.draw_noise(len(self.fixed_labels), fixed, torch.device("cpu")))

    def speed_modules(self) -> dict[str, nn.Module]:
        return {"generator": self.generator, "discriminator": self.discriminator}

    def _build_quality(self, classifier, fid_features, inception_weights, kid_subsets, kid_subset_size):
        if fid_features not in ("classifier", "inception"):
            raise ConfigError(f"model.fid_features={fid_features!r}: choose classifier or inception")
        if fid_features == "inception":
            from litvision.nets.gan_features import InceptionFeatures

            extractor = InceptionFeatures(inception_weights)
        elif classifier is None:
            return None  # nothing to measure with: no val/FID (set model.classifier to get it)
        else:
            extractor = classifier
        if classifier is not None and self.num_classes and classifier.num_classes != self.num_classes:
            raise ConfigError(f"the classifier has {classifier.num_classes} classes, the GAN {self.num_classes}")
        return SampleQuality(extractor, classifier, kid_subsets, kid_subset_size)

    # --- noise and sampling ---------------------------------------------------------------------
    def draw_noise(self, n: int, generator: torch.Generator, device: torch.device) -> Tensor:
        if self.noise == "normal":
            return torch.randn(n, self.noise_dim, generator=generator, device=device)
        return torch.rand(n, self.noise_dim, generator=generator, device=device) * 2 - 1  # U[-1, 1), cs231n

    def _rng(self, stream: int) -> torch.Generator:
        return torch.Generator(device=self.device).manual_seed(self.seed * 1_000_003 + stream)

    @property
    def sampling_generator(self) -> nn.Module:
        """The generator samples come from: the EMA of the weights when enabled."""
        return self.generator_ema.module if self.generator_ema is not None else self.generator

    @torch.no_grad()
    def sample(self, noise: Tensor, labels: Tensor | None = None) -> Tensor:
        """Images in [0, 1] from `noise` (and class `labels` when conditional), in eval mode."""
        net = self.sampling_generator
        was_training = net.training
        net.eval()
        try:
            return self.pixels.denormalize(net(noise, labels if self.num_classes else None))
        finally:
            net.train(was_training)

    def forward(self, noise: Tensor, labels: Tensor | None = None) -> Tensor:
        return self.sample(noise, labels)

    def export_spec(self, photos: Photos) -> ExportSpec:
        """The generator that samples (the EMA one when model.ema_decay is set), pixels in [0, 1] out."""
        gen = torch.Generator().manual_seed(self.seed)
        noise = {
            "dtype": "float32",
            "shape": ["batch", self.noise_dim],
            "distribution": "normal(0, 1)" if self.noise == "normal" else "uniform [-1, 1)",
        }
        names, example, check = (
            ("noise",),
            (self.draw_noise(2, gen, torch.device("cpu")),),
            (self.draw_noise(5, gen, torch.device("cpu")),),
        )
        inputs, dynamic = {"noise": noise}, {"noise": {0: "batch"}}
        if self.num_classes:
            names, dynamic["labels"] = ("noise", "labels"), {0: "batch"}
            example += (torch.arange(2) % self.num_classes,)
            check += (torch.arange(5) % self.num_classes,)
            inputs["labels"] = {
                "dtype": "int64",
                "shape": ["batch"],
                "range": [0, self.num_classes - 1],
                "meaning": "the class of each sample",
            }
        channels, height, width = self.sampling_generator.image_shape
        return ExportSpec(
            module=_Sampler(self.sampling_generator, self.pixels, bool(self.num_classes)),
            example=example,
            check=check,
            input_names=names,
            output_names=("image",),
            dynamic=dynamic,
            inputs=inputs,
            outputs={
                "image": {
                    "dtype": "float32",
                    "shape": ["batch", channels, height, width],
                    "range": [0.0, 1.0],
                    "layout": "NCHW",
                }
            },
            notes=["the generator's EMA weights" if self.generator_ema is not None else "the generator's weights"],
        )

    def sample_class_shares(self) -> Tensor | None:
        return self.last_class_shares

    def grid_images(self) -> tuple[Tensor, int]:
        """The fixed-noise samples in [0, 1] and the grid's row length (one row per class when
        conditional)."""
        images = self.sample(self.fixed_noise, self.fixed_labels)
        row = len(self.fixed_labels) // self.num_classes if self.num_classes else round(len(images) ** 0.5)
        return images, max(1, row)

    # --- training -------------------------------------------------------------------------------
    def configure_callbacks(self) -> list:
        # the earliest hook of fit, before Lightning refuses trainer clipping under manual optimisation
        if self.trainer.gradient_clip_val:
            raise ConfigError(
                f"trainer.gradient_clip_val={self.trainer.gradient_clip_val}: a GAN clips its own gradients "
                "(manual optimisation); set model.gradient_clip_val instead and leave trainer.gradient_clip_val null"
            )
        if self.trainer.accumulate_grad_batches != 1:
            raise ConfigError(
                f"trainer.accumulate_grad_batches={self.trainer.accumulate_grad_batches}: a GAN steps its optimisers "
                "once per batch itself (manual optimisation); raise data.batch_size instead and leave "
                "trainer.accumulate_grad_batches at 1"
            )
        return []

    def configure_optimizers(self) -> Any:
        # named parameter groups: the LR monitor logs lr-Adam/discriminator and lr-Adam-1/generator
        opt_d = (self.discriminator_optimizer_factory or self.optimizer_factory)(
            [{"params": list(self.discriminator.parameters()), "name": "discriminator"}]
        )
        opt_g = self.optimizer_factory([{"params": list(self.generator.parameters()), "name": "generator"}])
        if self.scheduler_factory is None:
            return [opt_d, opt_g]
        return [opt_d, opt_g], [self.scheduler_factory(opt_d), self.scheduler_factory(opt_g)]

    def _clip(self, optimizer) -> None:
        if self.gradient_clip_val:
            self.clip_gradients(optimizer, self.gradient_clip_val, self.gradient_clip_algorithm)

    def _discriminator_step(self, optimizer, real: Tensor, labels: Tensor | None) -> None:
        self.toggle_optimizer(optimizer)
        rng = self._rng(self.global_step)
        with torch.no_grad():
            fake = self.generator(self.draw_noise(len(real), rng, self.device), labels)
        real_scores, fake_scores = self.discriminator(real, labels), self.discriminator(fake, labels)
        loss = self.loss.discriminator(real_scores, fake_scores)
        logs = {"train/d_loss": loss, "train/d_real": real_scores.mean(), "train/d_fake": fake_scores.mean()}
        if self.loss.gradient_penalty:
            penalty = gradient_penalty(lambda x: self.discriminator(x, labels), real, fake, rng)
            loss = loss + self.loss.gradient_penalty * penalty
            logs["train/gradient_penalty"] = penalty
        optimizer.zero_grad(set_to_none=True)
        self.manual_backward(loss)
        self._clip(optimizer)
        optimizer.step()
        self.untoggle_optimizer(optimizer)
        self.discriminator_steps += 1
        self.log_dict({k: v.detach() for k, v in logs.items()}, prog_bar=False, batch_size=len(real))

    def _generator_step(self, optimizer, n: int, labels: Tensor | None) -> None:
        self.toggle_optimizer(optimizer)
        fake = self.generator(self.draw_noise(n, self._rng(self.global_step), self.device), labels)
        loss = self.loss.generator(self.discriminator(fake, labels))
        optimizer.zero_grad(set_to_none=True)
        self.manual_backward(loss)
        self._clip(optimizer)
        optimizer.step()
        self.untoggle_optimizer(optimizer)
        self.generator_steps += 1
        if self.generator_ema is not None:
            self.generator_ema.update_parameters(self.generator)
        self.log("train/g_loss", loss.detach(), prog_bar=True, batch_size=n)

    def training_step(self, batch, batch_idx: int) -> None:
        images, labels = batch
        real = self.pixels(images)
        labels = labels if self.num_classes else None
        opt_d, opt_g = self.optimizers()
        self._discriminator_step(opt_d, real, labels)
        if self.discriminator_steps % self.d_steps == 0:
            for _ in range(self.g_steps):
                self._generator_step(opt_g, len(real), labels)
        if self.scheduler_factory is not None and self.scheduler_interval == "step":
            for scheduler in self.lr_schedulers():
                scheduler.step()

    def on_train_epoch_end(self) -> None:
        if self.scheduler_factory is not None and self.scheduler_interval == "epoch":
            for scheduler in self.lr_schedulers():
                scheduler.step()

    # --- validation and test: sample quality ----------------------------------------------------
    def _quality_step(self, batch, batch_idx: int, stage: str) -> None:
        if self.quality is None:
            return
        images, labels = batch
        real = to_unit_float(images)
        real_a, real_b = real[0::2], real[1::2]
        noise = self.draw_noise(len(real_a), self._rng(VALIDATION_STREAM + batch_idx), self.device)
        fake_labels = labels[0::2] if self.num_classes else None
        fake = self.sample(noise, fake_labels)  # the same noise at every validation
        self.quality.update(real_a, real_b, fake, floor=self._wants_floor(stage), fake_labels=fake_labels)

    def _wants_floor(self, stage: str) -> bool:
        return stage not in self.floor_done and not self.trainer.sanity_checking

    def _log_quality(self, stage: str) -> None:
        if self.quality is None:
            return
        floor = self._wants_floor(stage)
        results = self.quality.compute(floor, seed=self.seed)
        self.quality.reset()
        shares = results.pop("class_shares", None)
        if not self.trainer.sanity_checking:
            self.last_class_shares = None if shares is None else shares.cpu()
        self.log_dict({f"{stage}/{k}": v.float() for k, v in results.items()}, sync_dist=False)
        if floor:
            self.floor_done.add(stage)

    def validation_step(self, batch, batch_idx: int) -> None:
        self._quality_step(batch, batch_idx, "val")

    def on_validation_epoch_end(self) -> None:
        self._log_quality("val")

    def test_step(self, batch, batch_idx: int) -> None:
        self._quality_step(batch, batch_idx, "test")

    def on_test_epoch_end(self) -> None:
        self._log_quality("test")

    # --- prediction: samples (litvision.inference.sampling) -------------------------------------------------
    def predict_step(self, batch: dict, batch_idx: int) -> list[dict]:
        """A batch of noise rows (and classes) -> one {"image": [0, 1] (C, H, W)[, "label"]} per sample."""
        labels = batch["labels"] if self.num_classes else None
        images = self.sample(batch["noise"], labels)
        if labels is None:
            return [{"image": image} for image in images]
        return [{"image": image, "label": label} for image, label in zip(images, labels)]

    # --- checkpoints ----------------------------------------------------------------------------
    def identity(self) -> dict:
        return {
            **super().identity(),
            "generator": type(self.generator).__qualname__,
            "discriminator": type(self.discriminator).__qualname__,
            "noise_dim": self.noise_dim,
            "num_classes": self.num_classes,
            "image_shape": list(self.generator.image_shape),
            "ema": self.generator_ema is not None,
        }

    def on_save_checkpoint(self, checkpoint: dict) -> None:
        super().on_save_checkpoint(checkpoint)
        checkpoint["gan_steps"] = {"discriminator": self.discriminator_steps, "generator": self.generator_steps}

    def on_load_checkpoint(self, checkpoint: dict) -> None:
        super().on_load_checkpoint(checkpoint)
        steps = checkpoint.get("gan_steps") or {}
        self.discriminator_steps = int(steps.get("discriminator", 0))
        self.generator_steps = int(steps.get("generator", 0))


class _Sampler(nn.Module):
    """Generator + its output range back to [0, 1] pixels: noise (and labels) in, images out."""

    def __init__(self, generator: nn.Module, pixels: nn.Module, conditional: bool) -> None:
        super().__init__()
        self.generator, self.pixels, self.conditional = generator, pixels, conditional

    def forward(self, noise: Tensor, labels: Tensor | None = None) -> Tensor:
        return self.pixels.denormalize(self.generator(noise, labels if self.conditional else None))
