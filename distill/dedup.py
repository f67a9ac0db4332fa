"""Exact and near-duplicate detection, and n-gram decontamination against benchmark sets.

- Normalisation: lowercase, whitespace collapsed (``normalise``). Exact duplicates share the hash of
  the normalised text.
- Near duplicates: MinHash over word 5-gram shingles with one-permutation hashing (the 64-bit shingle
  hashes are split into ``num_perm`` bins and each bin keeps its minimum; empty bins borrow along a
  pseudo-random probe sequence, "optimal densification"), then LSH banding tuned to the Jaccard
  ``threshold``. Candidate pairs from the bands are filtered by their sketch agreement and confirmed with
  their exact shingle Jaccard similarity, so a pair is only reported at or above the threshold. Work is
  numpy per document, not Python per shingle, and stays near-linear on short templated texts.
- Decontamination: word n-grams (8 by default, as s1 and open-r1) of lowercased, whitespace-normalised
  text; a text shares an n-gram with a benchmark item, or contains a benchmark item shorter than n
  words as a whole (which plain n-gram matching would never catch).

Not guaranteed: banding is probabilistic, so a pair just above the threshold can be missed (the bands
are chosen for a false-negative rate of about 1% at the threshold); confirmed pairs are exact, and the
exact-duplicate pass has no such error.
"""

from __future__ import annotations

import functools
import hashlib
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np

_MASK64 = np.uint64(0xFFFFFFFFFFFFFFFF)
SHINGLE = 5


def normalise(text: str) -> str:
    return " ".join(text.lower().split())  # str.split() splits on the same whitespace as str.isspace()


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


@functools.cache
def _probes(num_perm: int, probes: int) -> np.ndarray:
    return np.random.default_rng(0x5EED).integers(0, num_perm, size=(num_perm, probes))


class MinHasher:
    """One-permutation MinHash with optimal densification (Shrivastava, ICML 2017).

    The shingle hashes are split into ``num_perm`` bins by their top bits; each bin keeps its minimum. An
    empty bin (a short text has fewer shingles than bins) borrows the value of the first filled bin along
    a fixed pseudo-random probe sequence of its own. Copying from the *next* filled bin instead (the simple
    rotation) makes runs of neighbouring bins identical, so an LSH band of r rows behaves like one row and
    short templated texts (GSM-style problems, ~30 shingles) collide in almost every band: near-duplicate
    search then turns quadratic. With independent probes, two texts agree on a bin with probability equal
    to their Jaccard similarity, as with ``num_perm`` independent permutations, at the cost of one sort.
    Sketch values are 32-bit (the low bits of each bin's minimum): a chance collision costs 2^-32 per bin.
    """

    PROBES = 64

    def __init__(self, num_perm: int = 128):
        if num_perm & (num_perm - 1):
            raise ValueError("num_perm must be a power of two")
        self.num_perm = num_perm
        self.shift = np.uint64(64 - int(math.log2(num_perm)))
        self.probes = _probes(num_perm, self.PROBES)

    def sketch_hashes(self, h: np.ndarray) -> np.ndarray:
        """The sketch of a set of shingle hashes, given sorted and unique (``np.unique``)."""
        empty_value = np.iinfo(np.uint32).max
        sketch = np.full(self.num_perm, empty_value, dtype=np.uint32)
        if not len(h):
            return sketch
        bins = (h >> self.shift).astype(np.int64)
        first_bins, first_at = np.unique(bins, return_index=True)
        sketch[first_bins] = (h[first_at] & np.uint64(0xFFFFFFFF)).astype(np.uint32)
        if len(first_bins) == self.num_perm:
            return sketch
        filled = np.zeros(self.num_perm, dtype=bool)
        filled[first_bins] = True
        empty = np.flatnonzero(~filled)
        probes = self.probes[empty]
        hit = filled[probes]
        found = hit.any(axis=1)
        donor = probes[np.arange(len(empty)), hit.argmax(axis=1)]
        # After PROBES misses (only for texts with a handful of shingles): the next filled bin, cyclically.
        filled_bins = first_bins
        fallback = filled_bins[np.searchsorted(filled_bins, empty) % len(filled_bins)]
        donor = np.where(found, donor, fallback)
        sketch[empty] = sketch[donor]
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


