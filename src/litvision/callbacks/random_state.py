"""Bit-exact resume: the random-number generators' states travel in every checkpoint and are put back
when training resumes from it.

Lightning checkpoints the model, optimiser, loops and callbacks, but no random state (it dropped its
experimental fault-tolerant training); after `ckpt_path=last.ckpt` a run draws the shuffle of the next
epoch, the DataLoader workers' seeds and the dropout masks from the seed of a fresh start instead of
from where the stopped run was. This callback saves the torch (CPU and CUDA), numpy and Python states
through Lightning's callback state (`state_dict` / `load_state_dict`) and restores them as the
checkpoint is restored: before the resumed run creates its training DataLoader iterator (Lightning
creates the first one before `on_train_start`) and with nothing drawing in between (Lightning runs the
sanity check inside `isolate_rng`), which is what the uninterrupted run draws next. Everything
random in an epoch follows from them: the sampler's shuffle (RandomSampler draws its seed from torch's
generator; DDP's DistributedSampler is seeded by seed + epoch), and the workers' seeds, which the
DataLoader draws from torch's generator when it starts its workers and Lightning's worker_init_fn
(seed_everything(workers=True)) turns into each worker's torch/numpy/Python seeds. Training
DataLoaders therefore start fresh workers each epoch (litvision.data.core.base), so a resumed epoch gets the
workers an uninterrupted one would have had.

Exact for checkpoints written at the end of an epoch (last.ckpt); a checkpoint from the middle of an
epoch resumes with the epoch's batches drawn again.
"""

from __future__ import annotations

import random
from typing import Any

import lightning as L
import numpy as np
import torch


def collect_random_state() -> dict[str, Any]:
    """The generators' states as tensors and plain Python values (loadable with weights_only=True)."""
    kind, keys, pos, has_gauss, cached = np.random.get_state()
    state: dict[str, Any] = {
        "torch": torch.get_rng_state(),
        "numpy": {
            "kind": kind,
            "keys": torch.from_numpy(keys.astype(np.int64)),
            "pos": int(pos),
            "has_gauss": int(has_gauss),
            "cached_gaussian": float(cached),
        },
        "python": random.getstate(),
    }
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def restore_random_state(state: dict[str, Any]) -> None:
    torch.set_rng_state(state["torch"])
    np_state = state["numpy"]
    keys = np_state["keys"].numpy().astype(np.uint32)
    np.random.set_state((np_state["kind"], keys, np_state["pos"], np_state["has_gauss"], np_state["cached_gaussian"]))
    version, internal, gauss = state["python"]
    random.setstate((version, tuple(internal), gauss))
    cuda = state.get("cuda")
    if cuda is not None and torch.cuda.is_available() and len(cuda) == torch.cuda.device_count():
        torch.cuda.set_rng_state_all(cuda)


class RandomStateCheckpoint(L.Callback):
    """Save the random state in checkpoints; restore it when training resumes from one."""

    def state_dict(self) -> dict[str, Any]:
        return collect_random_state()

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        restore_random_state(state_dict)
