"""Text under images, for result pictures that carry their own explanation (class names,
probabilities). Hand-written with Pillow's drawing: torchvision draws text only as box labels."""

from __future__ import annotations

from collections.abc import Sequence
from functools import cache

import torch
import torchvision.transforms.v2.functional as TF
from PIL import Image, ImageDraw, ImageFont
from torchvision.utils import make_grid

# TensorBoard draws an image scaled down to its card (about 350 px wide in the IMAGES tab) unless "Show actual
# image size" is ticked: a picture whose text must be read there is laid out at most this wide, or its titles
# are scaled up with its width
CARD_WIDTH = 340


@cache
def _font(size: int) -> ImageFont.ImageFont | ImageFont.FreeTypeFont:
    return ImageFont.load_default(size=size)  # Pillow's bundled font: no font files needed


def wrap(lines: Sequence[str], font: ImageFont.ImageFont | ImageFont.FreeTypeFont, width: int) -> list[str]:
    """`lines` broken at spaces so that each is at most `width` pixels long in `font` (a single longer word
    stays whole)."""
    wrapped = []
    for line in lines:
        current = ""
        for word in line.split(" "):
            candidate = f"{current} {word}" if current else word
            if current and font.getlength(candidate) > width:
                wrapped.append(current)
                current = word
            else:
                current = candidate
        wrapped.append(current)
    return wrapped


def caption_below(
    image: torch.Tensor, lines: Sequence[str], font_size: int = 12, margin: int = 4, width: int | None = None
) -> torch.Tensor:
    """A (3, H, W) image with values in [0, 1] above `lines` of black text on white, as one
    (3, H + text height, max(W, text width)) tensor (the image centred when the text is wider). With `width`,
    the text is wrapped to max(W, width) pixels and the tile is that wide (wider only for a longer single word)."""
    font = _font(font_size)
    if width is not None:
        lines = wrap(lines, font, max(image.shape[-1], width) - 2 * margin)
    line_height = font_size + 3
    width = max([image.shape[-1], width or 0, *(int(font.getlength(line)) + 2 * margin for line in lines)])
    height = image.shape[-2] + margin + line_height * len(lines) + margin
    canvas = Image.new("RGB", (width, height), "white")
    pixels = TF.to_dtype(image.detach().cpu().clamp(0, 1), torch.uint8, scale=True)
    canvas.paste(TF.to_pil_image(pixels), ((width - image.shape[-1]) // 2, 0))
    draw = ImageDraw.Draw(canvas)
    for i, line in enumerate(lines):
        draw.text((margin, image.shape[-2] + margin + i * line_height), line, fill="black", font=font)
    return TF.to_dtype(TF.pil_to_tensor(canvas), torch.float32, scale=True)


def title_above(image: torch.Tensor, title: str, font_size: int = 16, margin: int = 4) -> torch.Tensor:
    """A (3, H, W) image in [0, 1] under a line of black text on white (a grid row's title): (3, H + text, W').
    The font grows with W so that the title still reads at about 12 px where TensorBoard shrinks the picture
    to its card (CARD_WIDTH)."""
    font_size = max(font_size, round(12 * image.shape[-1] / CARD_WIDTH))
    margin = max(margin, font_size // 4)
    font = _font(font_size)
    width = max(image.shape[-1], int(font.getlength(title)) + 2 * margin)
    strip = font_size + 2 * margin
    canvas = Image.new("RGB", (width, image.shape[-2] + strip), "white")
    canvas.paste(TF.to_pil_image(TF.to_dtype(image.detach().cpu().clamp(0, 1), torch.uint8, scale=True)), (0, strip))
    ImageDraw.Draw(canvas).text((margin, margin), title, fill="black", font=font)
    return TF.to_dtype(TF.pil_to_tensor(canvas), torch.float32, scale=True)


def tile(images: Sequence[torch.Tensor], columns: int, padding: int = 4) -> torch.Tensor:
    """(3, H_i, W_i) images of any sizes in a grid on white, each padded to the largest (right, bottom)."""
    height = max(im.shape[-2] for im in images)
    width = max(im.shape[-1] for im in images)
    padded = [
        torch.nn.functional.pad(im, (0, width - im.shape[-1], 0, height - im.shape[-2]), value=1.0) for im in images
    ]
    return make_grid(padded, nrow=columns, padding=padding, pad_value=1.0)
