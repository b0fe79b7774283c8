"""``modelmonitor evaluate``, ``reduce`` and ``baseline``: the edge where errors become exit codes.

In a Job the operator mounts the config (docs/contracts.md §1) and reads back the summary this writes to
the termination log; locally, flags name the files and an output folder. Whatever happens, ``evaluate``
writes a summary (also on errors, with the outcome and a message naming the field, bucket or column) and
exits with the documented code:

    0  evaluated, whatever the verdict     2  configuration error     4  storage error
    1  internal error (a bug)              3  data error

A traceback is printed only for internal errors, after the summary, since only they are bugs.

In a shard of an Indexed Job (``MODELMONITOR_SHARD_INDEX`` / ``MODELMONITOR_SHARD_COUNT`` set) ``evaluate``
writes a partial result and a summary with ``"outcome": "partial"``; ``reduce`` merges the partials of a run
and writes what a whole run writes (``evaluator.sharding``).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import traceback
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from modelmonitor.evaluator.errors import (
    EXIT_EVALUATED,
    EXIT_INTERNAL_ERROR,
    ConfigError,
    EvaluatorError,
)
from modelmonitor.evaluator.inputs import EvaluationInput, load_config_file, read_config_document
from modelmonitor.evaluator.result import encode_summary, error_summary
from modelmonitor.evaluator.storage import STORAGE_TIMEOUT_ENV

__all__ = ["main"]

logger = logging.getLogger("modelmonitor.evaluator")

DEFAULT_TERMINATION_LOG = "/dev/termination-log"


class _ArgumentParser(argparse.ArgumentParser):
    """argparse that raises a ConfigError (exit 2 with a summary) instead of exiting by itself."""

    def error(self, message: str) -> Any:
        raise ConfigError(f"{self.prog}: {message}", reason="BadArguments")


def _add_data_flags(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("local use (override or replace the config file)")
    group.add_argument("--reference", help="reference data: a file, a folder or an s3:// URI")
    group.add_argument("--current", help="current data: a file, a folder or an s3:// URI")
    group.add_argument("--labels", help="delayed labels: a file, a folder or an s3:// URI (needs --join-on)")
    group.add_argument("--format", choices=["parquet", "csv", "jsonl"], help="format of all data (default: by suffix)")
    group.add_argument("--task", choices=["binary-classification", "multiclass-classification", "regression"])
    group.add_argument("--target", help="column with the true label")
    group.add_argument("--prediction", help="column with the model's prediction")
    group.add_argument("--score", help="column with the positive-class score")
    group.add_argument("--categorical", help="comma-separated categorical feature columns")
    group.add_argument("--exclude", help="comma-separated columns to ignore")
    group.add_argument("--join-on", help="id column joining labels to current rows")
    group.add_argument("--timestamp-column", help="timestamp column of the current data")
    group.add_argument("--window", help="evaluate only the last WINDOW of current data, e.g. 24h")
    group.add_argument("--model-version", help="model version to report")
    group.add_argument(
        "--storage-timeout",
        type=float,
        help="seconds within which an unreachable or silent S3 endpoint fails the run "
        "(default: $MODELMONITOR_STORAGE_TIMEOUT, else 30)",
    )


def _build_parser() -> _ArgumentParser:
    parser = _ArgumentParser(prog="modelmonitor", description="Evaluate a model's quality and data drift.")
    commands = parser.add_subparsers(dest="command", required=True, parser_class=_ArgumentParser)
    evaluate = commands.add_parser("evaluate", help="evaluate current data against the reference and thresholds")
    evaluate.add_argument("--config", help="the evaluation config (JSON or YAML), as mounted by the operator")
    evaluate.add_argument("--output", help="write result.json and report.html into this folder or s3:// prefix")
    evaluate.add_argument("--run-id", help="run id (default: $MODELMONITOR_RUN_ID, else a timestamp)")
    evaluate.add_argument("--as-of", help="evaluate windows ending at this ISO 8601 time (default: now)")
    evaluate.add_argument("--summary", help="also write the summary here (default: $MODELMONITOR_TERMINATION_LOG)")
    evaluate.add_argument("--quiet", action="store_true", help="do not print the summary on stdout")
    evaluate.add_argument(
        "--profile-cache", help="cache reference profiles under this folder or s3:// prefix (default: output.uri)"
    )
    evaluate.add_argument(
        "--no-step-profiles", action="store_true",
        help="read a long window's raw data even where stored daily step profiles are valid (neither read nor write)",
    )
    _add_data_flags(evaluate)
    reduce = commands.add_parser("reduce", help="merge the partial results of a sharded run into its result")
    reduce.add_argument("--config", help="the evaluation config (JSON or YAML), as mounted by the operator")
    reduce.add_argument("--output", help="the run's output folder or s3:// prefix (default: from the config)")
    reduce.add_argument("--run-id", help="the sharded run's id (default: $MODELMONITOR_RUN_ID)")
    reduce.add_argument("--summary", help="also write the summary here (default: $MODELMONITOR_TERMINATION_LOG)")
    reduce.add_argument("--quiet", action="store_true", help="do not print the summary on stdout")
    reduce.add_argument("--profile-cache", help="where the shards cached the reference profile")
    reduce.set_defaults(as_of=None)
    _add_data_flags(reduce)
    baseline = commands.add_parser("baseline", help="profile the reference data and print suggested thresholds")
    baseline.add_argument("--config", help="the evaluation config (JSON or YAML)")
    baseline.add_argument("--output", help="also write the profile and suggestions (JSON) to this file")
    _add_data_flags(baseline)
    return parser


def _split(value: str | None) -> list[str] | None:
    if value is None:
        return None
    return [item.strip() for item in value.split(",") if item.strip()]


def config_document(arguments: argparse.Namespace) -> dict[str, Any]:
    """The config file (if any) with the local flags laid over it, in the mounted document's shape.

    A config file must have the document's shape (``spec:`` at the top; ``read_config_document`` refuses it
    otherwise). Without a file, the flags make the whole spec: the model is called ``model`` and, unless the
    file declares rules, the spec's default drift tests run (a spec must declare metrics or drift).
    """
    if getattr(arguments, "storage_timeout", None) is not None:
        os.environ[STORAGE_TIMEOUT_ENV] = str(arguments.storage_timeout)
    document: dict[str, Any] = load_config_file(arguments.config) if arguments.config else {}
    if arguments.config and "spec" not in document:
        return document  # read_config_document names what is wrong
    spec = document.setdefault("spec", {})
    if not isinstance(spec, dict):
        raise ConfigError("spec: must be an object")
    model = spec.setdefault("model", {})
    data = spec.setdefault("data", {})
    if not isinstance(model, dict) or not isinstance(data, dict):
        raise ConfigError("spec.model and spec.data: must be objects")
    if arguments.task:
        model["task"] = arguments.task
    if arguments.model_version:
        model["version"] = arguments.model_version
    if not arguments.config:
        if not arguments.task:
            raise ConfigError(
                "--task: is required without --config (binary-classification, multiclass-classification or "
                "regression)",
                reason="BadArguments",
            )
        model.setdefault("name", "model")
        spec.setdefault("drift", {})
    for name in ("reference", "current"):
        uri = getattr(arguments, name, None)
        if uri:
            section = data.setdefault(name, {})
            section["uri"] = uri
            if arguments.format:
                section["format"] = arguments.format
    current = data.get("current")
    if isinstance(current, dict):
        if arguments.timestamp_column:
            current["timestampColumn"] = arguments.timestamp_column
        if arguments.window:
            current["window"] = arguments.window
    if arguments.labels:
        labels = data.setdefault("labels", {})
        labels["uri"] = arguments.labels
        if arguments.format:
            labels["format"] = arguments.format
    if arguments.join_on:
        data.setdefault("labels", {})["joinOn"] = arguments.join_on
    columns = data.setdefault("columns", {})
    for flag in ("target", "prediction", "score"):
        if getattr(arguments, flag):
            columns[flag] = getattr(arguments, flag)
    for flag in ("categorical", "exclude"):
        values = _split(getattr(arguments, flag))
        if values is not None:
            columns[flag] = values
    if arguments.command == "baseline" and "current" not in data and "reference" in data:
        data["current"] = dict(data["reference"])
    return document


def _default_run_id() -> str:
    return os.environ.get("MODELMONITOR_RUN_ID") or datetime.now(UTC).strftime("run-%Y%m%dT%H%M%SZ")


def _parse_as_of(value: str | None) -> datetime:
    if not value:
        return datetime.now(UTC)
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise ConfigError(f"--as-of: must be an ISO 8601 time, got {value!r}", reason="BadArguments") from None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def _write_summary(summary: dict[str, Any], explicit_path: str | None, quiet: bool) -> None:
    encoded = encode_summary(summary)
    paths = [explicit_path] if explicit_path else []
    termination_log = os.environ.get("MODELMONITOR_TERMINATION_LOG", DEFAULT_TERMINATION_LOG)
    if termination_log not in paths:
        paths.append(termination_log)
    for path in paths:
        try:
            with open(path, "wb") as handle:
                handle.write(encoded)
        except OSError as error:
            if path != DEFAULT_TERMINATION_LOG or explicit_path:
                logger.warning("cannot write the summary to %s: %s", path, error.strerror)
    if not quiet:
        sys.stdout.write(encoded.decode("utf-8") + "\n")
        sys.stdout.flush()


def _evaluate(arguments: argparse.Namespace) -> int:
    from modelmonitor.evaluator.run import EvaluationRun, RunOptions, run_evaluation
    from modelmonitor.evaluator.sharding import run_reduce, run_shard, shard_from_environment

    started_at = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    run_id = arguments.run_id or _default_run_id()
    model_version: str | None = None
    try:
        config: EvaluationInput = read_config_document(config_document(arguments))
        model_version = config.spec.model.version
        options = RunOptions(
            run_id=run_id,
            as_of=_parse_as_of(arguments.as_of),
            output_uri=arguments.output,
            output_is_final=arguments.output is not None,
            profile_cache_uri=arguments.profile_cache,
            step_profiles=not getattr(arguments, "no_step_profiles", False),
        )
        run: EvaluationRun | None = None
        partial_summary: dict[str, Any] | None = None
        shard = None if arguments.command == "reduce" else shard_from_environment(os.environ)
        if arguments.command == "reduce":
            run = run_reduce(config, options)
        elif shard is not None:
            partial_summary = run_shard(config, options, shard)
        else:
            run = run_evaluation(config, options)
    except EvaluatorError as error:
        logger.error("%s: %s", error.outcome, error.message)
        _write_summary(
            _error(run_id, error.outcome, error.reason, error.message, started_at, model_version),
            arguments.summary,
            arguments.quiet,
        )
        return error.exit_code
    except Exception as error:  # a bug: say so, keep the summary, then show the traceback
        message = f"internal error ({type(error).__name__}); please report it with the log of this run"
        _write_summary(
            _error(run_id, "internal_error", "InternalError", message, started_at, model_version),
            arguments.summary,
            arguments.quiet,
        )
        traceback.print_exc(file=sys.stderr)
        return EXIT_INTERNAL_ERROR
    if partial_summary is not None:
        _write_summary(partial_summary, arguments.summary, arguments.quiet)
        return EXIT_EVALUATED
    assert run is not None
    for violation in run.result.get("violations", []):
        logger.info("%s: %s", violation["severity"], violation["reason"])
    _write_summary(run.summary, arguments.summary, arguments.quiet)
    return EXIT_EVALUATED


def _error(
    run_id: str, outcome: str, reason: str, message: str, started_at: str, model_version: str | None
) -> dict[str, Any]:
    return error_summary(
        run_id=run_id,
        outcome=outcome,
        reason=reason,
        message=message,
        started_at=started_at,
        finished_at=datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        model_version=model_version,
    )


def _baseline(arguments: argparse.Namespace) -> int:
    from modelmonitor.evaluator.run import suggest_baseline

    try:
        config = read_config_document(config_document(arguments))
        suggestions = suggest_baseline(config)
    except EvaluatorError as error:
        sys.stderr.write(f"modelmonitor baseline: {error.outcome}: {error.message}\n")
        return error.exit_code
    except Exception:
        traceback.print_exc(file=sys.stderr)
        return EXIT_INTERNAL_ERROR
    text = json.dumps(suggestions, indent=2, allow_nan=False)
    if arguments.output:
        Path(arguments.output).write_text(text + "\n", encoding="utf-8")
    sys.stdout.write(text + "\n")
    return EXIT_EVALUATED


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``modelmonitor evaluate|baseline``; returns the exit code."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s", stream=sys.stderr)
    arguments_list = list(sys.argv[1:] if argv is None else argv)
    try:
        arguments = _build_parser().parse_args(arguments_list)
    except ConfigError as error:
        sys.stderr.write(f"{error.message}\n")
        if arguments_list[:1] in (["evaluate"], ["reduce"]):
            _write_summary(
                _error(
                    _default_run_id(),
                    error.outcome,
                    error.reason,
                    error.message,
                    datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
                    None,
                ),
                None,
                False,
            )
        return error.exit_code
    if arguments.command == "baseline":
        return _baseline(arguments)
    return _evaluate(arguments)
