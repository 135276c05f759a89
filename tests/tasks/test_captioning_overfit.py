"""cs231n assignment 3's overfitting check: 50 training captions, hidden 512, word vectors 256, Adam lr
5e-3 decayed x0.995 per epoch, 50 epochs of batches of 25; the loss ends below 0.1 (RNN) and 0.5 (LSTM).
Run on the generated cs231n-layout files, through the task's loss. As in the assignment (50 captions
sampled from 400k) every caption is of a different image: one image's five different references
could not all be memorised from the same features."""

import pytest
import torch

from litvision.data.captions.cs231n import CS231nCaptioningDataModule
from litvision.nets.captioning_rnn import CaptioningRNN
from litvision.tasks.captioning import CaptioningTask


@pytest.mark.slow
@pytest.mark.parametrize("cell, target", [("rnn", 0.1), ("lstm", 0.5)])
def test_overfit_50_captions(caption_root, cell, target):
    torch.manual_seed(0)
    data = CS231nCaptioningDataModule(caption_root, batch_size=25)
    data.setup("fit")
    split = data.splits["train"]
    first = [int(split.references_index(j)[0]) for j in range(50)]
    captions = torch.from_numpy(split.captions[first])
    features = torch.stack([split.image_features(j) for j in range(50)])
    task = CaptioningTask(
        net=lambda **k: CaptioningRNN(**k, wordvec_dim=256, hidden_dim=512, cell=cell),
        optimizer=lambda params: torch.optim.Adam(params, lr=5e-3),
    )
    task.build(data.vocabulary, data.feature_shape)
    optimizer = torch.optim.Adam(task.parameters(), lr=5e-3)
    schedule = torch.optim.lr_scheduler.ExponentialLR(optimizer, gamma=0.995)
    for _ in range(50):
        order = torch.randperm(50)
        for batch in order.split(25):
            loss = task.loss(features[batch], captions[batch])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
        schedule.step()
    assert loss.item() < target
