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
import os
import tempfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

_MASK64 = np.uint64(0xFFFFFFFFFFFFFFFF)
SHINGLE = 5


def normalise(text: str) -> str:
    return " ".join(text.lower().split())  # str.split() splits on the same whitespace as str.isspace()


def exact_key(text: str) -> str:
    return exact_digest(text).hex()


def exact_digest(text: str) -> bytes:
    """``exact_key`` as 12 raw bytes (a set of a million of them holds ~80 MB less than of hex strings)."""
    return hashlib.blake2b(normalise(text).encode("utf-8"), digest_size=12).digest()


_WORD_HASHES: dict[str, int] = {}
# Words whose hashes are kept (~140 bytes each with the word): prompts with many distinct numbers would otherwise
# fill it with words seen once (2M of them held ~280 MB in select at 10M generations).
WORD_CACHE = 500_000


def _word_hash(word: str) -> int:
    value = int.from_bytes(hashlib.blake2b(word.encode("utf-8"), digest_size=8).digest(), "little")
    if len(_WORD_HASHES) < WORD_CACHE:
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


class _Blobs:
    """Byte strings by slot, appended in order: in memory, or in an unlinked temporary file (``spill_dir``) read
    back one at a time, so that what only the rare band candidates need costs no resident memory."""

    def __init__(self, spill_dir: str | Path | None):
        self._file = tempfile.TemporaryFile(dir=spill_dir, buffering=0) if spill_dir is not None else None  # noqa: SIM115
        self._memory: list[bytes] = []
        self._offsets = np.zeros(1025, dtype=np.int64)
        self._count = 0

    def append(self, data: bytes) -> None:
        if self._file is None:
            self._memory.append(data)
            return
        if self._count + 1 == len(self._offsets):
            self._offsets = np.concatenate([self._offsets, np.zeros(len(self._offsets), dtype=np.int64)])
        self._file.seek(int(self._offsets[self._count]))
        self._file.write(data)
        self._offsets[self._count + 1] = self._offsets[self._count] + len(data)
        self._count += 1

    def get(self, slot: int) -> bytes:
        if self._file is None:
            return self._memory[slot]
        start, end = int(self._offsets[slot]), int(self._offsets[slot + 1])
        return os.pread(self._file.fileno(), end - start, start)

    def close(self) -> None:
        if self._file is not None:
            self._file.close()


