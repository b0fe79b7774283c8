"""Champion / challenger comparison (``spec.challenger``): mergeable evidence and anytime-valid decisions.

Shadow mode (both models scored the same rows) uses paired tests (``paired``); A/B mode (traffic split by a
variant column) unpaired ones (``split``). Both reduce to per-metric evidence that ``outcome`` turns into
decisions with the confidence sequence of ``sequential`` — valid however many runs look at the growing
evidence — and ``state`` carries the evidence from run to run. Pure numpy; nothing here reads or writes.
"""

from modelmonitor.evaluator.comparison.outcome import ComparisonOutcome, ComparisonSettings, MetricComparison
from modelmonitor.evaluator.comparison.paired import ModelOutputs, PairedComparison
from modelmonitor.evaluator.comparison.sequential import Decision
from modelmonitor.evaluator.comparison.split import SplitComparison
from modelmonitor.evaluator.comparison.state import AccumulatedComparison, accumulate, comparison_from_state

__all__ = [
    "AccumulatedComparison",
    "ComparisonOutcome",
    "ComparisonSettings",
    "Decision",
    "MetricComparison",
    "ModelOutputs",
    "PairedComparison",
    "SplitComparison",
    "accumulate",
    "comparison_from_state",
]
