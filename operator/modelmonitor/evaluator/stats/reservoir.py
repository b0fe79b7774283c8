"""A bounded, seeded sample of rows that merges exactly: bottom-k sampling on a hash of each row's content.

Each row gets a 64-bit key from a seeded hash of its feature values; the sample is the ``capacity`` rows
with the smallest keys. That is a uniform sample without replacement (the hash behaves as a random
permutation), and the k smallest keys of a union are the k smallest of the parts' k smallest, so four
shards merged hold exactly the rows one pass over the whole would hold, in the same order, whatever the
batching. Rows with equal content get equal keys; they are interchangeable, so ties do not matter. The
bottom k' of a bottom-k sample is itself the bottom-k' sample, which lets a large reservoir (for quantile
edges) also serve as the small sample the model-based drift tests use.
"""

from __future__ import annotations

import hashlib
from typing import Any

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc

from modelmonitor.evaluator.stats.columns import FloatArray, text_values
from modelmonitor.evaluator.stats.errors import StateMismatchError

__all__ = ["RowReservoir", "position_keys", "row_keys"]

KeyArray = npt.NDArray[np.uint64]
ObjectArray = npt.NDArray[np.object_]

_MULTIPLIER_1 = np.uint64(0xBF58476D1CE4E5B9)
_MULTIPLIER_2 = np.uint64(0x94D049BB133111EB)
_NULL_CATEGORY_KEY = np.uint64(0x9E3779B97F4A7C15)


def _finalize_hash(keys: KeyArray) -> KeyArray:
    keys ^= keys >> np.uint64(30)
    keys *= _MULTIPLIER_1
    keys ^= keys >> np.uint64(27)
    keys *= _MULTIPLIER_2
    keys ^= keys >> np.uint64(31)
    return keys


def _text_hash(text: str, seed: int) -> int:
    digest = hashlib.blake2b(text.encode(), digest_size=8, key=seed.to_bytes(8, "little", signed=False))
    return int.from_bytes(digest.digest(), "little")


def position_keys(first: int, rows: int, seed: int) -> KeyArray:
    """Seeded 64-bit keys of rows ``first .. first + rows - 1`` by position: a uniform sample, and cheap.

    For data read once in a fixed order (the reference profile), where merging by content is not needed.
    """
    positions = np.arange(first, first + rows, dtype=np.uint64)
    positions += np.uint64((seed * 0x9E3779B97F4A7C15) & 0xFFFFFFFFFFFFFFFF)
    return _finalize_hash(positions)


def row_keys(
    numeric: dict[str, FloatArray], categorical: dict[str, pa.Array], rows: int, seed: int
) -> KeyArray:
    """The seeded 64-bit key of every row, from the columns' values in name order."""
    keys = _finalize_hash(np.full(rows, np.uint64(seed & 0xFFFFFFFFFFFFFFFF), dtype=np.uint64))
    for name in sorted(numeric):
        keys ^= np.ascontiguousarray(numeric[name], dtype=np.float64).view(np.uint64)
        keys *= _MULTIPLIER_1
        keys ^= keys >> np.uint64(29)
    for name in sorted(categorical):
        encoded = pc.dictionary_encode(text_values(categorical[name]))
        dictionary = encoded.dictionary.to_pylist()
        category_keys = np.array(
            [_text_hash(str(value), seed) for value in dictionary] + [int(_NULL_CATEGORY_KEY)],
            dtype=np.uint64,
        )
        indices = encoded.indices.fill_null(len(dictionary)).to_numpy(zero_copy_only=False)
        keys ^= category_keys[indices]
        keys *= _MULTIPLIER_2
        keys ^= keys >> np.uint64(29)
    return _finalize_hash(keys)


