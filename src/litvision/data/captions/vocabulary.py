"""Caption vocabularies in the layout of Stanford cs231n assignment 3: ids 0-3 are <NULL>, <START>,
<END>, <UNK>; a caption row is <START>, the words, <END>, then <NULL> padding.

Built from training captions with a minimum count (rarer words become <UNK>), or read from a data
set's vocabulary file (cs231n's coco2014_vocab.json: {"idx_to_word": [...], "word_to_idx": {...}}).
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np

from litvision.errors import DataError

SPECIAL_TOKENS = ("<NULL>", "<START>", "<END>", "<UNK>")
NULL, START, END, UNK = range(4)
_WORD = re.compile(r"[a-z0-9]+(?:'[a-z]+)?")


def tokenize(text: str) -> list[str]:
    """Lower-case words of a raw caption, punctuation dropped ("A dog's ball." -> a, dog's, ball)."""
    return _WORD.findall(text.lower())


class Vocabulary:
    def __init__(self, idx_to_word: Sequence[str], source: str = "vocabulary") -> None:
        words = [str(w) for w in idx_to_word]
        if tuple(words[:4]) != SPECIAL_TOKENS:
            raise DataError(
                f"{source}: ids 0-3 must be {', '.join(SPECIAL_TOKENS)} (the cs231n layout), found "
                f"{words[:4]}; rebuild the vocabulary with these four special tokens first"
            )
        duplicates = [w for w, n in Counter(words).items() if n > 1]
        if duplicates:
            raise DataError(f"{source}: words listed twice: {', '.join(duplicates[:5])}")
        self.idx_to_word = words
        self.word_to_idx = {w: i for i, w in enumerate(words)}
        self.source = source

    def __len__(self) -> int:
        return len(self.idx_to_word)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Vocabulary) and self.idx_to_word == other.idx_to_word

    @classmethod
    def from_captions(cls, captions: Iterable[Sequence[str]], min_count: int = 1) -> Vocabulary:
        """The special tokens, then every word seen at least `min_count` times, most frequent first
        (ties alphabetical, so the ids do not depend on the order of the captions)."""
        counts = Counter(w for caption in captions for w in caption)
        kept = sorted(
            (w for w, n in counts.items() if n >= min_count and w not in SPECIAL_TOKENS), key=lambda w: (-counts[w], w)
        )
        return cls([*SPECIAL_TOKENS, *kept], source="vocabulary built from the training captions")

    @classmethod
    def from_json(cls, path: str | Path) -> Vocabulary:
        """cs231n's vocabulary file; `word_to_idx`, when present, must agree with `idx_to_word`."""
        path = Path(path)
        if not path.is_file():
            raise DataError(f"vocabulary file {path} does not exist")
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (json.JSONDecodeError, UnicodeDecodeError) as err:
            raise DataError(f"vocabulary file {path} is not valid JSON: {err}") from err
        if not isinstance(data, dict) or not isinstance(data.get("idx_to_word"), list):
            raise DataError(f"vocabulary file {path} has no list 'idx_to_word'")
        vocab = cls(data["idx_to_word"], source=str(path))
        word_to_idx = data.get("word_to_idx")
        if word_to_idx is not None and {str(k): int(v) for k, v in word_to_idx.items()} != vocab.word_to_idx:
            wrong = next((k for k, v in word_to_idx.items() if vocab.word_to_idx.get(k) != v), "?")
            raise DataError(
                f"vocabulary file {path}: word_to_idx disagrees with idx_to_word (e.g. {wrong!r} -> "
                f"{word_to_idx.get(wrong)}, idx_to_word has it at {vocab.word_to_idx.get(wrong)})"
            )
        return vocab

    def to_json(self) -> dict:
        return {"idx_to_word": self.idx_to_word, "word_to_idx": self.word_to_idx}

    def encode(self, words: Sequence[str], max_words: int) -> tuple[list[int], bool]:
        """A caption row of length max_words + 2 (unknown words -> <UNK>) and whether it was cut."""
        ids = [self.word_to_idx.get(w, UNK) for w in words[:max_words]]
        row = [START, *ids, END]
        return row + [NULL] * (max_words + 2 - len(row)), len(words) > max_words

    def encode_all(self, captions: Sequence[Sequence[str]], max_words: int) -> tuple[np.ndarray, int]:
        """(M, max_words + 2) int64 caption rows and how many captions were cut."""
        rows = np.full((len(captions), max_words + 2), NULL, dtype=np.int64)
        cut = 0
        for i, words in enumerate(captions):
            row, was_cut = self.encode(words, max_words)
            rows[i] = row
            cut += was_cut
        return rows, cut

    def words(self, ids: Iterable[int]) -> list[str]:
        """The words of a caption row or a generated sequence: up to <END>, without <NULL>/<START>."""
        out = []
        for i in ids:
            i = int(i)
            if i == END:
                break
            if i in (NULL, START):
                continue
            out.append(self.idx_to_word[i] if 0 <= i < len(self.idx_to_word) else SPECIAL_TOKENS[UNK])
        return out

    def decode(self, ids: Iterable[int]) -> str:
        return " ".join(self.words(ids))
