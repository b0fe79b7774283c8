"""Evidently's data-drift and classification presets on the benchmark data, with its HTML report.

Runs in its own virtualenv (bench/.venv-evidently, see README), since Evidently pins its own stack. Tests
are forced to the evaluator's: KS for numeric columns and chi-square for categorical ones at p < 0.05
(Evidently has no effect-size gate, so its drift decisions are p-value only).

    bench/.venv-evidently/bin/python bench/run_evidently.py REF.parquet CUR.parquet OUT.json
"""

from __future__ import annotations

import json
import sys

import pandas as pd
from evidently import BinaryClassification, DataDefinition, Dataset, Report
from evidently.presets import ClassificationPreset, DataDriftPreset


def main() -> None:
    reference_path, current_path, output_path = sys.argv[1:4]
    reference = pd.read_parquet(reference_path)
    current = pd.read_parquet(current_path)
    numeric = [name for name in reference.columns if name.startswith("num_")]
    categorical = [name for name in reference.columns if name.startswith("cat_")]
    for frame in (reference, current):
        frame["label"] = frame["label"].astype(int)
        frame["pred"] = frame["pred"].astype(int)
    definition = DataDefinition(
        id_column="request_id",
        numerical_columns=[*numeric, "score"],
        categorical_columns=[*categorical, "label", "pred"],
        classification=[
            BinaryClassification(target="label", prediction_labels="pred", prediction_probas="score", pos_label=1)
        ],
    )
    reference_dataset = Dataset.from_pandas(reference, data_definition=definition)
    current_dataset = Dataset.from_pandas(current, data_definition=definition)
    report = Report(
        [
            DataDriftPreset(columns=numeric + categorical, num_method="ks", cat_method="chisquare", threshold=0.05),
            ClassificationPreset(),
        ]
    )
    snapshot = report.run(current_dataset, reference_dataset)
    snapshot.save_html(output_path.replace(".json", ".html"))
    document = snapshot.dict()
    with open(output_path, "w") as handle:
        json.dump(document, handle, default=str)


if __name__ == "__main__":
    main()
