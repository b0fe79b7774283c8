"""The evaluator's exception tree: every failure a user can meet maps to one outcome and one exit code.

The exit codes and outcome names are a contract with the operator (docs/contracts.md §2-3), so they live
here, next to the classes, and nowhere else. Messages name the field, bucket, key or column concerned and
never contain credentials.

    EvaluatorError                 (exit 1, outcome internal_error)
    ├── ConfigError                (exit 2, outcome config_error)
    ├── DataError                  (exit 3, outcome data_error)
    └── StorageError               (exit 4, outcome storage_error)
"""

from __future__ import annotations

from typing import ClassVar

__all__ = [
    "EXIT_CONFIG_ERROR",
    "EXIT_DATA_ERROR",
    "EXIT_EVALUATED",
    "EXIT_INTERNAL_ERROR",
    "EXIT_STORAGE_ERROR",
    "ConfigError",
    "DataError",
    "EvaluatorError",
    "StorageError",
]

EXIT_EVALUATED = 0
EXIT_INTERNAL_ERROR = 1
EXIT_CONFIG_ERROR = 2
EXIT_DATA_ERROR = 3
EXIT_STORAGE_ERROR = 4


class EvaluatorError(Exception):
    """Base of every error the evaluator reports; ``reason`` is a CamelCase word for machines."""

    exit_code: ClassVar[int] = EXIT_INTERNAL_ERROR
    outcome: ClassVar[str] = "internal_error"

    def __init__(self, message: str, *, reason: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.reason = reason or type(self).__name__

    def to_dict(self) -> dict[str, str]:
        return {"reason": self.reason, "message": self.message}


class ConfigError(EvaluatorError):
    """The config file or flags are wrong: a bad field, an unknown metric, a configured column absent."""

    exit_code = EXIT_CONFIG_ERROR
    outcome = "config_error"


class DataError(EvaluatorError):
    """The data cannot be evaluated: no rows, a wrong type, all labels missing, a single class."""

    exit_code = EXIT_DATA_ERROR
    outcome = "data_error"


class StorageError(EvaluatorError):
    """The store refused or lacks something: a missing bucket or object, access denied, no connection."""

    exit_code = EXIT_STORAGE_ERROR
    outcome = "storage_error"
