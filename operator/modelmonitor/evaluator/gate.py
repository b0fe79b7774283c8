"""``modelmonitor compare``: the challenger comparison as a rollout gate (an Argo Rollouts Job metric).

Reads the evidence the evaluations stored (``<output root>/comparison/state.json``, or ``--state``), decides
with the monitor's own settings (``spec.challenger``: alpha, minEffect, power) and answers with an exit code,
which is all Argo Rollouts' Job provider looks at (a Job that succeeds is a successful measurement, one that
fails a failed measurement):

    0  challenger-better or no-meaningful-difference: not worse, the rollout may go on
    1  challenger-worse: the measurement fails, the rollout aborts
    2  still inconclusive (or no evidence about these two versions yet) when the wait is over: a failed Job
       too (the Job provider has no "inconclusive" phase), so give ``--wait`` the time the evidence needs
       (``rowsNeeded`` says how many labelled rows; see examples/argo-rollouts/)
    3  the config or the stored state cannot be read (the message names the field or file)

It prints one JSON line with the decision, the reason and each metric's difference and interval. With
``--wait SECONDS`` it keeps re-reading the evidence (every ``--interval``) while it is inconclusive, so one
Job can wait for the scheduled evaluations to decide and still answer only success or failure. It reads; it
never evaluates data nor writes, so it can run as often as the rollout wants without touching the evidence.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from datetime import UTC, datetime
from typing import Any

from modelmonitor.evaluator.challenger import comparison_state_uri
from modelmonitor.evaluator.comparison import ComparisonSettings, comparison_from_state
from modelmonitor.evaluator.comparison.state import STATE_FORMAT
from modelmonitor.evaluator.errors import EvaluatorError
from modelmonitor.evaluator.inputs import EvaluationInput, load_config_file, read_config_document
from modelmonitor.evaluator.run import RunOptions, output_location
from modelmonitor.evaluator.stats.errors import StateMismatchError
from modelmonitor.evaluator.storage import read_bytes_if_exists

__all__ = ["EXIT_CODES", "gate_decision", "main"]

EXIT_CODES = {
    "challenger-better": 0,
    "no-meaningful-difference": 0,
    "challenger-worse": 1,
    "inconclusive": 2,
}
EXIT_ERROR = 3


def _state_uri(config: EvaluationInput, explicit: str | None) -> str | None:
    if explicit:
        return explicit
    location = output_location(config, RunOptions(run_id="gate", as_of=datetime.now(UTC)))
    return None if location is None else comparison_state_uri(location)


def gate_decision(config: EvaluationInput, state: dict[str, Any] | None) -> dict[str, Any]:
    """The decision document for the stored evidence (inconclusive when there is none for these versions)."""
    challenger = config.spec.challenger
    assert challenger is not None
    versions = {"championVersion": config.spec.model.version, "challengerVersion": challenger.version}
    if state is None:
        return {**versions, "decision": "inconclusive", "reason": "no comparison evidence stored yet"}
    if state.get("format") != STATE_FORMAT:
        return {**versions, "decision": "inconclusive", "reason": f"stored evidence has format {state.get('format')!r}"}
    stored = (state.get("championVersion"), state.get("challengerVersion"))
    if stored != (str(config.spec.model.version), challenger.version):
        return {
            **versions,
            "decision": "inconclusive",
            "reason": f"the stored evidence is about champion {stored[0]!r} / challenger {stored[1]!r}",
        }
    comparison = comparison_from_state(state["evidence"])
    settings = ComparisonSettings(alpha=challenger.alpha, min_effect=challenger.min_effect, power=challenger.power)
    outcome = comparison.outcome(settings).to_dict()
    return {
        **versions,
        "decision": outcome["decision"],
        "reason": outcome["reason"],
        "labelledRows": outcome["labelledRows"],
        "rowsNeeded": outcome["rowsNeeded"],
        "since": state.get("since"),
        "runs": state.get("runs"),
        "metrics": [
            {key: item[key] for key in ("metric", "champion", "challenger", "difference", "interval", "decision")}
            for item in outcome["metrics"]
        ],
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="modelmonitor compare",
        description="Decide champion vs challenger from the stored evidence; the exit code is the gate.",
    )
    parser.add_argument("--config", required=True, help="the monitor's config document (as for evaluate)")
    parser.add_argument("--state", help="the evidence (default: <output root>/comparison/state.json)")
    parser.add_argument(
        "--wait",
        type=float,
        default=0.0,
        help="seconds to keep re-reading the evidence while it is inconclusive (scheduled runs add to it)",
    )
    parser.add_argument("--interval", type=float, default=60.0, help="seconds between reads while waiting")
    arguments = parser.parse_args(argv)
    try:
        config = read_config_document(load_config_file(arguments.config))
        if config.spec.challenger is None:
            print(json.dumps({"error": "spec.challenger: must be set to compare"}), flush=True)
            return EXIT_ERROR
        uri = _state_uri(config, arguments.state)
        if uri is None:
            print(json.dumps({"error": "spec.output.uri: must be set (or --state given) to find the evidence"}))
            return EXIT_ERROR
        deadline = time.monotonic() + max(arguments.wait, 0.0)
        while True:
            payload = read_bytes_if_exists(uri)
            document = gate_decision(config, None if payload is None else json.loads(payload))
            if document["decision"] != "inconclusive" or time.monotonic() + arguments.interval > deadline:
                break
            print(json.dumps({**document, "stateUri": uri, "waiting": True}), flush=True)
            time.sleep(arguments.interval)
    except EvaluatorError as error:
        print(json.dumps({"error": error.message, "reason": error.reason}), flush=True)
        return EXIT_ERROR
    except (ValueError, KeyError, TypeError, StateMismatchError) as error:
        print(json.dumps({"error": f"the stored comparison state cannot be read: {error}"}), flush=True)
        return EXIT_ERROR
    print(json.dumps({**document, "stateUri": uri}), flush=True)
    return EXIT_CODES.get(str(document["decision"]), EXIT_ERROR)


if __name__ == "__main__":
    sys.exit(main())