class RowReservoir:
    """The ``capacity`` rows with the smallest keys seen so far, kept sorted by key."""

    def __init__(self, capacity: int, seed: int, numeric_columns: list[str], categorical_columns: list[str]):
        self.capacity = capacity
        self.seed = seed
        self.keys: KeyArray = np.empty(0, dtype=np.uint64)
        self.numeric: dict[str, FloatArray] = {name: np.empty(0) for name in numeric_columns}
        self.categorical: dict[str, ObjectArray] = {
            name: np.empty(0, dtype=object) for name in categorical_columns
        }

    def __len__(self) -> int:
        return len(self.keys)

    def update(
        self,
        numeric: dict[str, FloatArray],
        categorical: dict[str, pa.Array],
        rows: int,
        keys: KeyArray | None = None,
    ) -> None:
        """Offer a batch; ``numeric`` / ``categorical`` hold every sampled column (absent ones as nulls).

        ``keys`` defaults to :func:`row_keys` of the batch's content.
        """
        if rows == 0 or self.capacity == 0:
            return
        if keys is None:
            keys = row_keys(numeric, categorical, rows, self.seed)
        candidates: npt.NDArray[np.intp] = np.arange(rows)
        if len(self.keys) >= self.capacity:
            candidates = np.flatnonzero(keys <= self.keys[-1])
            if len(candidates) == 0:
                return
        if len(candidates) > self.capacity:
            nearest = np.argpartition(keys[candidates], self.capacity - 1)[: self.capacity]
            candidates = np.sort(candidates[nearest])
        batch_numeric = {name: numeric[name][candidates] for name in self.numeric}
        batch_categorical = {
            name: np.asarray(categorical[name].take(pa.array(candidates)).to_pylist(), dtype=object)
            for name in self.categorical
        }
        self._combine(keys[candidates], batch_numeric, batch_categorical)

    def _combine(
        self, keys: KeyArray, numeric: dict[str, FloatArray], categorical: dict[str, ObjectArray]
    ) -> None:
        all_keys = np.concatenate([self.keys, keys])
        order = np.argsort(all_keys, kind="stable")[: self.capacity]
        self.keys = all_keys[order]
        for name in self.numeric:
            self.numeric[name] = np.concatenate([self.numeric[name], numeric[name]])[order]
        for name in self.categorical:
            self.categorical[name] = np.concatenate([self.categorical[name], categorical[name]])[order]

    def merge(self, other: RowReservoir) -> None:
        if (
            other.seed != self.seed
            or other.capacity != self.capacity
            or sorted(other.numeric) != sorted(self.numeric)
            or sorted(other.categorical) != sorted(self.categorical)
        ):
            raise StateMismatchError(
                "row reservoirs with different seeds, capacities or columns cannot merge"
            )
        self._combine(other.keys, other.numeric, other.categorical)

    def head(self, capacity: int) -> RowReservoir:
        """The bottom-``capacity`` sample contained in this one."""
        smaller = RowReservoir(capacity, self.seed, list(self.numeric), list(self.categorical))
        smaller.keys = self.keys[:capacity].copy()
        smaller.numeric = {name: values[:capacity].copy() for name, values in self.numeric.items()}
        smaller.categorical = {name: values[:capacity].copy() for name, values in self.categorical.items()}
        return smaller

    def to_state(self) -> dict[str, Any]:
        return {
            "capacity": self.capacity,
            "seed": self.seed,
            "keys": [int(key) for key in self.keys],
            "numeric": {
                name: [None if np.isnan(value) else float(value) for value in values]
                for name, values in self.numeric.items()
            },
            "categorical": {name: list(values) for name, values in self.categorical.items()},
        }

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> RowReservoir:
        reservoir = cls(
            int(state["capacity"]), int(state["seed"]), list(state["numeric"]), list(state["categorical"])
        )
        reservoir.keys = np.array(state["keys"], dtype=np.uint64)
        reservoir.numeric = {
            name: np.array([np.nan if value is None else value for value in values], dtype=np.float64)
            for name, values in state["numeric"].items()
        }
        reservoir.categorical = {
            name: np.array(values, dtype=object) for name, values in state["categorical"].items()
        }
        return reservoir