def _jaccard(x: np.ndarray, y: np.ndarray) -> float:
    union = len(np.union1d(x, y))
    return len(np.intersect1d(x, y, assume_unique=True)) / union if union else 1.0


def exact_jaccard(a: str, b: str) -> float:
    """Jaccard similarity of the two texts' shingle sets (what the sketches estimate)."""
    return _jaccard(np.unique(shingle_hashes(a)), np.unique(shingle_hashes(b)))


class NearDuplicateIndex:
    """Texts added one at a time; each is reported as a near copy of an earlier *kept* text, or kept.

    Candidates come from LSH bands over the sketches of kept texts only; a candidate whose sketch agrees
    on fewer than ``threshold - slack`` of the bins is dropped without further work (the estimate's standard
    deviation at the threshold is about 0.03 with 128 bins, so the slack of 0.15 is five of them), and the
    rest are confirmed with the exact shingle Jaccard. Memory per kept text: its sketch (4 bytes a bin), its
    shingle hashes (8 bytes each, as bytes) and one dict entry per band (a 64-bit band key -> a slot, a list only
    when keys collide): about 2.5 KB for a short problem with 128 bins and 16 bands.
    """

    SLACK = 0.15

    def __init__(self, threshold: float, num_perm: int = 128):
        self.threshold = threshold
        self.hasher = MinHasher(num_perm)
        self.bands, self.rows = lsh_bands(threshold, num_perm)
        # A band's rows fold into one 64-bit key (odd multipliers, wrapping sum), salted by the band's number so
        # that one dict holds every band.
        rng = np.random.default_rng(0xBA5D)
        self._fold = rng.integers(1, 2**63, size=self.rows, dtype=np.uint64) | np.uint64(1)
        self._salt = rng.integers(1, 2**63, size=self.bands, dtype=np.uint64)
        self.buckets: dict[int, int | list[int]] = {}
        self.sketches = np.zeros((1024, num_perm), dtype=np.uint32)
        self.shingles: list[bytes] = []
        self.ids: list[int] = []
        self.candidates_seen = 0  # band candidates looked at, in all: near-linear work keeps this near zero

    def add(self, key: int, text: str) -> int | None:
        """The key of the kept text that ``text`` nearly duplicates, or None (then ``text`` is kept)."""
        if not text.strip():
            return None
        hashes = np.unique(shingle_hashes(text))
        sketch = self.hasher.sketch_hashes(hashes)
        with np.errstate(over="ignore"):
            folded = (sketch.reshape(self.bands, self.rows).astype(np.uint64) * self._fold).sum(axis=1) ^ self._salt
        band_keys = folded.tolist()
        candidates: set[int] = set()
        buckets = self.buckets
        for band_key in band_keys:
            found = buckets.get(band_key)
            if found is not None:
                if isinstance(found, int):
                    candidates.add(found)
                else:
                    candidates.update(found)
        if candidates:
            self.candidates_seen += len(candidates)
            slots = np.fromiter(sorted(candidates), dtype=np.int64, count=len(candidates))
            agree = (self.sketches[slots] == sketch).mean(axis=1)
            for slot in slots[agree >= self.threshold - self.SLACK]:
                if _jaccard(hashes, np.frombuffer(self.shingles[slot], dtype=np.uint64)) >= self.threshold:
                    return self.ids[slot]
        slot = len(self.ids)
        if slot == len(self.sketches):
            self.sketches = np.concatenate([self.sketches, np.zeros_like(self.sketches)])
        self.sketches[slot] = sketch
        self.shingles.append(hashes.tobytes())
        self.ids.append(key)
        for band_key in band_keys:
            found = buckets.get(band_key)
            if found is None:
                buckets[band_key] = slot
            elif isinstance(found, int):
                buckets[band_key] = [found, slot]
            else:
                found.append(slot)
        return None


SMALL_GROUP = 32  # up to this many texts, compare every pair exactly: cheaper than sketches, and misses none


