"""Seeded, stratified assignment of rows to groups (splits, subsets, clients), vectorised.

Everything that divides rows works the same way: decide how many rows of each class go to each
group (a small class x group matrix of quotas), then shuffle the rows of each class and hand out
consecutive ranks. Only the quota computation loops, over classes and groups, never over rows.
Quotas use largest-remainder rounding, so sizes are exact and rare classes are spread instead
of rounded away.
"""

from __future__ import annotations

import zlib
from typing import Sequence

import numpy as np


def seeded_rng(seed: int, purpose: str) -> np.random.Generator:
    """An independent random stream per purpose, so adding a step never changes another step's draws."""
    return np.random.default_rng([int(seed), zlib.crc32(purpose.encode("utf-8"))])


def apportion(total: int, weights: Sequence[float]) -> np.ndarray:
    """Split ``total`` into integers proportional to ``weights`` (largest remainder; ties to the first).

    When the weights are counts and ``total`` does not exceed their sum, no share exceeds its count.
    """
    w = np.asarray(weights, dtype=np.float64)
    if total < 0 or (w < 0).any():
        raise ValueError("apportion needs a non-negative total and non-negative weights")
    if total == 0 or w.sum() == 0:
        if total and not w.sum():
            raise ValueError("cannot apportion a positive total over zero weights")
        return np.zeros(len(w), dtype=np.int64)
    exact = w * (total / w.sum())
    shares = np.floor(exact).astype(np.int64)
    remainder = int(total - shares.sum())
    if remainder:
        order = np.argsort(-(exact - shares), kind="stable")
        shares[order[:remainder]] += 1
    return shares


def sequential_quotas(class_counts: Sequence[int], group_sizes: Sequence[int]) -> np.ndarray:
    """Class x group quotas: each group in turn takes its size from what is left, stratified by class.

    The sizes may sum to less than the rows available; the rest stays unassigned.
    """
    remaining = np.asarray(class_counts, dtype=np.int64).copy()
    if sum(group_sizes) > remaining.sum():
        raise ValueError(
            f"groups of {sum(group_sizes)} rows in total need more than the {remaining.sum()} available"
        )
    quotas = np.zeros((len(remaining), len(group_sizes)), dtype=np.int64)
    for g, size in enumerate(group_sizes):
        take = np.minimum(apportion(int(size), remaining), remaining)
        quotas[:, g] = take
        remaining -= take
    return quotas


def dirichlet_quotas(class_counts: Sequence[int], proportions: np.ndarray) -> np.ndarray:
    """Class x group quotas from per-class group proportions (rows of ``proportions`` sum to 1)."""
    counts = np.asarray(class_counts, dtype=np.int64)
    return np.stack([apportion(int(n), p) for n, p in zip(counts, proportions)]).astype(np.int64)


def assign_groups(codes: np.ndarray, quotas: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Group index per row (-1: unassigned), honouring ``quotas[class, group]`` exactly.

    ``codes`` are class codes 0..C-1. Rows of a class are taken in a random order, so which rows
    a group receives is random while how many of each class it receives is fixed.
    """
    codes = np.asarray(codes, dtype=np.int64)
    n_classes, n_groups = quotas.shape
    if len(codes) and (codes.min() < 0 or codes.max() >= n_classes):
        raise ValueError("class codes must lie in 0..C-1")
    counts = np.bincount(codes, minlength=n_classes)
    if (quotas.sum(axis=1) > counts).any():
        raise ValueError("a class quota exceeds the rows of that class")
    shuffled = rng.permutation(len(codes))
    order = shuffled[np.argsort(codes[shuffled], kind="stable")]  # grouped by class, random within
    sorted_codes = codes[order]
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
    rank = np.arange(len(codes)) - starts[sorted_codes]
    bounds = np.cumsum(quotas, axis=1)  # class x group: end rank of each group
    group_sorted = np.full(len(codes), -1, dtype=np.int64)
    for c in range(n_classes):
        rows = slice(starts[c], starts[c] + counts[c])
        g = np.searchsorted(bounds[c], rank[rows], side="right")
        group_sorted[rows] = np.where(g < n_groups, g, -1)
    groups = np.empty(len(codes), dtype=np.int64)
    groups[order] = group_sorted
    return groups


def stratified_split(
    codes: np.ndarray, n_classes: int, test_fraction: float, rng: np.random.Generator
) -> np.ndarray:
    """Boolean mask of test rows: round(n * test_fraction) rows, class proportions kept."""
    counts = np.bincount(np.asarray(codes, dtype=np.int64), minlength=n_classes)
    n_test = int(round(len(codes) * test_fraction))
    quotas = sequential_quotas(counts, [n_test])
    return assign_groups(codes, quotas, rng) == 0
