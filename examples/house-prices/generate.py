#!/usr/bin/env python3
"""Seeded data for the house-prices example: a regression model whose sale prices are known at once.

    python examples/house-prices/generate.py ./data/houses
    python examples/house-prices/generate.py s3://ml/houses --drift 1

Writes `reference/` (the training set: features, `price` and the model's `predicted_price`) and `current/`
(last week's valuations with the agreed `price`, stamped in `valued_at`). With `--drift` the market moves:
prices rise faster than the features explain, buyers look further out and at bigger houses, a new
neighbourhood appears — the model under-predicts and its errors grow.
"""

from __future__ import annotations

import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pyarrow as pa

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from _output import parse_arguments, report, write_tables

NEIGHBOURHOODS = ["old-town", "riverside", "harbour", "hillside", "university"]


def valuations(rows: int, rng: np.random.Generator, drift: float, end: datetime, span: timedelta) -> pa.Table:
    area = np.clip(rng.normal(110 + 25 * drift, 35, rows), 25, 400)
    bedrooms = np.clip(np.round(area / 35 + rng.normal(0, 0.7, rows)), 1, 8).astype(np.int64)
    age_years = np.clip(rng.gamma(2.0, 15, rows), 0, 150).round()
    distance_km = rng.lognormal(1.5 + 0.5 * drift, 0.6, rows)
    names = NEIGHBOURHOODS + (["new-quarter"] if drift > 0 else [])
    weights = np.array([0.3, 0.25, 0.2, 0.15, 0.1] + ([0.0] if drift > 0 else []))
    if drift > 0:
        weights = weights * (1 - 0.3 * drift)
        weights[-1] = 0.3 * drift
    neighbourhood = rng.choice(names, rows, p=weights / weights.sum())
    premium = {"old-town": 1.25, "riverside": 1.15, "harbour": 1.1, "hillside": 1.0, "university": 0.9,
               "new-quarter": 1.05}
    factor = np.array([premium[name] for name in neighbourhood])
    value = (2500 * area + 8000 * bedrooms - 900 * age_years - 6000 * distance_km) * factor + 40_000
    price = np.maximum(value * (1 + 0.25 * drift) + rng.normal(0, 25_000, rows), 20_000)
    predicted = np.maximum(value + rng.normal(0, 8_000, rows), 20_000)
    seconds = rng.uniform(0, span.total_seconds(), rows)
    return pa.table({
        "listing_id": [f"h{index:07d}" for index in range(rows)],
        "valued_at": pa.array([end - timedelta(seconds=float(s)) for s in seconds], pa.timestamp("us", tz="UTC")),
        "area_m2": area.round(1), "bedrooms": bedrooms, "age_years": age_years, "distance_km": distance_km.round(2),
        "neighbourhood": neighbourhood, "price": price.round(-2), "predicted_price": predicted.round(-2),
    })


def main() -> int:
    arguments = parse_arguments(__doc__.splitlines()[0], rows=5_000)
    now = arguments.now or datetime.now(UTC)
    rng = np.random.default_rng(arguments.seed)
    tables = {
        "reference": valuations(4 * arguments.rows, rng, 0.0, now - timedelta(days=90), timedelta(days=365)),
        "current": valuations(arguments.rows, rng, arguments.drift, now, timedelta(days=7)),
    }
    report(write_tables(arguments.destination, tables), tables)
    return 0


if __name__ == "__main__":
    sys.exit(main())
