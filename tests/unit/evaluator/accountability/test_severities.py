"""Property: for every drift test whose schema offers ``{warning, critical}``, both levels work (issue 17).

``psi``, ``wasserstein`` and ``jensenShannon`` have a pair of levels. With a shifted feature and generated
levels, a test that found drift is ``critical`` exactly when its statistic reaches the critical level, else
``warning``, in its check and in the drifted feature's violation; a test that found none is ``ok``. (Before,
``wasserstein.critical`` and ``jensenShannon.critical`` were required by the CRD and then ignored.)
"""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from modelmonitor.api.metrics import TESTS_WITH_SEVERITIES
from tests.unit.evaluator.accountability.scenarios import DataShape, run_scenario

#: Each test on the column kind it judges here: a numeric feature for wasserstein, a categorical one for JS.
FEATURE_KIND = {"psi": "numeric", "wasserstein": "numeric", "jensen_shannon": "categorical"}


@pytest.mark.parametrize("test", list(TESTS_WITH_SEVERITIES))
def test_warning_and_critical_levels_decide_the_severity(test: str) -> None:
    levels_decide_the_severity(test)


@settings(max_examples=12, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def levels_decide_the_severity(test: str, data: st.DataObject) -> None:
    warning = data.draw(st.floats(min_value=0.01, max_value=0.6), label="warning")
    critical = warning + data.draw(st.floats(min_value=0.01, max_value=1.5), label="critical - warning")
    numeric = FEATURE_KIND[test] == "numeric"
    shape = DataShape(
        task="regression",
        rows=400,
        prediction=False,
        labels="none",
        shift=data.draw(st.sampled_from([0.0, 0.5, 1.5])) if numeric else 0.0,
        categorical_shift=0.0 if numeric else data.draw(st.sampled_from([0.0, 0.5, 1.0])),
        seed=data.draw(st.integers(min_value=0, max_value=20)),
        exclude=("region",) if numeric else ("x",),  # one feature: the check's value is that feature's
    )
    drift: dict[str, Any] = {"tests": [test], TESTS_WITH_SEVERITIES[test]: {"warning": warning, "critical": critical}}
    result, _ = run_scenario(shape, {"drift": drift})
    (check,) = result["checks"]
    assert check["rule"] == f"drift-test:{test}"
    feature_name = "x" if numeric else "region"
    feature = next(item for item in result["drift"]["features"] if item["feature"] == feature_name)
    (test_result,) = [item for item in feature["tests"] if item["test"] == test]
    value = test_result["statistic"]
    if check["state"] == "ok":
        assert not test_result["drifted"]
        assert not any(violation["rule"] == f"drift:{feature_name}" for violation in result["violations"])
        return
    assert check["state"] == "violated" and test_result["drifted"]
    assert value >= warning
    expected = "critical" if value >= critical else "warning"
    assert check["severity"] == expected, (value, warning, critical)
    violation = next(item for item in result["violations"] if item["rule"] == f"drift:{feature_name}")
    assert violation["severity"] == expected
