"""Counter-based randomness: every draw is a hash of (seed, purpose, keys).

A draw depends only on what it is for and whom it is about, never on partitioning or on
the order in which rows are computed. That is what makes the output byte-identical for a
seed, lets any day be generated without the days before it, and lets the ground truth
re-derive exactly the choices the exports were made from.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from itertools import accumulate

from pyspark.sql import Column
from pyspark.sql import functions as F

_BITS = 53
_MASK = (1 << _BITS) - 1


class Rng:
    def __init__(self, seed: int):
        self.seed = int(seed)

    def u(self, purpose: str, *keys: Column | str | int) -> Column:
        """A uniform draw in [0, 1) for ``purpose`` and ``keys``."""
        parts = [k if isinstance(k, Column) else F.lit(k) for k in keys]
        hashed = F.xxhash64(F.lit(self.seed), F.lit(purpose), *parts)
        return (hashed.bitwiseAND(F.lit(_MASK))).cast("double") / float(1 << _BITS)

    def python(self, *keys: object) -> random.Random:
        """A Python generator for driver-side choices (volumes per day); str seeds are stable."""
        return random.Random(":".join(map(str, (self.seed, *keys))))


def between(u: Column, low: int, high: int) -> Column:
    """An integer in [low, high] from a uniform draw."""
    return (F.lit(low) + F.floor(u * (high - low + 1))).cast("long")


def scaled(u: Column, low: float, high: float) -> Column:
    return F.lit(low) + u * (high - low)


def pick(u: Column, values: Sequence) -> Column:
    """One of ``values`` with equal chance."""
    return F.element_at(F.array(*[F.lit(v) for v in values]), index_of(u, len(values)) + 1)


def index_of(u: Column, n: int) -> Column:
    return F.least(F.floor(u * n), F.lit(n - 1)).cast("int")


def weighted_index(u: Column, weights: Sequence[float]) -> Column:
    """Index i with chance weights[i] / sum(weights) (a CASE over the cumulative shares)."""
    total = float(sum(weights))
    bounds = [c / total for c in accumulate(weights)]
    last = max(i for i, w in enumerate(weights) if w > 0)
    expr = F.lit(last)
    for i in reversed(range(last)):
        if weights[i] > 0:
            expr = F.when(u < bounds[i], F.lit(i)).otherwise(expr)
    return expr.cast("int")


def element(values: Sequence, index: Column) -> Column:
    """values[index] for a 0-based index column."""
    return F.element_at(F.array(*[F.lit(v) for v in values]), index + 1)
