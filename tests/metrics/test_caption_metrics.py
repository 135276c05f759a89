"""CIDEr-D over an epoch equals pycocoevalcap on the same captions; the composition score's parser."""

import numpy as np
import pytest
import torch
from pycocoevalcap.cider.cider import Cider

from litvision.data.captions.vocabulary import Vocabulary
from litvision.data.synth.scenes import sample_scene, scene_captions
from litvision.metrics.caption_scores import CIDErD, reference_strings
from litvision.metrics.composition import composition_scores, parse_caption

VOCAB = Vocabulary.from_captions(
    [s.split() for s in ["a cat on grass", "two dogs on a brick wall", "the cat sits", "the two dogs sit on a wall"]]
)


def rows(texts, length=8):
    out = torch.zeros(len(texts), length, dtype=torch.long)
    for i, text in enumerate(texts):
        ids = [1, *(VOCAB.word_to_idx[w] for w in text.split()), 2]
        out[i, : len(ids)] = torch.tensor(ids)
    return out


def test_cider_metric_matches_pycocoevalcap_across_batches_and_counts_a_repeated_image_once():
    preds = ["a cat on grass", "two dogs on a wall", "the cat"]
    refs = [["a cat on grass", "the cat sits on grass"], ["two dogs on a brick wall"], ["the cat sits", "a cat"]]
    metric = CIDErD(VOCAB)
    padded = torch.zeros(3, 2, 8, dtype=torch.long)
    for i, r in enumerate(refs):
        padded[i, : len(r)] = rows(r)
    metric.update(rows(preds[:2]), padded[:2], torch.tensor([0, 1]))
    metric.update(rows(preds[2:]), padded[2:], torch.tensor([2]))
    metric.update(rows(preds[:1]), padded[:1], torch.tensor([0]))  # a distributed sampler's repeat
    expected, _ = Cider().compute_score({i: r for i, r in enumerate(refs)}, {i: [p] for i, p in enumerate(preds)})
    assert metric.compute().item() == pytest.approx(expected)
    assert reference_strings(VOCAB, padded)[1] == ["two dogs on a brick wall"]


def test_composition_parser_and_scores():
    scene = {
        "background": "grass",
        "groups": [{"kind": "coin", "count": 2}, {"kind": "cat", "count": 1}],
        "relation": "left",
    }
    right = composition_scores("two coins to the left of a cat on the grass", scene)
    assert right == {"composition": 1.0, "objects": 1.0, "relation": 1.0, "background": 1.0}
    assert composition_scores("a cat right of two coins", scene)["composition"] == 1.0  # the inverse holds too
    assert composition_scores("a cat left of two coins on grass", scene)["relation"] == 0.0
    assert composition_scores("three coins to the left of a cat", scene)["objects"] == 0.0
    assert composition_scores("coins to the left of a cat", scene)["objects"] == 0.0  # no count said
    assert composition_scores("two coins and a cat on grass", scene)["relation"] == 0.0  # relation left out
    single = {"background": "moon", "groups": [{"kind": "cup", "count": 3}], "relation": None}
    assert composition_scores("three coffee cups on the moon", single)["composition"] == 1.0
    assert composition_scores("three cups above a cup", single)["composition"] == 0.0
    parsed = parse_caption("an astronaut under two flowers against a starry sky")
    assert parsed.mentions == [("astronaut", 1), ("flower", 2)] and parsed.relations == [(0, "below", 1)]
    assert parsed.background == "sky"


def test_every_generated_reference_scores_full_composition():
    rng = np.random.default_rng(0)
    for _ in range(200):
        scene = sample_scene(rng)
        for caption in scene_captions(scene, rng):
            scores = composition_scores(caption, scene)
            assert scores["composition"] == 1.0, (caption, scene)


def test_bleu_equals_pycocoevalcap_with_two_references_equally_close_in_length():
    from pycocoevalcap.bleu.bleu import Bleu

    from litvision.metrics.caption_scores import BLEU

    # "two dogs on a brick wall" (6 words) lies between a 7- and a 5-word reference, the longer one first:
    # COCO's scorer takes the shorter (no brevity penalty), torchmetrics' BLEUScore took the first
    preds = ["two dogs on a brick wall", "a cat on grass"]
    refs = [["the two dogs sit on a wall", "two dogs on brick wall"], ["a cat on grass", "the cat sits on grass"]]
    metric = BLEU(VOCAB)
    padded = torch.zeros(2, 2, 9, dtype=torch.long)
    for i, r in enumerate(refs):
        padded[i, : len(r)] = rows(r, 9)
    metric.update(rows(preds[:1], 9), padded[:1], torch.tensor([0]))
    metric.update(rows(preds[1:], 9), padded[1:], torch.tensor([1]))
    expected, _ = Bleu(4).compute_score({i: r for i, r in enumerate(refs)}, {i: [p] for i, p in enumerate(preds)})
    got = metric.compute()
    assert [got[f"BLEU{n}"].item() for n in range(1, 5)] == pytest.approx(expected, abs=1e-7)  # float32
