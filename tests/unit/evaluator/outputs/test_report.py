"""The HTML report is self-contained, escapes user data and plots what the result holds."""

from __future__ import annotations

import re
from typing import Any
from xml.etree import ElementTree

from modelmonitor.evaluator.report import PLOTTED_STABLE_FEATURES, render_report


def result_document() -> dict[str, Any]:
    features = [
        {
            "feature": "<script>alert(1)</script>",
            "kind": "categorical",
            "status": "drifted",
            "test": "chi2",
            "statistic": 120.5,
            "pValue": 1e-20,
            "psi": 0.4,
            "effect": 0.4,
            "distribution": {"bins": ["a", "b", "<c>"], "reference": [0.5, 0.3, 0.2], "current": [0.2, 0.3, 0.5]},
        },
    ] + [
        {
            "feature": f"stable{index}",
            "kind": "numeric",
            "status": "stable",
            "test": "ks",
            "statistic": 0.01,
            "pValue": 0.5,
            "psi": 0.001,
            "effect": 0.001,
            "distribution": {"bins": ["0", "1"], "reference": [0.5, 0.5], "current": [0.49, 0.51]},
        }
        for index in range(PLOTTED_STABLE_FEATURES + 4)
    ]
    return {
        "runId": "run-1",
        "verdict": "critical",
        "modelVersion": "7",
        "model": {"name": "credit", "task": "binary-classification"},
        "rows": {"reference": 1000, "current": 500, "labelled": 400},
        "labels": {"coverage": 0.8, "pending": False},
        "rules": {"metrics": [{"name": "accuracy", "min": 0.9, "max": None, "severity": "critical"}]},
        "metrics": {"accuracy": 0.85, "f1": 0.7},
        "estimated": {"accuracy": {"value": 0.86, "low": 0.84, "high": 0.88}},
        "confusionMatrix": {"labels": ["0", "1"], "matrix": [[300, 20], [40, 40]]},
        "violations": [
            {"rule": "metric:accuracy", "severity": "critical", "reason": "accuracy 0.850 is below the minimum 0.900"}
        ],
        "drift": {
            "share": 0.1,
            "drifted": 1,
            "featureCount": len(features),
            "datasetDrift": False,
            "features": features,
        },
        "dataQuality": {"missingShare": {"age": 0.1}, "unseenCategories": {"region": 3}},
    }


def test_report_is_self_contained_and_escapes_user_data() -> None:
    page = render_report(result_document())
    assert page.startswith("<!DOCTYPE html>")
    assert "<script" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert not re.search(r"(src|href)=\"(https?:)?//", page)
    assert "accuracy 0.850 is below the minimum 0.900" in page


def test_report_plots_drifted_features_and_caps_the_others() -> None:
    page = render_report(result_document())
    svgs = re.findall(r"<svg.*?</svg>", page, flags=re.S)
    for svg in svgs:
        ElementTree.fromstring(svg)  # each plot is well-formed XML
    titled = [svg for svg in svgs if 'aria-label="stable' in svg or 'aria-label="&lt;script' in svg]
    assert len(titled) == 1 + PLOTTED_STABLE_FEATURES
    assert any('aria-label="confusion matrix"' in svg for svg in svgs)
    assert any('aria-label="metrics against thresholds"' in svg for svg in svgs)
    assert ">300<" in page and ">40<" in page


def test_report_of_pending_metrics_says_so() -> None:
    document = result_document()
    document["labels"] = {"coverage": 0.01, "pending": True}
    document["metrics"] = {}
    document["confusionMatrix"] = None
    page = render_report(document)
    assert "metrics pending" in page


def test_the_report_lists_every_declared_rule_with_its_state_and_reason() -> None:
    document = result_document()
    document["checks"] = [
        {"rule": "metric:accuracy", "state": "ok", "value": 0.91, "severity": None, "reason": None},
        {"rule": "metric:roc_auc", "state": "pending", "value": None, "severity": None,
         "reason": "labels have not arrived: none of the 10 current rows has a label yet"},
        {"rule": "drift-test:psi", "state": "violated", "value": 0.4, "severity": "critical",
         "reason": "psi found drift in 1 feature(s): <script>"},
    ]
    report = render_report(document)
    table = report.split("<h2>Declared rules</h2>", 1)[1].split("</table>", 1)[0]
    rows = re.findall(r"<tr><td class=\"name\">(.*?)</td><td>(.*?)</td>", table)
    assert rows == [("metric:accuracy", "ok"), ("metric:roc_auc", "pending"), ("drift-test:psi", "violated")]
    assert "labels have not arrived" in table and "&lt;script&gt;" in table and "<script>" not in table
