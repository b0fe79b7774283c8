"""The operator tests use the session fixtures of tests/integration/conftest.py; these names stay importable here."""

from tests.integration.conftest import EVALUATOR_IMAGE, STORE_OUTBOUND, MonitorWorld, OperatorProcess, condition

__all__ = ["EVALUATOR_IMAGE", "STORE_OUTBOUND", "MonitorWorld", "OperatorProcess", "condition"]
