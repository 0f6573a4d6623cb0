"""Named random streams derived from one seed.

Each part of the firm draws from its own stream (``stream(seed, "claims")``), so
changing how one part draws never shifts the numbers of another, and the same
seed always reproduces the same firm on any machine (numpy's PCG64 is portable).
"""

from __future__ import annotations

import zlib

import numpy as np


def stream(seed: int, name: str, *extra: int) -> np.random.Generator:
    """The generator for part *name* of the firm built from *seed* (and *extra* indexes)."""
    if seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed}")
    key = (zlib.crc32(name.encode("utf-8")), *extra)
    return np.random.default_rng(np.random.SeedSequence(seed, spawn_key=key))
