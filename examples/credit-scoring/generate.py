#!/usr/bin/env python3
"""Seeded data for the credit-scoring example: a binary classifier whose ground truth arrives a day late.

    python examples/credit-scoring/generate.py ./data/credit            # local Parquet
    python examples/credit-scoring/generate.py s3://ml/credit --drift 1 # S3 / MinIO, drifted production

Writes `reference/` (training data with labels), `current/` (the last 48 hours of requests: inputs, score
and decision, no label) and `labels/` (`request_id`, `label` for the requests older than 24 hours, of which
about 90% have been resolved). With `--drift` applicants get older, richer and more indebted, the region
and product mix changes and the model's scores lose information, as a model decays in production.
"""

from __future__ import annotations

import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pyarrow as pa

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from _output import parse_arguments, report, write_tables

REGIONS = ["north", "south", "east", "west"]
PRODUCTS = ["card", "personal-loan", "mortgage", "auto"]
LABEL_DELAY = timedelta(hours=24)


def applicants(rows: int, rng: np.random.Generator, drift: float, end: datetime, span: timedelta,
               prefix: str) -> pa.Table:
    age = np.clip(rng.normal(41 + 8 * drift, 11, rows), 18, 90)
    income = rng.lognormal(10.6 + 0.4 * drift, 0.45, rows)
    debt_ratio = np.clip(rng.beta(2, 5, rows) + 0.25 * drift, 0, 1.5)
    credit_lines = rng.poisson(4 + 2 * drift, rows)
    region_mix = np.array([0.4, 0.3, 0.2, 0.1]) * (1 - drift) + np.array([0.1, 0.2, 0.3, 0.4]) * drift
    product_mix = np.array([0.5, 0.3, 0.1, 0.1]) * (1 - drift) + np.array([0.2, 0.3, 0.1, 0.4]) * drift
    region = rng.choice(REGIONS, rows, p=region_mix)
    product = rng.choice(PRODUCTS, rows, p=product_mix)
    risk = (-1.4 + 8.0 * (debt_ratio - 0.3) - 0.06 * (age - 41) - 1.2 * (np.log(income) - 10.6)
            + 0.2 * (credit_lines - 4))
    default = (rng.random(rows) < 1 / (1 + np.exp(-(risk + rng.normal(0, 0.4, rows))))).astype(np.int64)
    # The model learned the reference relation; under drift its scores get noisier.
    score = 1 / (1 + np.exp(-(risk + rng.normal(0, 0.3 + 2.5 * drift, rows))))
    seconds = rng.uniform(0, span.total_seconds(), rows)
    return pa.table({
        "request_id": [f"{prefix}-{index:07d}" for index in range(rows)],
        "ts": pa.array([end - timedelta(seconds=float(s)) for s in seconds], pa.timestamp("us", tz="UTC")),
        "age": age.round(1), "income": income.round(2), "debt_ratio": debt_ratio, "credit_lines": credit_lines,
        "region": region, "product": product,
        "proba": score, "pred": (score >= 0.5).astype(np.int64), "label": default,
    })


def main() -> int:
    arguments = parse_arguments(__doc__.splitlines()[0], rows=10_000)
    now = arguments.now or datetime.now(UTC)
    rng = np.random.default_rng(arguments.seed)
    reference = applicants(2 * arguments.rows, rng, 0.0, now - timedelta(days=30), timedelta(days=60), "train")
    current = applicants(arguments.rows, rng, arguments.drift, now, timedelta(hours=48), "req")
    old_enough = pa.compute.less(current["ts"], pa.scalar(now - LABEL_DELAY, pa.timestamp("us", tz="UTC")))
    resolved = pa.array(rng.random(current.num_rows) < 0.9)
    labels = current.filter(pa.compute.and_(old_enough, resolved)).select(["request_id", "label"])
    tables = {"reference": reference, "current": current.drop_columns(["label"]), "labels": labels}
    report(write_tables(arguments.destination, tables), tables)
    return 0


if __name__ == "__main__":
    sys.exit(main())
