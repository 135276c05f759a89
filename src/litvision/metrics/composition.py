"""The composition score of a caption of a generated scene (litvision.data.synth.scenes): does it name
the right objects with the right counts, and the right relation between them?

A caption is parsed with the scenes' vocabulary: object nouns (singular or plural, "coffee cup" is a
cup), the count word before each ("a", "an", "one", "two", "three"; a plural without one has no
count), relation phrases between consecutive mentions, and the background. Per image:

- objects: the mentioned kinds with their counts equal the scene's;
- relation: a scene of one group states no relation; a scene of two groups states exactly one,
  between its two mentions, which holds ("A left of B" and "B right of A" are both right);
- composition: objects and relation both right (the score the experiments report);
- background: the right background named.
Hand-written: the parser is specific to the generated scenes' grammar.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from litvision.data.synth.scenes import BACKGROUNDS, INVERSE, OBJECTS, RELATIONS

_NOUNS = {noun.split()[-1]: (kind, False) for kind, words in OBJECTS.items() for noun in words.singular}
_NOUNS.update({noun.split()[-1]: (kind, True) for kind, words in OBJECTS.items() for noun in words.plural})
_COUNTS = {"a": 1, "an": 1, "one": 1, "two": 2, "three": 3}
_MODIFIERS = {"coffee"}
_RELATION_PHRASES = sorted(
    ((tuple(p.split()), rel) for rel, phrases in RELATIONS.items() for p in phrases), key=lambda pr: -len(pr[0])
)
_BACKGROUND_WORDS = {"brick": "brick", "grass": "grass", "gravel": "gravel", "moon": "moon", "sky": "sky"}
assert set(_BACKGROUND_WORDS.values()) == set(BACKGROUNDS)


@dataclass
class ParsedCaption:
    mentions: list[tuple[str, int | None]] = field(default_factory=list)  # (kind, count)
    relations: list[tuple[int, str, int]] = field(default_factory=list)  # (mention, relation, next mention)
    background: str | None = None


def parse_caption(text: str) -> ParsedCaption:
    words = text.lower().split()
    parsed = ParsedCaption()
    pending: str | None = None
    i = 0
    while i < len(words):
        phrase = next((rel for p, rel in _RELATION_PHRASES if tuple(words[i : i + len(p)]) == p), None)
        if phrase is not None:
            pending = phrase
            i += next(len(p) for p, rel in _RELATION_PHRASES if tuple(words[i : i + len(p)]) == p)
            continue
        word = words[i]
        if word in _NOUNS:
            kind, plural = _NOUNS[word]
            j = i - 1
            while j >= 0 and words[j] in _MODIFIERS:
                j -= 1
            count = _COUNTS.get(words[j]) if j >= 0 else None
            if count is None and not plural:
                count = 1
            if pending is not None and parsed.mentions:
                parsed.relations.append((len(parsed.mentions) - 1, pending, len(parsed.mentions)))
            pending = None
            parsed.mentions.append((kind, count))
        elif word in _BACKGROUND_WORDS:
            parsed.background = _BACKGROUND_WORDS[word]
        i += 1
    return parsed


def composition_scores(caption: str, scene: dict) -> dict[str, float]:
    """{"composition", "objects", "relation", "background"}: 1.0 where right, 0.0 where wrong."""
    parsed = parse_caption(caption)
    said: Counter = Counter()
    for kind, count in parsed.mentions:
        said[kind] += count if count is not None else -100  # a count that cannot be read is never right
    truth = Counter({g["kind"]: g["count"] for g in scene["groups"]})
    objects_ok = said == truth
    if scene["relation"] is None:
        relation_ok = not parsed.relations
    else:
        a, b = scene["groups"][0]["kind"], scene["groups"][1]["kind"]
        right = {(a, scene["relation"], b), (b, INVERSE[scene["relation"]], a)}
        stated = [(parsed.mentions[i][0], rel, parsed.mentions[j][0]) for i, rel, j in parsed.relations]
        relation_ok = len(stated) == 1 and stated[0] in right
    return {
        "composition": float(objects_ok and relation_ok),
        "objects": float(objects_ok),
        "relation": float(relation_ok),
        "background": float(parsed.background == scene["background"]),
    }