class _BandTable:
    """Band keys (uint64) -> slots, as sorted numpy levels merged like a binary counter (12 bytes per entry, not
    a dict's ~100), plus a dict of the keys added since the last ``seal``. Looked up a chunk at a time."""

    MAX_LEVEL = 1 << 22  # entries in one sorted level (48 MB); more levels cost a search each per chunk

    def __init__(self) -> None:
        self.levels: list[tuple[np.ndarray, np.ndarray]] = []
        self.recent: dict[int, int | list[int]] = {}
        self._recent_keys: list[int] = []
        self._recent_slots: list[int] = []

    def add(self, keys: list[int], slot: int) -> None:
        recent = self.recent
        for key in keys:
            found = recent.get(key)
            if found is None:
                recent[key] = slot
            elif isinstance(found, int):
                recent[key] = [found, slot]
            else:
                found.append(slot)
        self._recent_keys.extend(keys)
        self._recent_slots.extend([slot] * len(keys))

    def recent_slots(self, keys: list[int]) -> set[int]:
        out: set[int] = set()
        for key in keys:
            found = self.recent.get(key)
            if found is not None:
                out.update((found,) if isinstance(found, int) else found)
        return out

    def sealed_slots(self, queries: np.ndarray) -> list[list[int]]:
        """Per query row (the band keys of one text), the slots of sealed entries sharing any of its keys."""
        out: list[list[int]] = [[] for _ in range(len(queries))]
        flat = queries.ravel()
        for keys, slots in self.levels:
            lo = np.searchsorted(keys, flat, "left")
            hi = np.searchsorted(keys, flat, "right")
            for at in np.flatnonzero(hi > lo).tolist():
                out[at // queries.shape[1]].extend(slots[lo[at]:hi[at]].tolist())
        return out

    def seal(self) -> None:
        """Move the recent keys into the sorted levels (amortised O(n log n) over all adds). Levels merge like a
        binary counter up to ``MAX_LEVEL`` entries and no further: one level of every key would need, while it
        merged, two more copies of the whole table (2.5M problems: 40M keys, ~1 GB at once)."""
        if not self._recent_keys:
            return
        keys = np.array(self._recent_keys, dtype=np.uint64)
        slots = np.array(self._recent_slots, dtype=np.int32)
        self.recent, self._recent_keys, self._recent_slots = {}, [], []
        order = np.argsort(keys, kind="stable")
        keys, slots = keys[order], slots[order]
        while (self.levels and len(self.levels[-1][0]) <= 2 * len(keys)
               and len(self.levels[-1][0]) + len(keys) <= self.MAX_LEVEL):
            k, s = self.levels.pop()
            # merge two sorted runs: the newer entries after the older ones with the same key, as a stable sort
            at = np.searchsorted(k, keys, "right") + np.arange(len(keys))
            merged_keys = np.empty(len(k) + len(keys), dtype=np.uint64)
            merged_slots = np.empty(len(merged_keys), dtype=np.int32)
            older = np.ones(len(merged_keys), dtype=bool)
            older[at] = False
            merged_keys[at], merged_slots[at] = keys, slots
            merged_keys[older], merged_slots[older] = k, s
            keys, slots = merged_keys, merged_slots
        self.levels.append((keys, slots))

    def nbytes(self) -> int:
        return sum(k.nbytes + s.nbytes for k, s in self.levels) + 120 * len(self._recent_keys)


class NearDuplicateIndex:
    """Texts added in order; each is reported as a near copy of an earlier *kept* text, or kept.

    Candidates come from LSH bands over the sketches of kept texts only; a candidate whose sketch agrees
    on fewer than ``threshold - slack`` of the bins is dropped without further work (the estimate's standard
    deviation at the threshold is about 0.03 with 128 bins, so the slack of 0.15 is five of them), and the
    rest are confirmed with the exact shingle Jaccard. Resident memory per kept text: its band keys in sorted
    numpy levels (12 bytes a band: about 200 bytes with 16 bands) and its key; the sketch and the shingle hashes,
    which only band candidates need, go to an unlinked temporary file in ``spill_dir`` when one is given (select
    puts it beside the store), else stay in memory. ``add_many`` looks a chunk of texts up against the sealed
    levels at once; the texts of the chunk itself are matched through a small dict, in order.
    """

    SLACK = 0.15
    SEAL_EVERY = 4096  # kept texts between seals of the band table

    def __init__(self, threshold: float, num_perm: int = 128, spill_dir: str | Path | None = None):
        self.threshold = threshold
        self.hasher = MinHasher(num_perm)
        self.bands, self.rows = lsh_bands(threshold, num_perm)
        # A band's rows fold into one 64-bit key (odd multipliers, wrapping sum), salted by the band's number so
        # that one table holds every band.
        rng = np.random.default_rng(0xBA5D)
        self._fold = rng.integers(1, 2**63, size=self.rows, dtype=np.uint64) | np.uint64(1)
        self._salt = rng.integers(1, 2**63, size=self.bands, dtype=np.uint64)
        self.table = _BandTable()
        self.sketches = _Blobs(spill_dir)
        self.shingles = _Blobs(spill_dir)
        self.ids = np.zeros(1024, dtype=np.int64)
        self.kept = 0
        self.candidates_seen = 0  # band candidates looked at, in all: near-linear work keeps this near zero

    def add(self, key: int, text: str) -> int | None:
        """The key of the kept text that ``text`` nearly duplicates, or None (then ``text`` is kept)."""
        return self.add_many([(key, text)])[0]

    def add_many(self, items: Sequence[tuple[int, str]]) -> list[int | None]:
        """``add`` for each item, in order."""
        prepared = []
        for _key, text in items:
            if not text.strip():
                prepared.append(None)
                continue
            hashes = np.unique(shingle_hashes(text))
            sketch = self.hasher.sketch_hashes(hashes)
            with np.errstate(over="ignore"):
                folded = (sketch.reshape(self.bands, self.rows).astype(np.uint64) * self._fold).sum(axis=1) ^ self._salt
            prepared.append((hashes, sketch, folded))
        rows = [p[2] for p in prepared if p is not None]
        sealed = iter(self.table.sealed_slots(np.stack(rows)) if rows and self.table.levels else [[]] * len(rows))
        out: list[int | None] = []
        for (key, _text), prep in zip(items, prepared, strict=True):
            if prep is None:
                out.append(None)
                continue
            hashes, sketch, folded = prep
            band_keys = folded.tolist()
            candidates = set(next(sealed)) | self.table.recent_slots(band_keys)
            match = self._confirm(candidates, hashes, sketch) if candidates else None
            if match is not None:
                out.append(int(self.ids[match]))
                continue
            slot = self.kept
            if slot == len(self.ids):
                self.ids = np.concatenate([self.ids, np.zeros_like(self.ids)])
            self.ids[slot] = key
            self.kept += 1
            self.sketches.append(sketch.tobytes())
            self.shingles.append(hashes.tobytes())
            self.table.add(band_keys, slot)
            out.append(None)
        if len(self.table._recent_keys) >= self.SEAL_EVERY * self.bands:
            self.table.seal()
        return out

    def _confirm(self, candidates: set[int], hashes: np.ndarray, sketch: np.ndarray) -> int | None:
        self.candidates_seen += len(candidates)
        for slot in sorted(candidates):
            theirs = np.frombuffer(self.sketches.get(slot), dtype=np.uint32)
            if (theirs == sketch).mean() < self.threshold - self.SLACK:
                continue
            if _jaccard(hashes, np.frombuffer(self.shingles.get(slot), dtype=np.uint64)) >= self.threshold:
                return slot
        return None

    def close(self) -> None:
        self.sketches.close()
        self.shingles.close()


CHUNK = 2_000  # texts looked up against the sealed band table at once
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
    for start in range(0, len(texts), CHUNK):
        found = index.add_many(list(enumerate(texts[start:start + CHUNK], start)))
        duplicate_of.update((start + i, earlier) for i, earlier in enumerate(found) if earlier is not None)
    return duplicate_of


def gram_hash(gram: str) -> int:
    """A stable 64-bit hash of a normalised word n-gram (what the shipped benchmark index holds)."""
    return int.from_bytes(hashlib.blake2b(gram.encode("utf-8"), digest_size=8).digest(), "little")


def _gram_hashes(words: list[str], n: int, starts: list[int] | None = None) -> np.ndarray:
    """The hashes of the text's word n-grams (only those starting at ``starts``, when given)."""
    if len(words) < n:
        return np.zeros(0, dtype=np.uint64)
    at = range(len(words) - n + 1) if starts is None else [i for i in starts if i <= len(words) - n]
    return np.fromiter((gram_hash(" ".join(words[i:i + n])) for i in at), dtype=np.uint64, count=len(at))


@dataclass
class BenchmarkGrams:
    """One benchmark as hashes: its items' word n-grams, and its items shorter than n words whole (each with its
    word count), matched anywhere inside a text."""

    ngrams: np.ndarray  # sorted unique uint64
    short: np.ndarray  # sorted unique uint64 hashes of whole short items
    short_lengths: tuple[int, ...]  # the word counts of the short items
    items: int
    # the hashes of the short items' first words: a short item can only start where such a word stands, so a text
    # hashes its k-grams only there (None in an index built before this: every position is tried)
    short_first: np.ndarray | None = None

    @classmethod
    def from_texts(cls, texts: Iterable[str], n: int) -> BenchmarkGrams:
        grams: list[np.ndarray] = []
        short: set[int] = set()
        lengths: set[int] = set()
        first: set[int] = set()
        items = 0
        for text in texts:
            items += 1
            words = normalise(text).split(" ")
            if words == [""]:
                continue
            if len(words) < n:
                short.add(gram_hash(" ".join(words)))
                lengths.add(len(words))
                first.add(gram_hash(words[0]))
            else:
                grams.append(_gram_hashes(words, n))
        merged = np.unique(np.concatenate(grams)) if grams else np.zeros(0, dtype=np.uint64)
        return cls(merged, np.array(sorted(short), dtype=np.uint64), tuple(sorted(lengths)), items,
                   np.array(sorted(first), dtype=np.uint64))


class Contamination:
    """Benchmark n-grams (as stable 64-bit hashes), checked against candidate texts.

    Every benchmark's hashes are merged into one sorted array that remembers the first benchmark (in the given
    order) holding each, so a text costs one lookup for its n-grams and one per distinct short-item length,
    whatever the number of benchmarks."""

    def __init__(self, benchmarks: dict[str, Iterable[str] | BenchmarkGrams], n: int = 8):
        self.n = n
        self.benchmarks = {name: b if isinstance(b, BenchmarkGrams) else BenchmarkGrams.from_texts(b, n)
                           for name, b in benchmarks.items()}
        self.sizes = {name: b.items for name, b in self.benchmarks.items()}
        self.names = list(self.benchmarks)
        self._grams = _merged([b.ngrams for b in self.benchmarks.values()])
        self._short = _merged([b.short for b in self.benchmarks.values()])
        self._short_lengths = sorted({k for b in self.benchmarks.values() for k in b.short_lengths})
        firsts = [b.short_first for b in self.benchmarks.values()]
        self._short_first = None if any(f is None for f in firsts) else {int(h) for f in firsts for h in f}
        self._word_hashes: dict[str, int] = {}  # words recur across texts: each is hashed once

    def match(self, text: str) -> str | None:
        """The benchmark this text overlaps (the first in order, n-grams before short items), or None."""
        words = normalise(text).split(" ")
        if words == [""]:
            return None
        owner = _first_owner(_gram_hashes(words, self.n), *self._grams)
        if owner is None and self._short_lengths:
            starts = self._short_starts(words)
            for k in self._short_lengths:
                if k > len(words):
                    break
                found = _first_owner(_gram_hashes(words, k, starts), *self._short)
                owner = found if owner is None or (found is not None and found < owner) else owner
        return None if owner is None else self.names[owner]

    def _short_starts(self, words: list[str]) -> list[int] | None:
        """The positions where a short item could start (its first word is there); None: all of them."""
        if self._short_first is None:
            return None
        cache = self._word_hashes
        if len(cache) > 1_000_000:  # bounded: a stream of ever new words must not grow it without end
            cache.clear()
        starts = []
        for i, word in enumerate(words):
            h = cache.get(word)
            if h is None:
                h = cache[word] = gram_hash(word)
            if h in self._short_first:
                starts.append(i)
        return starts


def _merged(parts: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """(sorted unique hashes, for each the index of the first part holding it)."""
    if not parts or not sum(len(p) for p in parts):
        return np.zeros(0, dtype=np.uint64), np.zeros(0, dtype=np.int32)
    keys = np.concatenate(parts)
    owners = np.concatenate([np.full(len(p), i, dtype=np.int32) for i, p in enumerate(parts)])
    order = np.lexsort((owners, keys))  # by hash, then by part: the first of each hash is its first owner
    keys, owners = keys[order], owners[order]
    first = np.ones(len(keys), dtype=bool)
    first[1:] = keys[1:] != keys[:-1]
    return keys[first], owners[first]


def _first_owner(hashes: np.ndarray, keys: np.ndarray, owners: np.ndarray) -> int | None:
    if not len(hashes) or not len(keys):
        return None
    at = np.minimum(np.searchsorted(keys, hashes), len(keys) - 1)
    hit = keys[at] == hashes
    return int(owners[at[hit]].min()) if hit.any() else None
