"""Seeded data generators for the statistics tests: skewed columns, missing values, categories, late labels."""

from __future__ import annotations

from collections.abc import Callable, Iterable

import numpy as np
import pyarrow as pa

from modelmonitor.evaluator.stats import ColumnRoles

BINARY_ROLES = ColumnRoles(target="label", score="proba", categorical=("region",), exclude=("request_id",))


def binary_table(rows: int, seed: int, shift: float = 0.0, label_share: float = 1.0) -> pa.Table:
    """Calibrated scores (labels drawn from them); ``shift`` moves ``age``; some labels left null."""
    generator = np.random.default_rng(seed)
    age = generator.normal(40 + 10 * shift, 10, rows)
    income = generator.lognormal(10, 0.5, rows)
    income[generator.random(rows) < 0.05] = np.nan
    region = generator.choice(["north", "south", "east", "west"], rows, p=[0.4, 0.3, 0.2, 0.1])
    logit = (
        0.08 * (age - 40)
        - 0.5 * (np.nan_to_num(np.log(income), nan=10) - 10)
        + (region == "north") * 0.7
        - 0.3
    )
    probability = 1 / (1 + np.exp(-logit))
    label = (generator.random(rows) < probability).astype(np.int64)
    labelled = generator.random(rows) < label_share
    return pa.table(
        {
            "request_id": np.arange(rows) + seed * 10_000_000,
            "age": age,
            "income": income,
            "region": region,
            "label": pa.array(label, mask=~labelled),
            "proba": probability,
        }
    )


def batches_of(table: pa.Table, size: int) -> Callable[[], Iterable[pa.RecordBatch]]:
    return lambda: table.to_batches(max_chunksize=size)
