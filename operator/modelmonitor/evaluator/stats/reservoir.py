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


def _decoded(array: pa.Array) -> pa.Array:
    """A dictionary array as its plain values (``to_pylist`` of a dictionary array is ~10x slower)."""
    if pa.types.is_dictionary(array.type):
        return array.dictionary.take(array.indices)
    return array


class RowReservoir:
    """The ``capacity`` rows with the smallest keys seen so far; ``keys`` / ``numeric`` / ``categorical`` sorted.

    Offered rows are filtered against the largest kept key and appended to a buffer; the buffer is cut back
    to the ``capacity`` smallest keys only when it holds twice that (one ``argpartition``), and sorted only
    when read. Sorting and re-gathering every column at every batch cost more than the rest of the sampling.
    Ties (equal keys) only arise for rows of equal content, which are interchangeable.
    """

    def __init__(self, capacity: int, seed: int, numeric_columns: list[str], categorical_columns: list[str]):
        self.capacity = capacity
        self.seed = seed
        self.numeric_columns = list(numeric_columns)
        self.categorical_columns = list(categorical_columns)
        self._keys: list[KeyArray] = []
        self._numeric: dict[str, list[FloatArray]] = {name: [] for name in numeric_columns}
        self._categorical: dict[str, list[ObjectArray]] = {name: [] for name in categorical_columns}
        self._buffered = 0
        self._threshold: np.uint64 | None = None  # the largest kept key, once ``capacity`` rows are kept
        self._sorted = True

    # --- the settled (cut and sorted) sample ---------------------------------------------------------------

    @property
    def keys(self) -> KeyArray:
        self._settle()
        return self._keys[0] if self._keys else np.empty(0, dtype=np.uint64)

    @keys.setter
    def keys(self, keys: KeyArray) -> None:
        self._keys = [keys]
        self._buffered = len(keys)
        self._sorted = True
        self._threshold = keys[-1] if len(keys) >= self.capacity and len(keys) else None

    @property
    def numeric(self) -> dict[str, FloatArray]:
        self._settle()
        return {name: chunks[0] if chunks else np.empty(0) for name, chunks in self._numeric.items()}

    @numeric.setter
    def numeric(self, numeric: dict[str, FloatArray]) -> None:
        self.numeric_columns = list(numeric)
        self._numeric = {name: [values] for name, values in numeric.items()}

    @property
    def categorical(self) -> dict[str, ObjectArray]:
        self._settle()
        return {
            name: chunks[0] if chunks else np.empty(0, dtype=object) for name, chunks in self._categorical.items()
        }

    @categorical.setter
    def categorical(self, categorical: dict[str, ObjectArray]) -> None:
        self.categorical_columns = list(categorical)
        self._categorical = {name: [values] for name, values in categorical.items()}

    def __len__(self) -> int:
        return min(self._buffered, self.capacity) if not self._sorted else len(self.keys)

    def _cut(self, order_all: bool) -> None:
        """Concatenate the buffer and keep the ``capacity`` smallest keys (sorted when ``order_all``)."""
        if not self._keys:
            return
        keys = np.concatenate(self._keys) if len(self._keys) > 1 else self._keys[0]
        if order_all:
            order: npt.NDArray[np.intp] | None = np.argsort(keys, kind="stable")[: self.capacity]
        elif len(keys) > self.capacity:
            order = np.argpartition(keys, self.capacity - 1)[: self.capacity]
        else:
            order = None
        if order is not None:
            keys = keys[order]

        def pick(chunks: list[Any]) -> Any:
            values = np.concatenate(chunks) if len(chunks) > 1 else chunks[0]
            return values if order is None else values[order]

        self._keys = [keys]
        self._numeric = {name: [pick(chunks)] for name, chunks in self._numeric.items() if chunks}
        self._categorical = {name: [pick(chunks)] for name, chunks in self._categorical.items() if chunks}
        for name in self.numeric_columns:
            self._numeric.setdefault(name, [])
        for name in self.categorical_columns:
            self._categorical.setdefault(name, [])
        self._buffered = len(keys)
        if len(keys) >= self.capacity and len(keys):
            self._threshold = keys[-1] if order_all else keys.max()

    def _settle(self) -> None:
        if not self._sorted:
            self._cut(order_all=True)
            self._sorted = True

    # --- feeding -------------------------------------------------------------------------------------------

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
        if self._threshold is not None:
            candidates = np.flatnonzero(keys <= self._threshold)
            if len(candidates) == 0:
                return
        if len(candidates) > self.capacity:
            nearest = np.argpartition(keys[candidates], self.capacity - 1)[: self.capacity]
            candidates = np.sort(candidates[nearest])
        self._append(
            keys[candidates],
            {name: numeric[name][candidates] for name in self.numeric_columns},
            {
                name: np.asarray(_decoded(categorical[name].take(pa.array(candidates))).to_pylist(), dtype=object)
                for name in self.categorical_columns
            },
        )

    def _append(self, keys: KeyArray, numeric: dict[str, FloatArray], categorical: dict[str, ObjectArray]) -> None:
        self._keys.append(keys)
        for name in self.numeric_columns:
            self._numeric[name].append(numeric[name])
        for name in self.categorical_columns:
            self._categorical[name].append(categorical[name])
        self._buffered += len(keys)
        self._sorted = False
        if self._buffered >= 2 * self.capacity:
            self._cut(order_all=False)

    def merge(self, other: RowReservoir) -> None:
        if (
            other.seed != self.seed
            or other.capacity != self.capacity
            or sorted(other.numeric_columns) != sorted(self.numeric_columns)
            or sorted(other.categorical_columns) != sorted(self.categorical_columns)
        ):
            raise StateMismatchError(
                "row reservoirs with different seeds, capacities or columns cannot merge"
            )
        if self.capacity:
            self._append(other.keys, other.numeric, other.categorical)

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
            "keys": self.keys.tolist(),
            "numeric": {
                name: [None if value != value else value for value in values.tolist()]  # NaN: the one value != itself
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
