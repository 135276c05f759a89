"""The notes' fooling/class-visualisation step, X += lr * dX / ||dX||, as an optimiser descending -score."""

import pytest
import torch

from litvision.errors import ConfigError
from litvision.optim.normalized_gradient import NormalizedGradientDescent


def test_one_step_is_the_notes_update_of_length_lr():
    torch.manual_seed(0)
    weights = torch.randn(1, 3, 5, 7)
    image = torch.randn(1, 3, 5, 7, requires_grad=True)
    start = image.detach().clone()
    optimizer = NormalizedGradientDescent([image], lr=0.5)
    score = (weights * image).sum() + image.square().sum()  # a score with a gradient that depends on X
    (-score).backward()
    optimizer.step()
    dx = weights + 2 * start  # d score / d X
    torch.testing.assert_close(image.detach(), start + 0.5 * dx / dx.norm())  # gradient ascent on the score
    assert (image.detach() - start).norm().item() == pytest.approx(0.5, rel=1e-5)


def test_each_image_of_a_batch_takes_its_own_step_of_length_lr():
    images = torch.zeros(3, 3, 4, 4, requires_grad=True)
    scale = torch.tensor([1.0, 100.0, 0.0]).view(3, 1, 1, 1)  # very different gradient sizes, one zero
    (-(scale * images).sum()).backward()
    NormalizedGradientDescent([images], lr=2.0).step()
    lengths = images.detach().flatten(1).norm(dim=1)
    torch.testing.assert_close(lengths, torch.tensor([2.0, 2.0, 0.0]))  # a zero gradient: no step, no NaN


def test_closure_and_vectors():
    vector = torch.tensor([3.0, 4.0], requires_grad=True)
    optimizer = NormalizedGradientDescent([vector], lr=1.0)

    def closure():
        optimizer.zero_grad()
        loss = (vector * torch.tensor([3.0, 4.0])).sum()
        loss.backward()
        return loss

    assert optimizer.step(closure).item() == 25.0
    torch.testing.assert_close(vector.detach(), torch.tensor([3.0 - 0.6, 4.0 - 0.8]))


@pytest.mark.parametrize("lr", [0, -1.0])
def test_the_learning_rate_must_be_positive(lr):
    with pytest.raises(ConfigError, match=f"lr={lr}"):
        NormalizedGradientDescent([torch.zeros(1, requires_grad=True)], lr=lr)
