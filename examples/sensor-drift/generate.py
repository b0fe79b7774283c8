#!/usr/bin/env python3
"""Seeded data for the drift-only example: an anomaly detector on factory sensors, with no ground truth.

    python examples/sensor-drift/generate.py ./data/sensors
    python examples/sensor-drift/generate.py s3://ml/sensors --drift 1

Writes `reference/` (a month of readings the detector was tuned on) and `current/` (the last 6 hours) as
Parquet: temperature, vibration, pressure, rpm, line and shift, plus the detector's `anomaly_score`
and `is_anomaly`. Nobody labels sensor readings, so only the inputs and the outputs can be watched. With
`--drift` a bearing wears (vibration grows and spreads), line C runs a new product at higher rpm, and a
recalibrated pressure gauge reads in a shifted range.
"""

from __future__ import annotations

import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pyarrow as pa

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from _output import parse_arguments, report, write_tables


def readings(rows: int, rng: np.random.Generator, drift: float, end: datetime, span: timedelta) -> pa.Table:
    line = rng.choice(["A", "B", "C"], rows, p=[0.4, 0.35, 0.25] if drift == 0 else [0.3, 0.3, 0.4])
    seconds = rng.uniform(0, span.total_seconds(), rows)
    times = [end - timedelta(seconds=float(s)) for s in seconds]
    shift = np.array(["night" if t.hour < 6 or t.hour >= 22 else "day" if t.hour < 14 else "late" for t in times])
    temperature = rng.normal(68, 4, rows) + 0.5 * drift
    vibration = rng.gamma(4.0, 0.5 * (1 + 0.6 * drift), rows)
    pressure = rng.normal(5.0 + 0.8 * drift, 0.3, rows)
    rpm = rng.normal(1450, 60, rows) + np.where(line == "C", 150 * drift, 0)
    anomaly_score = 1 / (1 + np.exp(-(0.8 * (vibration - 2) + 0.3 * np.abs(temperature - 68) / 4 - 2.5)))
    return pa.table({
        "reading_id": [f"s{index:08d}" for index in range(rows)],
        "read_at": pa.array(times, pa.timestamp("us", tz="UTC")),
        "line": line, "shift": shift,
        "temperature_c": temperature.round(2), "vibration_mm_s": vibration.round(3),
        "pressure_bar": pressure.round(3), "rpm": rpm.round(),
        "anomaly_score": anomaly_score, "is_anomaly": (anomaly_score >= 0.5).astype(np.int64),
    })


def main() -> int:
    arguments = parse_arguments(__doc__.splitlines()[0], rows=6_000)
    now = arguments.now or datetime.now(UTC)
    rng = np.random.default_rng(arguments.seed)
    tables = {
        "reference": readings(4 * arguments.rows, rng, 0.0, now - timedelta(days=7), timedelta(days=30)),
        "current": readings(arguments.rows, rng, arguments.drift, now, timedelta(hours=6)),
    }
    report(write_tables(arguments.destination, tables), tables)
    return 0


if __name__ == "__main__":
    sys.exit(main())
