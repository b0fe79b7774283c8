"""Seeded synthetic model data for tests and the demo: a credit-scoring-like binary classifier.

`drift=0` gives current data from the reference distribution; `drift>0` shifts numeric features, changes
category mix and degrades the model's predictions, the way a model decays in production.
"""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq


def credit_scoring(rows: int, seed: int, drift: float = 0.0, end: datetime | None = None) -> pa.Table:
    rng = np.random.default_rng(seed)
    end = end or datetime.now(UTC)
    age = rng.normal(40 + 12 * drift, 10, rows)
    income = rng.lognormal(10.5 + 0.5 * drift, 0.4, rows)
    debt_ratio = np.clip(rng.beta(2, 5, rows) + 0.3 * drift, 0, 1.5)
    region = rng.choice(["north", "south", "east", "west"], rows,
                        p=[0.4, 0.3, 0.2, 0.1] if drift == 0 else [0.1, 0.2, 0.3, 0.4])
    logit = -1.0 + 2.5 * (debt_ratio - 0.3) - 0.03 * (age - 40) + rng.normal(0, 0.5, rows)
    label = (rng.random(rows) < 1 / (1 + np.exp(-logit))).astype(np.int64)
    # The model learned the reference relation; under drift its scores lose information.
    model_logit = -1.0 + 2.5 * (debt_ratio - 0.3) - 0.03 * (age - 40)
    noise = rng.normal(0, 0.3 + 3.0 * drift, rows)
    score = 1 / (1 + np.exp(-(model_logit + noise)))
    timestamps = [end - timedelta(seconds=float(s)) for s in rng.uniform(60, 3600 * 12, rows)]
    return pa.table({
        "request_id": [f"r{seed}-{i}" for i in range(rows)],
        "ts": pa.array(timestamps, pa.timestamp("us", tz="UTC")),
        "age": age, "income": income, "debt_ratio": debt_ratio, "region": region,
        "proba": score, "pred": (score >= 0.5).astype(np.int64), "label": label,
    })


def parquet_bytes(table: pa.Table) -> bytes:
    sink = io.BytesIO()
    pq.write_table(table, sink)
    return sink.getvalue()
