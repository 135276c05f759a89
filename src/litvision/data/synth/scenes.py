"""Scenes for the offline captioning data: cut-outs of real photographs pasted onto real backgrounds,
and reference captions built from the known composition.

A scene is either one kind of object 1-3 times ("two cats on the grass"), or a group of one or two
objects of one kind beside one object of another, left / right / above / below it ("two coins to the
left of a coffee cup in front of a brick wall"). Groups sit in their own part of the image (split at
a random line), so the relation holds for every object of the group. The captions name which
objects, how many, where and on what, so they can only be got right by looking at the image; each
image gets several references that vary the wording, the synonyms and the direction of the relation.

Objects: the cut-outs of litvision.data.synth.bananas (coffee cup, cat face, textured horse
silhouette, coins), scikit-learn's flower and the astronaut's head from scikit-image. Backgrounds:
scikit-image's brick, grass and gravel textures (tinted), its moon surface and the Hubble deep field.
`litvision.metrics.composition` parses captions back into this vocabulary.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

import numpy as np

from litvision.data.synth.bananas import CutOut, _cut, _ellipse_mask, _paste, object_cutouts
from litvision.data.synth.photos import load_photo, random_crop


@dataclass(frozen=True)
class ObjectWords:
    singular: tuple[str, ...]  # noun phrases, the first the plainest
    plural: tuple[str, ...]


OBJECTS: dict[str, ObjectWords] = {
    "cat": ObjectWords(("cat",), ("cats",)),
    "cup": ObjectWords(("cup", "coffee cup"), ("cups", "coffee cups")),
    "horse": ObjectWords(("horse",), ("horses",)),
    "coin": ObjectWords(("coin",), ("coins",)),
    "flower": ObjectWords(("flower",), ("flowers",)),
    "astronaut": ObjectWords(("astronaut",), ("astronauts",)),
}
# background -> the prepositional phrases that name it
BACKGROUNDS: dict[str, tuple[str, ...]] = {
    "brick": ("on a brick wall", "in front of a brick wall"),
    "grass": ("on the grass", "on grass"),
    "gravel": ("on gravel", "on the gravel"),
    "moon": ("on the moon", "on the surface of the moon"),
    "sky": ("in front of a starry sky", "against a starry sky"),
}
RELATIONS: dict[str, tuple[str, ...]] = {
    "left": ("to the left of", "left of"),
    "right": ("to the right of", "right of"),
    "above": ("above", "over"),
    "below": ("below", "under"),
}
INVERSE = {"left": "right", "right": "left", "above": "below", "below": "above"}
COUNT_WORDS = {2: "two", 3: "three"}


def object_images(kind: str) -> tuple[CutOut, ...]:
    """The cut-outs of one object kind (several for coins)."""
    if kind == "flower":
        return (_flower(),)
    if kind == "astronaut":
        return (_astronaut(),)
    return object_cutouts({"cat": "cat_face", "cup": "coffee_cup"}.get(kind, kind))


@cache
def _flower() -> CutOut:
    img = load_photo("flower")
    return _cut(img, _ellipse_mask(*img.shape[:2], cy=208, cx=308, ry=140, rx=142))


@cache
def _astronaut() -> CutOut:
    img = load_photo("astronaut")
    return _cut(img, _ellipse_mask(*img.shape[:2], cy=112, cx=226, ry=100, rx=78))


@cache
def background_photo(name: str) -> np.ndarray:
    """(H, W, 3) uint8 pixels of a background: greyscale textures tinted to their usual colour."""
    import skimage.data

    if name == "sky":
        return load_photo("hubble_deep_field")
    tints = {"brick": (1.0, 0.62, 0.5), "grass": (0.55, 1.0, 0.45), "gravel": (0.95, 0.9, 0.85), "moon": (1, 1, 1)}
    grey = np.asarray(getattr(skimage.data, name)(), dtype=np.float32)
    return np.clip(grey[..., None] * np.asarray(tints[name], dtype=np.float32), 0, 255).astype(np.uint8)


def sample_scene(rng: np.random.Generator, pair_fraction: float = 0.6) -> dict:
    """The composition of one image: {"background", "groups": [{"kind", "count"}, ...], "relation"}
    where relation (or None) says where groups[0] is relative to groups[1]."""
    kinds = list(OBJECTS)
    background = list(BACKGROUNDS)[int(rng.integers(len(BACKGROUNDS)))]
    if rng.random() < pair_fraction:
        a, b = rng.choice(len(kinds), size=2, replace=False)
        groups = [{"kind": kinds[a], "count": int(rng.integers(1, 3))}, {"kind": kinds[b], "count": 1}]
        relation = list(RELATIONS)[int(rng.integers(len(RELATIONS)))]
    else:
        groups = [{"kind": kinds[int(rng.integers(len(kinds)))], "count": int(rng.integers(1, 4))}]
        relation = None
    return {"background": background, "groups": groups, "relation": relation}


def _regions(scene: dict, size: int, rng: np.random.Generator) -> list[tuple[int, int, int, int]]:
    """One (x1, y1, x2, y2) region per group: the whole image, or the two sides of a split line."""
    if scene["relation"] is None:
        return [(0, 0, size, size)]
    cut = int(size * rng.uniform(0.42, 0.58))
    gap = max(1, size // 32)
    first, second = (0, 0, cut - gap, size), (cut + gap, 0, size, size)
    if scene["relation"] in ("above", "below"):
        first, second = (0, 0, size, cut - gap), (0, cut + gap, size, size)
    return [first, second] if scene["relation"] in ("left", "above") else [second, first]


def _overlaps(box: tuple[int, int, int, int], boxes: list[tuple[int, int, int, int]], allowed: float = 0.1) -> bool:
    for other in boxes:
        iw = max(0, min(box[2], other[2]) - max(box[0], other[0]))
        ih = max(0, min(box[3], other[3]) - max(box[1], other[1]))
        smaller = min((box[2] - box[0]) * (box[3] - box[1]), (other[2] - other[0]) * (other[3] - other[1]))
        if iw * ih > allowed * smaller:
            return True
    return False


def render_scene(scene: dict, size: int, rng: np.random.Generator) -> tuple[np.ndarray, list[dict]]:
    """The (size, size, 3) uint8 image of a scene and its objects [{"kind", "box": [x1, y1, x2, y2]}]."""
    canvas = random_crop(background_photo(scene["background"]), size, size, rng)
    objects: list[dict] = []
    placed: list[tuple[int, int, int, int]] = []
    for group, (rx1, ry1, rx2, ry2) in zip(scene["groups"], _regions(scene, size, rng)):
        options = object_images(group["kind"])
        for _ in range(group["count"]):
            cutout = options[int(rng.integers(len(options)))]
            h, w = cutout.rgba.shape[:2]
            for _attempt in range(100):
                side = size * rng.uniform(0.24, 0.34)
                width = max(4, min(rx2 - rx1, round(side * min(1.0, w / h))))
                height = max(4, min(ry2 - ry1, round(side * min(1.0, h / w))))
                x = int(rng.integers(rx1, rx2 - width + 1))
                y = int(rng.integers(ry1, ry2 - height + 1))
                if not _overlaps((x, y, x + width, y + height), placed):
                    break
            flip, brightness = bool(rng.integers(2)), float(rng.uniform(0.85, 1.15))
            box = _paste(canvas, cutout, x, y, width, height, flip, brightness)
            placed.append((x, y, x + width, y + height))
            objects.append({"kind": group["kind"], "box": [int(v) for v in box]})
    return canvas, objects


def _noun_phrase(group: dict, rng: np.random.Generator) -> str:
    words = OBJECTS[group["kind"]]
    if group["count"] == 1:
        noun = words.singular[int(rng.integers(len(words.singular)))]
        return f"{'an' if noun[0] in 'aeiou' else 'a'} {noun}"
    return f"{COUNT_WORDS[group['count']]} {words.plural[int(rng.integers(len(words.plural)))]}"


def _pick(options: tuple[str, ...], rng: np.random.Generator) -> str:
    return options[int(rng.integers(len(options)))]


def scene_captions(scene: dict, rng: np.random.Generator, count: int = 5) -> list[str]:
    """`count` different reference captions of a scene (lower case, words separated by spaces)."""
    bg = BACKGROUNDS[scene["background"]]
    groups, relation = scene["groups"], scene["relation"]
    if relation is None:
        g = groups[0]
        be = "is" if g["count"] == 1 else "are"
        templates = [
            lambda: f"{_noun_phrase(g, rng)} {_pick(bg, rng)}",
            lambda: f"there {be} {_noun_phrase(g, rng)} {_pick(bg, rng)}",
            lambda: f"a photo of {_noun_phrase(g, rng)} {_pick(bg, rng)}",
            lambda: f"an image showing {_noun_phrase(g, rng)} {_pick(bg, rng)}",
            lambda: f"{_noun_phrase(g, rng)} {bg[-1]}",
        ]
    else:
        a, b = groups
        be = "is" if a["count"] == 1 else "are"
        rel, inv = RELATIONS[relation], RELATIONS[INVERSE[relation]]
        templates = [
            lambda: f"{_noun_phrase(a, rng)} {_pick(rel, rng)} {_noun_phrase(b, rng)} {_pick(bg, rng)}",
            lambda: f"{_noun_phrase(b, rng)} {_pick(inv, rng)} {_noun_phrase(a, rng)} {_pick(bg, rng)}",
            lambda: f"there {be} {_noun_phrase(a, rng)} {_pick(rel, rng)} {_noun_phrase(b, rng)}",
            lambda: f"a photo of {_noun_phrase(a, rng)} {_pick(rel, rng)} {_noun_phrase(b, rng)} {_pick(bg, rng)}",
            lambda: f"an image showing {_noun_phrase(b, rng)} {_pick(inv, rng)} {_noun_phrase(a, rng)}",
            lambda: f"{_noun_phrase(a, rng)} {rel[-1]} {_noun_phrase(b, rng)} {bg[-1]}",
        ]
    order = rng.permutation(len(templates))
    captions: list[str] = []
    for index in [*order, *rng.integers(len(templates), size=4 * count)]:
        text = templates[int(index)]()
        if text not in captions:
            captions.append(text)
        if len(captions) == count:
            break
    return captions
