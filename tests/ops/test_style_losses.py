import warnings

import pytest
import torch

from litvision.ops.style import (
    content_loss,
    gram_matrix,
    style_loss,
    style_transfer_loss,
    total_variation_loss,
)


# d2l's per-image definitions, written out as the reference.
def seed_gram(X):
    num_channels, n = X.shape[1], X.numel() // X.shape[1]
    X = X.reshape((num_channels, n))
    return torch.matmul(X, X.T) / (num_channels * n)


def seed_content_loss(Y_hat, Y):
    return torch.square(Y_hat - Y.detach()).mean()


def seed_style_loss(Y_hat, gram_Y):
    return torch.square(seed_gram(Y_hat) - gram_Y.detach()).mean()


def seed_tv_loss(Y_hat):
    return 0.5 * (
        torch.abs(Y_hat[:, :, 1:, :] - Y_hat[:, :, :-1, :]).mean()
        + torch.abs(Y_hat[:, :, :, 1:] - Y_hat[:, :, :, :-1]).mean()
    )


@pytest.fixture
def gen():
    return torch.Generator().manual_seed(0)


def test_gram_matrix_hand_computed():
    features = torch.tensor([[1.0, 2.0], [3.0, 4.0]]).reshape(1, 2, 1, 2)
    # X X^T = [[5, 11], [11, 25]], divided by C * positions = 2 * 2
    expected = torch.tensor([[[1.25, 2.75], [2.75, 6.25]]])
    torch.testing.assert_close(gram_matrix(features), expected)


def test_gram_matrix_batched_matches_seed_per_image(gen):
    features = torch.randn(3, 5, 4, 6, generator=gen)
    gram = gram_matrix(features)
    assert gram.shape == (3, 5, 5)
    for i in range(3):
        torch.testing.assert_close(gram[i], seed_gram(features[i : i + 1]))


def test_gram_matrix_properties(gen):
    features = torch.randn(2, 4, 3, 5, generator=gen)
    gram = gram_matrix(features)
    torch.testing.assert_close(gram, gram.transpose(1, 2))
    assert torch.linalg.eigvalsh(gram).min() > -1e-6  # positive semi-definite
    # diagonal: sum of squares of each channel / (C * positions)
    torch.testing.assert_close(torch.diagonal(gram, dim1=1, dim2=2), features.square().sum((2, 3)) / (4 * 15))
    torch.testing.assert_close(gram_matrix(3 * features), 9 * gram)


def test_content_loss_matches_seed_and_does_not_train_the_target(gen):
    features = torch.randn(2, 3, 4, 4, generator=gen, requires_grad=True)
    target = torch.randn(2, 3, 4, 4, generator=gen, requires_grad=True)
    loss = content_loss(features, target)
    torch.testing.assert_close(loss, seed_content_loss(features, target))
    loss.backward()
    assert features.grad is not None and features.grad.abs().sum() > 0
    assert target.grad is None
    assert content_loss(target, target).item() == 0.0


@pytest.mark.parametrize("target_shape", ["CC", "1CC", "NCC"])
def test_style_loss_matches_seed_for_any_target_layout(gen, target_shape):
    features = torch.randn(2, 4, 5, 3, generator=gen)
    style = torch.randn(1, 4, 6, 6, generator=gen)
    gram = seed_gram(style)
    target = {"CC": gram, "1CC": gram[None], "NCC": gram[None].expand(2, 4, 4)}[target_shape]
    expected = torch.stack([seed_style_loss(features[i : i + 1], gram) for i in range(2)]).mean()
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no mse_loss broadcasting warning
        torch.testing.assert_close(style_loss(features, target), expected)


def test_style_loss_is_zero_for_the_style_itself_and_ignores_spatial_arrangement(gen):
    style = torch.randn(1, 4, 6, 6, generator=gen)
    target = gram_matrix(style)
    assert style_loss(style, target).item() == pytest.approx(0.0, abs=1e-7)
    shuffled = style.flatten(2)[..., torch.randperm(36, generator=gen)].reshape(1, 4, 6, 6)
    assert style_loss(shuffled, target).item() == pytest.approx(0.0, abs=1e-7)
    assert style_loss(style + 1, target).item() > 1e-3


def test_total_variation_hand_computed_and_seed(gen):
    stripes = torch.tensor([[0.0, 1.0], [0.0, 1.0]]).reshape(1, 1, 2, 2)
    # vertical differences are 0, horizontal ones are all 1
    assert total_variation_loss(stripes).item() == pytest.approx(0.5)
    assert total_variation_loss(torch.full((2, 3, 5, 5), 0.7)).item() == 0.0
    images = torch.randn(2, 3, 7, 9, generator=gen)
    torch.testing.assert_close(total_variation_loss(images), seed_tv_loss(images))


