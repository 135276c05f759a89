"""Saliency maps on a hand-built classifier whose "red object" score comes from wherever a red blob
is in the picture: the map must light up on the object and nowhere much else."""

import torch
from torch import nn

from litvision.ops.saliency import saliency_maps


class RedObjectClassifier(nn.Module):
    """Class 0 "red object": a smooth maximum over positions of a 3x3 redness detector (R minus the
    mean of G and B), so its score depends on the reddest region only. Class 1 "bright": the mean
    brightness, which every pixel changes alike."""

    def __init__(self):
        super().__init__()
        self.redness = nn.Conv2d(3, 1, 3, padding=1, bias=False)
        with torch.no_grad():
            self.redness.weight.zero_()
            self.redness.weight[0, 0] = 1 / 9
            self.redness.weight[0, 1:] = -0.5 / 9

    def forward(self, images):
        response = self.redness(images).flatten(1)
        red = torch.logsumexp(20 * response, dim=1) / 20  # sharp, smooth maximum over positions
        bright = images.mean(dim=(1, 2, 3))
        return torch.stack([red, bright], dim=1)


def grey_scene_with_red_square(top, left, size=6, height=32, width=40, seed=0):
    generator = torch.Generator().manual_seed(seed)
    image = 0.5 + 0.05 * torch.randn(3, height, width, generator=generator)  # textured grey
    image[0, top : top + size, left : left + size] = 0.9
    image[1:, top : top + size, left : left + size] = 0.1
    return image


def test_saliency_is_highest_on_the_object():
    images = torch.stack([grey_scene_with_red_square(4, 6), grey_scene_with_red_square(20, 28, seed=1)])
    saliency, labels, scores = saliency_maps(RedObjectClassifier().eval(), images, torch.tensor([0, 0]))
    assert saliency.shape == (2, 32, 40) and (saliency >= 0).all()
    assert labels.tolist() == [0, 0] and scores.shape == (2, 2)
    for i, (top, left) in enumerate([(4, 6), (20, 28)]):
        inside = torch.zeros(32, 40, dtype=torch.bool)
        inside[max(top - 1, 0) : top + 7, max(left - 1, 0) : left + 7] = True  # the square and the detector's reach
        row, col = divmod(int(saliency[i].argmax()), 40)
        assert inside[row, col], (row, col)
        # nearly all of the map's mass is on the object, a small part of the picture
        assert saliency[i][inside].sum() > 0.95 * saliency[i].sum()
        assert saliency[i][inside].mean() > 50 * saliency[i][~inside].mean()


def test_a_score_every_pixel_changes_alike_gives_a_flat_map():
    image = grey_scene_with_red_square(4, 6)[None]
    saliency, _, _ = saliency_maps(RedObjectClassifier().eval(), image, torch.tensor([1]))
    torch.testing.assert_close(saliency, torch.full_like(saliency, 1 / (3 * 32 * 40)))


def test_the_map_is_the_absolute_gradient_max_over_channels():
    torch.manual_seed(0)
    net = nn.Sequential(nn.Conv2d(3, 4, 3), nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(4, 5)).eval()
    images = torch.randn(3, 3, 12, 12)
    labels = torch.tensor([2, 0, 4])
    saliency, _, _ = saliency_maps(net, images, labels)
    for i in range(3):  # one image at a time, by hand: the batch does not couple the images
        x = images[i : i + 1].clone().requires_grad_()
        net(x)[0, labels[i]].backward()
        torch.testing.assert_close(saliency[i], x.grad[0].abs().max(dim=0).values)


def test_a_negative_label_explains_the_predicted_class():
    images = torch.stack([grey_scene_with_red_square(4, 6), torch.full((3, 32, 40), 0.5)])
    net = RedObjectClassifier().eval()
    assert net(images).argmax(dim=1).tolist() == [0, 1]  # red square: "red object"; plain grey: "bright"
    saliency, labels, _ = saliency_maps(net, images, torch.tensor([-1, -1]))
    assert labels.tolist() == [0, 1]
    saliency, labels, _ = saliency_maps(net, images, torch.tensor([1, -1]))  # a label wins over the prediction
    assert labels.tolist() == [1, 1]
    expected, _, _ = saliency_maps(net, images[:1], torch.tensor([1]))
    torch.testing.assert_close(saliency[0], expected[0])


def test_the_input_images_are_left_untouched():
    images = grey_scene_with_red_square(4, 6)[None]
    before = images.clone()
    saliency_maps(RedObjectClassifier().eval(), images, torch.tensor([0]))
    assert torch.equal(images, before) and images.grad is None and not images.requires_grad
