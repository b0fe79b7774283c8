"""Seeded benchmark data: a binary classifier's reference and current data, with drift injected on purpose.

25 features (18 numeric with ~2% NaNs, 7 categorical strings), a label, a prediction and a positive-class
score. The current data drifts in 6 features (3 numeric shifted or scaled, 2 categorical re-weighted, one
numeric with more NaNs and a longer tail); the other 19 are drawn from the same distribution as the reference.
Written in chunks of row groups so generating 10M rows needs little memory.

    python bench/generate.py --rows 1000000 --out bench/data/1m
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

NUMERIC = 18
CATEGORICAL = 7
CHUNK = 250_000
CATEGORIES = [[f"c{index}_{value}" for value in range(count)] for index, count in enumerate((3, 5, 8, 12, 20, 40, 4))]
DRIFTED_NUMERIC = {0: ("shift", 0.5), 1: ("scale", 1.6), 2: ("shift", 0.1)}
DRIFTED_CATEGORICAL = {0: 2.0, 1: 1.6}
NAN_TAIL_NUMERIC = 3


def _category_weights(count: int, boost: float | None) -> np.ndarray:
    weights = 1.0 / np.arange(1, count + 1)
    if boost is not None:
        weights[-1] *= boost * 3
        weights[0] /= boost
    shares: np.ndarray = weights / weights.sum()
    return shares


def chunk(rng: np.random.Generator, rows: int, drifted: bool, offset: int) -> pa.RecordBatch:
    columns: dict[str, pa.Array] = {}
    logit = np.full(rows, -0.4)
    for index in range(NUMERIC):
        values = rng.normal(loc=index * 0.5, scale=1.0 + index * 0.1, size=rows)
        if drifted and index in DRIFTED_NUMERIC:
            kind, amount = DRIFTED_NUMERIC[index]
            mean = index * 0.5
            values = values + amount * (1.0 + index * 0.1) if kind == "shift" else mean + (values - mean) * amount
        missing = 0.02
        if drifted and index == NAN_TAIL_NUMERIC:
            missing = 0.06
            tail = rng.random(rows) < 0.05
            values = np.where(tail, values + rng.exponential(4.0, rows), values)
        if index < 6:
            logit += (values - index * 0.5) / (1.0 + index * 0.1) * (0.6 if index % 2 == 0 else -0.4)
        values[rng.random(rows) < missing] = np.nan
        columns[f"num_{index:02d}"] = pa.array(values, from_pandas=True)
    for index, names in enumerate(CATEGORIES):
        boost = DRIFTED_CATEGORICAL.get(index) if drifted else None
        codes = rng.choice(len(names), size=rows, p=_category_weights(len(names), boost))
        logit += np.where(codes == 0, 0.5, 0.0) if index < 2 else 0.0
        columns[f"cat_{index}"] = pa.DictionaryArray.from_arrays(
            pa.array(codes, type=pa.int32()), pa.array(names)
        ).cast(pa.string())
    probability = 1.0 / (1.0 + np.exp(-logit))
    label = (rng.random(rows) < probability).astype(np.int64)
    noise = rng.normal(0.0, 0.35, rows)
    score = 1.0 / (1.0 + np.exp(-(logit + noise)))
    columns["request_id"] = pa.array(np.arange(offset, offset + rows, dtype=np.int64))
    columns["label"] = pa.array(label)
    columns["pred"] = pa.array((score >= 0.5).astype(np.int64))
    columns["score"] = pa.array(score)
    return pa.RecordBatch.from_pydict(columns)


def write(path: Path, rows: int, seed: int, drifted: bool) -> None:
    rng = np.random.default_rng(seed)
    path.parent.mkdir(parents=True, exist_ok=True)
    writer: pq.ParquetWriter | None = None
    written = 0
    while written < rows:
        size = min(CHUNK, rows - written)
        batch = chunk(rng, size, drifted, written)
        if writer is None:
            writer = pq.ParquetWriter(path, batch.schema, compression="snappy")
        writer.write_batch(batch, row_group_size=CHUNK)
        written += size
    assert writer is not None
    writer.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--out", type=Path, default=Path("bench/data/1m"))
    parser.add_argument("--seed", type=int, default=20261123)
    arguments = parser.parse_args()
    write(arguments.out / "reference.parquet", arguments.rows, arguments.seed, drifted=False)
    write(arguments.out / "current.parquet", arguments.rows, arguments.seed + 1, drifted=True)
    print(f"wrote {arguments.rows} rows each to {arguments.out}/reference.parquet and current.parquet")


if __name__ == "__main__":
    main()