def _shingle_set(text: str) -> set[int]:
    """Word 5-gram shingles as Python hashes: for comparisons within one process only (they are salted)."""
    words = normalise(text).split(" ")
    if len(words) < SHINGLE:
        return {hash(tuple(words))}
    return set(map(hash, zip(*(words[i:] for i in range(SHINGLE)), strict=False)))


def near_duplicates(texts: Sequence[str], threshold: float, num_perm: int = 128) -> dict[int, int]:
    """For each text that nearly duplicates an earlier one, the index of that earlier (kept) text.

    A small group (the samples of one problem) is compared pair by pair with exact shingle Jaccard; a large
    one goes through ``NearDuplicateIndex``."""
    duplicate_of: dict[int, int] = {}
    if len(texts) <= SMALL_GROUP:
        kept: list[tuple[int, set[int]]] = []
        for i, text in enumerate(texts):
            if not text.strip():
                continue
            mine = _shingle_set(text)
            for j, theirs in kept:
                common = len(mine & theirs)
                if common / (len(mine) + len(theirs) - common) >= threshold:
                    duplicate_of[i] = j
                    break
            else:
                kept.append((i, mine))
        return duplicate_of
    index = NearDuplicateIndex(threshold, num_perm)
    for i, text in enumerate(texts):
        earlier = index.add(i, text)
        if earlier is not None:
            duplicate_of[i] = earlier
    return duplicate_of


def gram_hash(gram: str) -> int:
    """A stable 64-bit hash of a normalised word n-gram (what the shipped benchmark index holds)."""
    return int.from_bytes(hashlib.blake2b(gram.encode("utf-8"), digest_size=8).digest(), "little")


def _gram_hashes(words: list[str], n: int) -> np.ndarray:
    if len(words) < n:
        return np.zeros(0, dtype=np.uint64)
    return np.fromiter((gram_hash(" ".join(words[i:i + n])) for i in range(len(words) - n + 1)),
                       dtype=np.uint64, count=len(words) - n + 1)


@dataclass
class BenchmarkGrams:
    """One benchmark as hashes: its items' word n-grams, and its items shorter than n words whole (each with its
    word count), matched anywhere inside a text."""

    ngrams: np.ndarray  # sorted unique uint64
    short: np.ndarray  # sorted unique uint64 hashes of whole short items
    short_lengths: tuple[int, ...]  # the word counts of the short items
    items: int

    @classmethod
    def from_texts(cls, texts: Iterable[str], n: int) -> BenchmarkGrams:
        grams: list[np.ndarray] = []
        short: set[int] = set()
        lengths: set[int] = set()
        items = 0
        for text in texts:
            items += 1
            words = normalise(text).split(" ")
            if words == [""]:
                continue
            if len(words) < n:
                short.add(gram_hash(" ".join(words)))
                lengths.add(len(words))
            else:
                grams.append(_gram_hashes(words, n))
        merged = np.unique(np.concatenate(grams)) if grams else np.zeros(0, dtype=np.uint64)
        return cls(merged, np.array(sorted(short), dtype=np.uint64), tuple(sorted(lengths)), items)


class Contamination:
    """Benchmark n-grams (as stable 64-bit hashes), checked against candidate texts."""

    def __init__(self, benchmarks: dict[str, Iterable[str] | BenchmarkGrams], n: int = 8):
        self.n = n
        self.benchmarks = {name: b if isinstance(b, BenchmarkGrams) else BenchmarkGrams.from_texts(b, n)
                           for name, b in benchmarks.items()}
        self.sizes = {name: b.items for name, b in self.benchmarks.items()}

    def match(self, text: str) -> str | None:
        """The benchmark this text overlaps, or None."""
        words = normalise(text).split(" ")
        if words == [""]:
            return None
        mine = _gram_hashes(words, self.n)
        for name, bench in self.benchmarks.items():
            if len(mine) and np.isin(mine, bench.ngrams, assume_unique=False).any():
                return name
        for name, bench in self.benchmarks.items():
            for k in bench.short_lengths:
                if k <= len(words) and np.isin(_gram_hashes(words, k), bench.short).any():
                    return name
        return None
