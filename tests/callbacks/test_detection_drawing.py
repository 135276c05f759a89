"""Detection pictures a person can read: small inputs drawn upscaled, each label on a filled box of its class's
colour inside the image, one colour per class, and the grid's rows titled."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import torch
from PIL import ImageColor

from litvision.callbacks.grids.detection import DetectionGrid
from litvision.utils.box_drawing import MIN_SIDE, class_colour, draw_instances
from litvision.utils.captions import CARD_WIDTH


def _rgb(colour: str) -> torch.Tensor:
    return torch.tensor([int(colour[i : i + 2], 16) for i in (1, 3, 5)], dtype=torch.uint8)


def _pixels_of(image: torch.Tensor, colour: str) -> torch.Tensor:
    return (image == _rgb(colour)[:, None, None]).all(0)


def test_small_inputs_are_upscaled_and_labels_sit_on_their_class_colour_inside_the_image():
    image = torch.full((3, 128, 128), 200, dtype=torch.uint8)
    # class 0 at the right edge (its label would run off the image), class 1 at the top edge
    detections = {
        "boxes": torch.tensor([[110.0, 60.0, 127.0, 90.0], [10.0, 0.0, 40.0, 30.0]]),
        "labels": torch.tensor([0, 1]),
        "scores": torch.tensor([0.9, 0.8]),
    }
    drawn = draw_instances(image, detections, ["coffee_cup", "cat_face"], score_threshold=0.5)
    assert drawn.shape == (3, MIN_SIDE, MIN_SIDE)  # 128 px drawn 3 times larger
    first, second = _pixels_of(drawn, class_colour(0)), _pixels_of(drawn, class_colour(1))
    assert class_colour(0) != class_colour(1)
    # a filled label: a solid run of the class colour far longer than a box line, wide enough for its text
    rows = first.sum(1)
    assert rows.max() > 70  # the box is 51 px wide
    label_row = int(rows.argmax())
    columns = first[label_row].nonzero().flatten()
    assert int(columns.max()) <= MIN_SIDE - 1 and int(columns.min()) < 330  # shifted left to stay inside
    assert second.sum(1).max() > 60  # the top box's label is inside too (below the edge, not cut off)
    # the label's text is drawn on it (white on this red), not only the fill
    label = drawn[:, max(label_row - 10, 0) : label_row + 10, int(columns.min()) : int(columns.max()) + 1]
    assert (label > 230).all(0).sum() > 10


def test_detection_grid_titles_its_columns_and_fits_tensorboards_card():
    images = torch.rand(2, 3, 48, 64)
    target = {"boxes": torch.tensor([[5.0, 5.0, 30.0, 30.0]]), "labels": torch.tensor([0])}
    pred = {**target, "scores": torch.tensor([0.9])}
    task = SimpleNamespace(class_names=["banana"])
    outputs = {"images": images, "preds": [pred, pred], "targets": [target, target]}
    grid = DetectionGrid(max_images=2).grid(None, task, outputs, None)
    side = 166  # each image drawn with its longer side at half the card, labels at their own 12 px
    assert grid.shape[-1] == CARD_WIDTH == 2 * (side + 2 * 2)  # truth | prediction, 2 px padding
    title = grid.shape[-2] - (2 * round(48 * side / 64) + 3 * 2)  # a row per image
    assert 12 <= title <= 30  # one strip of column titles
    strip = grid[:, :title, : CARD_WIDTH // 2]
    assert (strip < 0.3).all(0).sum() > 20  # dark text on white: "truth"
    # the boxes sit where they were, scaled with the image (64 px -> 166 px): x 5 -> 13, in the left column
    box_colour = torch.tensor(ImageColor.getrgb(class_colour(0))) / 255
    drawn = (grid[:, title:] - box_colour[:, None, None]).abs().amax(0) < 0.02
    columns = drawn.any(0).nonzero().flatten()
    assert 2 + 12 <= int(columns.min()) <= 2 + 15


def test_gan_sample_grids_say_when_they_were_drawn(tmp_path):
    from PIL import Image

    from litvision.callbacks.grids.gan_samples import GANSamples

    task = SimpleNamespace(grid_images=lambda: (torch.zeros(4, 1, 16, 16), 2))
    trainer = SimpleNamespace(
        fit_loop=SimpleNamespace(total_batch_idx=119), current_epoch=2, default_root_dir=str(tmp_path), loggers=[]
    )
    path = GANSamples(every_n_batches=10).write_grid(trainer, task)
    assert path.name == "batch_0000120.png"
    pixels = torch.from_numpy(np.array(Image.open(path).convert("L")))
    grid_side = 2 * 18 + 2
    title = pixels[: pixels.shape[0] - grid_side]
    assert title.shape[0] >= 12 and (title < 100).sum() > 30  # dark text on white above the samples


def test_heldout_stylisation_grid_shows_the_style_and_titles_its_rows():
    from litvision.callbacks.grids.heldout_stylised import HeldOutStylised

    style = torch.zeros(1, 3, 40, 80)
    style[:, 0] = 1.0  # pure red: findable in the grid
    task = SimpleNamespace(style_reference=lambda: style)
    trainer = SimpleNamespace(current_epoch=1)
    photos = torch.full((2, 3, 48, 48), 128, dtype=torch.uint8)
    grid = HeldOutStylised(max_images=2).grid(trainer, task, {"stylised": torch.full((2, 3, 48, 48), 0.5)}, photos)
    red = (grid[0] > 0.95) & (grid[1] < 0.05) & (grid[2] < 0.05)
    assert red.sum() >= 48 * 96 * 0.9  # the style at the photographs' height (48 x 96)
    assert grid.shape[-2] > 3 * 48 + 3 * 12  # three rows, each under a title
    dark = (grid < 0.2).all(0)
    assert dark[: grid.shape[-2] // 4].sum() > 20  # the first title ("style") is text on white
