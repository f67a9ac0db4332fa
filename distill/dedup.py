"""Exact and near-duplicate detection, and n-gram decontamination against benchmark sets.

- Normalisation: lowercase, whitespace collapsed (``normalise``). Exact duplicates share the hash of
  the normalised text.
- Near duplicates: MinHash over word 5-gram shingles with one-permutation hashing (the 64-bit shingle
  hashes are split into ``num_perm`` bins and each bin keeps its minimum; empty bins borrow from the
  next non-empty one, "densification"), then LSH banding tuned to the Jaccard ``threshold``. Candidate
  pairs from the bands are confirmed with their exact shingle Jaccard similarity, so a pair is only
  reported at or above the threshold. Work is numpy per document, not Python per shingle.
- Decontamination: word n-grams (8 by default, as s1 and open-r1) of lowercased, whitespace-normalised
  text; a text shares an n-gram with a benchmark item, or contains a benchmark item shorter than n
  words as a whole (which plain n-gram matching would never catch).

Not guaranteed: banding is probabilistic, so a pair just above the threshold can be missed (the bands
are chosen for a false-negative rate of about 1% at the threshold); confirmed pairs are exact, and the
exact-duplicate pass has no such error.
"""

from __future__ import annotations

import hashlib
import math
import re
from collections.abc import Iterable, Sequence

import numpy as np

_WS = re.compile(r"\s+")
_MASK64 = np.uint64(0xFFFFFFFFFFFFFFFF)
SHINGLE = 5


def normalise(text: str) -> str:
    return _WS.sub(" ", text.lower()).strip()


def exact_key(text: str) -> str:
    return hashlib.blake2b(normalise(text).encode("utf-8"), digest_size=12).hexdigest()


_WORD_HASHES: dict[str, int] = {}


def _word_hash(word: str) -> int:
    value = int.from_bytes(hashlib.blake2b(word.encode("utf-8"), digest_size=8).digest(), "little")
    if len(_WORD_HASHES) < 2_000_000:
        _WORD_HASHES[word] = value
    return value


def _word_hashes(words: list[str]) -> np.ndarray:
    # Stable 64-bit word hashes (Python's hash() is salted per process), cached: vocabularies repeat.
    cache = _WORD_HASHES
    return np.fromiter((cache[w] if w in cache else _word_hash(w) for w in words), dtype=np.uint64,
                       count=len(words))


def shingle_hashes(text: str, size: int = SHINGLE) -> np.ndarray:
    words = normalise(text).split(" ")
    if not words or words == [""]:
        return np.zeros(0, dtype=np.uint64)
    h = _word_hashes(words)
    if len(h) < size:
        return np.array([np.bitwise_xor.reduce(h)], dtype=np.uint64)
    out = np.zeros(len(h) - size + 1, dtype=np.uint64)
    with np.errstate(over="ignore"):
        for i in range(size):  # rotate-and-xor combine: order matters, cheap in numpy
            part = h[i: len(h) - size + 1 + i]
            out ^= (part << np.uint64(7 * i + 1)) | (part >> np.uint64(63 - 7 * i))
            out *= np.uint64(0x9E3779B97F4A7C15)
    return out


class MinHasher:
    def __init__(self, num_perm: int = 128):
        if num_perm & (num_perm - 1):
            raise ValueError("num_perm must be a power of two")
        self.num_perm = num_perm
        self.shift = np.uint64(64 - int(math.log2(num_perm)))

    def sketch(self, text: str) -> np.ndarray:
        h = shingle_hashes(text)
        sketch = np.full(self.num_perm, np.iinfo(np.uint64).max, dtype=np.uint64)
        if len(h):
            h = np.sort(h)
            bins = (h >> self.shift).astype(np.int64)
            first = np.unique(bins, return_index=True)
            sketch[first[0]] = h[first[1]] & ((np.uint64(1) << self.shift) - np.uint64(1))
            empty = np.flatnonzero(sketch == np.iinfo(np.uint64).max)
            if len(empty) < self.num_perm:  # densify: an empty bin takes the next filled bin's value
                filled = np.flatnonzero(sketch != np.iinfo(np.uint64).max)
                nxt = filled[np.searchsorted(filled, empty) % len(filled)]
                sketch[empty] = sketch[nxt] ^ np.uint64(0x5851F42D4C957F2D) * empty.astype(np.uint64)
        return sketch


def lsh_bands(threshold: float, num_perm: int) -> tuple[int, int]:
    """(bands, rows) with bands * rows == num_perm, missing ~1% of pairs at the threshold and
    letting through as few pairs well below it as possible."""
    best = (num_perm, 1)
    for rows in range(1, num_perm + 1):
        if num_perm % rows:
            continue
        bands = num_perm // rows
        if 1 - (1 - threshold ** rows) ** bands >= 0.99:
            best = (bands, rows)
    return best


def exact_jaccard(a: str, b: str) -> float:
    """Jaccard similarity of the two texts' shingle sets (what the sketches estimate)."""
    x, y = np.unique(shingle_hashes(a)), np.unique(shingle_hashes(b))
    union = len(np.union1d(x, y))
    return len(np.intersect1d(x, y, assume_unique=True)) / union if union else 1.0


def near_duplicates(texts: Sequence[str], threshold: float, num_perm: int = 128) -> dict[int, int]:
    """For each text that nearly duplicates an earlier one, the index of that earlier text."""
    hasher = MinHasher(num_perm)
    bands, rows = lsh_bands(threshold, num_perm)
    sketches = np.stack([hasher.sketch(t) for t in texts]) if texts else np.zeros((0, num_perm), np.uint64)
    buckets: list[dict[bytes, list[int]]] = [{} for _ in range(bands)]
    duplicate_of: dict[int, int] = {}
    for i in range(len(texts)):
        if not texts[i].strip():
            continue
        candidates: set[int] = set()
        for b in range(bands):
            key = sketches[i, b * rows:(b + 1) * rows].tobytes()
            bucket = buckets[b].setdefault(key, [])
            candidates.update(bucket)
            bucket.append(i)
        best = None
        for j in sorted(candidates):
            if j in duplicate_of:
                continue  # compare with the kept copy only
            if exact_jaccard(texts[i], texts[j]) >= threshold:
                best = j
                break
        if best is not None:
            duplicate_of[i] = best
    return duplicate_of


def ngrams(text: str, n: int) -> set[str]:
    words = normalise(text).split(" ")
    if len(words) < n:
        return {" ".join(words)} if words != [""] else set()
    return {" ".join(words[i:i + n]) for i in range(len(words) - n + 1)}


class Contamination:
    """Benchmark n-grams, checked against candidate texts."""

    def __init__(self, benchmarks: dict[str, Iterable[str]], n: int = 8):
        self.n = n
        self.index: dict[str, str] = {}
        self.short: list[tuple[str, str]] = []  # items under n words: matched as a whole, anywhere
        self.sizes: dict[str, int] = {}
        for name, texts in benchmarks.items():
            count = 0
            for text in texts:
                count += 1
                words = normalise(text)
                if len(words.split(" ")) < n:
                    if words:
                        self.short.append((f" {words} ", name))
                    continue
                for gram in ngrams(words, n):
                    self.index.setdefault(gram, name)
            self.sizes[name] = count

    def match(self, text: str) -> str | None:
        """The benchmark this text overlaps, or None."""
        for gram in ngrams(text, self.n):
            hit = self.index.get(gram)
            if hit is not None:
                return hit
        if self.short:
            padded = f" {normalise(text)} "
            for item, name in self.short:
                if item in padded:
                    return name
        return None
