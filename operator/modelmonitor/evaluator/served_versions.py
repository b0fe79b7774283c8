"""Which model versions served the evaluated window: rows counted per value of ``spec.data.columns.version``.

Why: the operator credits an evaluation to a model version only when one version served its whole window
(issue 14, version attribution). The evaluator is the only party that sees the rows, so it counts them here,
cheaply, on the batches it streams anyway: one ``value_counts`` per batch, at most ``MAX_VERSIONS`` distinct
values kept (the rest are summed under ``OTHER``), so memory stays bounded whatever the data holds.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

import pyarrow as pa
import pyarrow.compute as pc

__all__ = ["MAX_VERSIONS", "NULL", "OTHER", "ServedVersions"]

MAX_VERSIONS = 20
OTHER = "(other)"  # rows of versions beyond the first MAX_VERSIONS distinct ones
NULL = "(null)"  # rows whose version cell is empty


@dataclass
class ServedVersions:
    """Rows per version value of one column over the batches it watches."""

    column: str
    counts: dict[str, int] = field(default_factory=dict)

    def watch(self, batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        """Count each batch's versions, then pass the batch on without the version column."""
        for batch in batches:
            index = batch.schema.get_field_index(self.column)
            if index < 0:
                yield batch
                continue
            self.add(batch.column(index))
            yield batch.remove_column(index)

    def add(self, values: pa.Array | pa.ChunkedArray) -> None:
        for item in pc.value_counts(values).to_pylist():
            value, count = item["values"], int(item["counts"])
            self._add(NULL if value is None else _name(value), count)

    def _add(self, name: str, count: int) -> None:
        if name in self.counts or len(self.counts) < MAX_VERSIONS:
            self.counts[name] = self.counts.get(name, 0) + count
        else:
            self.counts[OTHER] = self.counts.get(OTHER, 0) + count

    def to_dict(self) -> dict[str, int]:
        """The counts, largest first (the form of result.json's ``servedVersions``)."""
        return dict(sorted(self.counts.items(), key=lambda item: (-item[1], item[0])))


def _name(value: object) -> str:
    """A version cell as the operator names versions: integers without ``.0``, everything else as text."""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)
