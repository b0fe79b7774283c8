"""Fault points: named places where a test can make the running operator crash or wait, without sleeps.

Reliability promises ("nothing lost, nothing twice") are about what happens when the operator dies or races
itself at a precise step. Tests cannot hit such a step with timing; instead the operator is started with
``MODELMONITOR_FAULT_POINTS`` naming steps and what to do there, e.g.
``alerting.after-send=exit`` (the process exits at once, as if killed, without flushing anything) or
``alerting.before-claim=meet:2`` (the first two threads to arrive wait for each other, at most 30 s: a
forced race), ``evaluations.after-status=exit@2`` (exit the second time the step is reached),
``store.before-status-patch=wait-file:/tmp/go`` (hold the first arrival until the test creates the file: the
test breaks something meanwhile, e.g. restarts the API server).
Without the variable every fault point is a dictionary lookup that does nothing.
"""

from __future__ import annotations

import logging
import os
import threading
import time

ENVIRONMENT_VARIABLE = "MODELMONITOR_FAULT_POINTS"
MEET_TIMEOUT_SECONDS = 30.0
WAIT_FILE_TIMEOUT_SECONDS = 300.0
EXIT_CODE = 137  # what a SIGKILL'd process reports

log = logging.getLogger("modelmonitor.faults")


def _parse(value: str) -> dict[str, str]:
    actions: dict[str, str] = {}
    for item in value.split(","):
        name, _, action = item.strip().partition("=")
        if name and action:
            actions[name.strip()] = action.strip()
    return actions


_ACTIONS = _parse(os.environ.get(ENVIRONMENT_VARIABLE, ""))
_BARRIERS: dict[str, threading.Barrier] = {}
_LOCK = threading.Lock()
_HITS: dict[str, int] = {}


def reached(point: str) -> None:
    """Called by the operator at the step named `point`; does what the environment asks there, if anything."""
    action = _ACTIONS.get(point)
    if action is None:
        return
    with _LOCK:
        _HITS[point] = _HITS.get(point, 0) + 1
        hits = _HITS[point]
    if action == "exit" or (action.startswith("exit@") and action[5:].isdigit() and hits == int(action[5:])):
        log.error("fault point %s: exiting as if killed", point)
        logging.shutdown()
        os._exit(EXIT_CODE)
    if action.startswith("wait-file:"):
        _wait_for_file(point, action[len("wait-file:"):])
        return
    if action.startswith("meet:") and action[5:].isdigit():
        with _LOCK:
            barrier = _BARRIERS.setdefault(point, threading.Barrier(int(action[5:])))
        log.warning("fault point %s: waiting for %d threads", point, barrier.parties)
        try:
            barrier.wait(MEET_TIMEOUT_SECONDS)
        except threading.BrokenBarrierError:
            log.warning("fault point %s: not every thread arrived; going on", point)
        _ACTIONS.pop(point, None)  # one meeting: later arrivals go straight on


def _wait_for_file(point: str, path: str) -> None:
    """Hold this thread (once) until the test creates `path`: the test does something to the world meanwhile."""
    with _LOCK:
        if _ACTIONS.pop(point, None) is None:
            return  # someone else is already held here
    log.warning("fault point %s: waiting for %s", point, path)
    deadline = time.monotonic() + WAIT_FILE_TIMEOUT_SECONDS
    while not os.path.exists(path) and time.monotonic() < deadline:
        time.sleep(0.1)
    log.warning("fault point %s: going on", point)