def _features(gen, n=1):
    return {
        "content": {"c": torch.randn(n, 4, 6, 6, generator=gen)},
        "style": {"s1": torch.randn(n, 4, 6, 6, generator=gen), "s2": torch.randn(n, 8, 3, 3, generator=gen)},
    }


def test_weighted_total_reproduces_d2l_compute_loss(gen):
    images = torch.randn(1, 3, 12, 12, generator=gen)
    hat, ref = _features(gen), _features(gen)
    grams = {k: seed_gram(v) for k, v in ref["style"].items()}

    # d2l's compute_loss, including `sum(10 * styles_l + ...)`, which repeats the style list
    # ten times: with style_weight 1e3 it equals a style weight of 1e4.
    content_weight, seed_style_weight, tv_weight = 1, 1e3, 10
    contents_l = [seed_content_loss(hat["content"]["c"], ref["content"]["c"]) * content_weight]
    styles_l = [seed_style_loss(hat["style"][k], grams[k]) * seed_style_weight for k in ("s1", "s2")]
    tv_l = seed_tv_loss(images) * tv_weight
    seed_total = sum(10 * styles_l + contents_l + [tv_l])

    loss = style_transfer_loss(
        images,
        hat["content"],
        ref["content"],
        hat["style"],
        grams,
        content_weight=1,
        style_weight=1e4,
        tv_weight=10,
    )
    torch.testing.assert_close(loss.total, seed_total)
    torch.testing.assert_close(loss.content, sum(contents_l))
    torch.testing.assert_close(loss.style, 10 * sum(styles_l))
    torch.testing.assert_close(loss.tv, tv_l)
    torch.testing.assert_close(loss.total, loss.content + loss.style + loss.tv)
    assert list(loss.style_per_layer) == ["s1", "s2"]
    torch.testing.assert_close(loss.style_per_layer["s2"], 10 * styles_l[1])


def test_per_layer_weights(gen):
    images = torch.randn(1, 3, 8, 8, generator=gen)
    hat, ref = _features(gen), _features(gen)
    grams = {k: gram_matrix(v) for k, v in ref["style"].items()}
    loss = style_transfer_loss(
        images,
        hat["content"],
        ref["content"],
        hat["style"],
        grams,
        content_weight={"c": 2.0},
        style_weight={"s1": 0.0, "s2": 5.0},
        tv_weight=0.0,
    )
    assert loss.style_per_layer["s1"].item() == 0.0
    torch.testing.assert_close(loss.style_per_layer["s2"], 5.0 * style_loss(hat["style"]["s2"], grams["s2"]))
    torch.testing.assert_close(loss.content, 2.0 * content_loss(hat["content"]["c"], ref["content"]["c"]))
    assert loss.tv.item() == 0.0


def test_mismatched_layers_are_rejected(gen):
    images = torch.randn(1, 3, 8, 8, generator=gen)
    hat, ref = _features(gen), _features(gen)
    grams = {k: gram_matrix(v) for k, v in ref["style"].items()}
    with pytest.raises(ValueError, match="s2"):
        style_transfer_loss(
            images,
            hat["content"],
            ref["content"],
            hat["style"],
            {"s1": grams["s1"]},
            content_weight=1,
            style_weight=1,
            tv_weight=1,
        )
    with pytest.raises(ValueError, match="style weights"):
        style_transfer_loss(
            images,
            hat["content"],
            ref["content"],
            hat["style"],
            grams,
            content_weight=1,
            style_weight={"s1": 1.0},
            tv_weight=1,
        )


def test_each_image_of_a_batch_gets_the_gradient_it_would_get_alone(gen):
    """Several content images in one run: the batch loss is the mean of the per-image losses."""
    images = torch.randn(2, 3, 8, 8, generator=gen)
    hat = {"c": torch.randn(2, 4, 4, 4, generator=gen), "s": torch.randn(2, 4, 4, 4, generator=gen)}
    content_targets = {"c": torch.randn(2, 4, 4, 4, generator=gen)}
    style_grams = {"s": gram_matrix(torch.randn(1, 4, 5, 5, generator=gen))}

    def grads(idx):
        x = images[idx].clone().requires_grad_(True)
        feats = {k: v[idx].clone().requires_grad_(True) for k, v in hat.items()}
        loss = style_transfer_loss(
            x,
            {"c": feats["c"]},
            {"c": content_targets["c"][idx]},
            {"s": feats["s"]},
            style_grams,
            content_weight=1.0,
            style_weight=100.0,
            tv_weight=0.5,
        )
        loss.total.backward()
        return x.grad, feats["c"].grad, feats["s"].grad

    batch = grads(slice(0, 2))
    for i in range(2):
        alone = grads(slice(i, i + 1))
        for b, a in zip(batch, alone):
            torch.testing.assert_close(b[i : i + 1] * 2, a)
