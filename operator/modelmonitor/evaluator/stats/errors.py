"""Errors of the statistics engine, rooted in the evaluator's tree so the CLI maps them to exit codes.

Statistics code never decides an exit code itself: it raises one of these, and the evaluator's edge turns
the inherited ``outcome`` / ``exit_code`` into the summary and the process status.

    EvaluatorError (modelmonitor.evaluator.errors)
    └── StatsError                      internal: a bug in the engine (exit 1)
        ├── StatsConfigError            also a ConfigError: bad settings, a role column absent (exit 2)
        ├── StatsDataError              also a DataError: data the statistics cannot use (exit 3)
        └── StateMismatchError          merging or restoring state built for another profile (exit 1)
"""

from __future__ import annotations

from modelmonitor.evaluator.errors import ConfigError, DataError, EvaluatorError

__all__ = ["StateMismatchError", "StatsConfigError", "StatsDataError", "StatsError"]


class StatsError(EvaluatorError):
    """Base of every error raised by the statistics engine."""


class StatsConfigError(StatsError, ConfigError):
    """Settings or column roles the engine cannot honour; the message names the field or column."""


class StatsDataError(StatsError, DataError):
    """Data the engine cannot evaluate (a column of the wrong type, a role column absent from a batch)."""


class StateMismatchError(StatsError):
    """Two accumulator states that cannot be merged: built on different profiles, roles or versions."""
