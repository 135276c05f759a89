import math

import pytest
import torch

from litvision.errors import ConfigError
from litvision.ops.class_histogram import class_histogram, histogram_entropy
from litvision.ops.gan_losses import (
    bce_discriminator_loss,
    bce_generator_loss,
    gan_loss,
    hinge_discriminator_loss,
    ls_discriminator_loss,
    ls_generator_loss,
    negated_score_generator_loss,
    wasserstein_discriminator_loss,
)
from litvision.ops.gradient_penalty import gradient_penalty

REAL = torch.tensor([2.0, 0.0])
FAKE = torch.tensor([-1.0, 3.0])


def softplus(x: float) -> float:  # -log(sigmoid(-x)) = log(1 + e^x)
    return math.log1p(math.exp(x))


def test_bce_losses_by_hand():
    # real -> 1: -log sigmoid(x) = softplus(-x); fake -> 0: -log(1 - sigmoid(x)) = softplus(x)
    d = (softplus(-2) + softplus(0)) / 2 + (softplus(-1) + softplus(3)) / 2
    assert bce_discriminator_loss(REAL, FAKE).item() == pytest.approx(d, rel=1e-6)
    assert bce_generator_loss(FAKE).item() == pytest.approx((softplus(1) + softplus(-3)) / 2, rel=1e-6)


def test_bce_at_zero_logits():
    # a discriminator that cannot tell: 2 log 2 for D (log 2 per term) and log 2 for G
    zeros = torch.zeros(5)
    assert bce_discriminator_loss(zeros, zeros).item() == pytest.approx(2 * math.log(2))
    assert bce_generator_loss(zeros).item() == pytest.approx(math.log(2))


def test_least_squares_losses_by_hand():
    # 1/2 mean((2-1)^2, (0-1)^2) + 1/2 mean(1, 9) = 1/2 * 1 + 1/2 * 5
    assert ls_discriminator_loss(REAL, FAKE).item() == pytest.approx(0.5 + 2.5)
    # 1/2 mean((-2)^2, 2^2) = 2
    assert ls_generator_loss(FAKE).item() == pytest.approx(2.0)


def test_hinge_and_wasserstein_by_hand():
    # mean(relu(1-2), relu(1-0)) + mean(relu(1-1), relu(1+3)) = 0.5 + 2
    assert hinge_discriminator_loss(REAL, FAKE).item() == pytest.approx(2.5)
    assert wasserstein_discriminator_loss(REAL, FAKE).item() == pytest.approx(1.0 - 1.0)
    assert negated_score_generator_loss(FAKE).item() == pytest.approx(-1.0)


def test_gan_loss_by_name_and_bad_names():
    loss = gan_loss("wgan", gradient_penalty=10)
    assert loss.discriminator is wasserstein_discriminator_loss and loss.gradient_penalty == 10.0
    with pytest.raises(ConfigError, match="'lsgn' is not a GAN objective; choose one of bce, lsgan"):
        gan_loss("lsgn")
    with pytest.raises(ConfigError, match="gradient_penalty must be >= 0"):
        gan_loss("bce", gradient_penalty=-1)


def test_gradient_penalty_of_a_linear_critic_is_exact():
    # D(x) = <w, x> has gradient w everywhere: the penalty is (||w|| - 1)^2 = (5 - 1)^2 for w = (3, 4)
    w = torch.tensor([[3.0, 4.0]], requires_grad=True)
    real, fake = torch.randn(6, 1, 1, 2), torch.randn(6, 1, 1, 2)
    penalty = gradient_penalty(lambda x: (x.flatten(1) * w).sum(1), real, fake)
    assert penalty.item() == pytest.approx(16.0)
    # and it trains the critic: d/dw (||w|| - 1)^2 = 2 (||w|| - 1) w / ||w||
    penalty.backward()
    assert torch.allclose(w.grad, 2 * 4 * torch.tensor([[3.0, 4.0]]) / 5)


def test_gradient_penalty_is_zero_for_a_unit_gradient_critic():
    u = torch.tensor([0.6, 0.8])
    penalty = gradient_penalty(lambda x: x.flatten(1) @ u, torch.randn(4, 2), torch.randn(4, 2))
    assert penalty.item() == pytest.approx(0.0, abs=1e-10)


def test_class_histogram_and_entropy():
    logits = torch.eye(4)[[0, 1, 2, 3, 0, 1, 2, 3]]
    shares = class_histogram(logits)
    assert shares.tolist() == [0.25] * 4
    assert histogram_entropy(shares).item() == pytest.approx(math.log(4))
    collapsed = class_histogram(torch.eye(4)[[2] * 8])
    assert collapsed.tolist() == [0, 0, 1, 0] and histogram_entropy(collapsed).item() == 0.0
    # two equal modes: log 2
    assert histogram_entropy(class_histogram(torch.eye(4)[[1, 3] * 4])).item() == pytest.approx(math.log(2))
