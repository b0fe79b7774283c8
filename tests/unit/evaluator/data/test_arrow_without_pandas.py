"""pyarrow converts without importing pandas after ``arrow_without_pandas``, and the label join still works.

Checked in a fresh interpreter: the test process has imported pandas already (then the function is a no-op).
"""

from __future__ import annotations

import subprocess
import sys
import textwrap

SCRIPT = textwrap.dedent(
    """
    import sys
    import numpy as np
    import pyarrow as pa
    from modelmonitor.evaluator.parquet_stream import arrow_without_pandas
    from modelmonitor.evaluator.stats.columns import numeric_values

    arrow_without_pandas()
    values = numeric_values(pa.array([1.5, None, 3.0]), "x")
    assert np.isnan(values[1]) and values[0] == 1.5 and values[2] == 3.0, values
    pa.array(np.arange(4)), pa.scalar(1.0), pa.array(["a", None]).dictionary_encode()
    assert "pandas" not in sys.modules, "a conversion imported pandas"

    from modelmonitor.evaluator.data import LabelIndex  # the delayed-label join imports pandas itself

    ids = pa.array(["a", "b", "a", "c"])
    index = LabelIndex("id", ids, pa.array([0, 1, 1, 0]), rows_read=4)
    batch = pa.RecordBatch.from_pydict({"id": ["a", "c", None, "z"]})
    joined = index.attach(batch, "label")
    assert joined.column("label").to_pylist() == [1, 0, None, None], joined.column("label")
    assert "pandas" in sys.modules
    print("ok")
    """
)


def test_conversions_do_not_import_pandas_and_labels_still_join() -> None:
    completed = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True, check=False)
    assert completed.returncode == 0, completed.stderr
    assert completed.stdout.strip() == "ok"
