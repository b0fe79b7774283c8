"""spec.challenger: typed and defaulted by parse_spec, and refused as kubectl apply refuses it (CEL rules)."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
import yaml

from modelmonitor.api import SpecError, dump_spec, parse_spec
from modelmonitor.api.model import ChallengerSpec, PromoteAction

FIXTURES = Path(__file__).parent / "fixtures"


def _spec(**challenger: Any) -> dict[str, Any]:
    spec: dict[str, Any] = yaml.safe_load((FIXTURES / "valid-binary-classification.yaml").read_text())["spec"]
    spec["challenger"] = challenger
    return spec


SHADOW = {"version": "8", "prediction": "pred_v8", "score": "proba_v8", "metrics": ["accuracy", "roc_auc"]}
AB = {
    "version": "8",
    "mode": "ab",
    "variantColumn": "variant",
    "championVariant": "v7",
    "challengerVariant": "v8",
    "metrics": ["accuracy"],
}


def test_shadow_challenger_is_typed_with_defaults() -> None:
    spec = parse_spec(_spec(**SHADOW, action={"promote": {}}))
    assert spec.challenger == ChallengerSpec(
        version="8",
        metrics=["accuracy", "roc_auc"],
        prediction="pred_v8",
        score="proba_v8",
        mode="shadow",
        min_effect=0.0,
        alpha=0.05,
        power=0.8,
        action=spec.challenger.action if spec.challenger else None,
    )
    assert spec.challenger is not None and spec.challenger.action is not None
    assert spec.challenger.action.promote == PromoteAction(mode="Manual", dry_run=False)
    assert parse_spec(dump_spec(spec)) == spec


def test_ab_challenger_and_separate_data_are_accepted() -> None:
    assert parse_spec(_spec(**AB)).challenger is not None
    joined = dict(SHADOW, data={"uri": "s3://ml/credit/shadow/", "joinOn": "request_id"})
    challenger = parse_spec(_spec(**joined)).challenger
    assert challenger is not None and challenger.data is not None and challenger.data.format == "parquet"


def _without(source: dict[str, Any], key: str) -> dict[str, Any]:
    copied = copy.deepcopy(source)
    copied.pop(key)
    return copied


@pytest.mark.parametrize(
    ("challenger", "field", "words"),
    [
        (_without(AB, "variantColumn"), "spec.challenger.variantColumn", "must be set when mode is ab"),
        (dict(AB, prediction="p"), "spec.challenger.mode", "must not be set in ab mode"),
        ({"version": "8", "metrics": ["accuracy"]}, "spec.challenger.prediction", "must be set in shadow mode"),
        (_without(SHADOW, "score"), "spec.challenger.score", "roc_auc, log_loss or brier"),
        (dict(SHADOW, metrics=["mae"]), "spec.challenger.metrics", "must suit spec.model.task"),
        (dict(SHADOW, metrics=[]), "spec.challenger.metrics", "at least 1"),
        (dict(SHADOW, metrics=["precision"]), "spec.challenger.metrics[0]", "must be one of"),
        (dict(SHADOW, alpha=0), "spec.challenger.alpha", "greater than 0"),
        (dict(SHADOW, power=1), "spec.challenger.power", "less than 1"),
        (_without(SHADOW, "version"), "spec.challenger.version", "must be set"),
    ],
)
def test_invalid_challenger_names_the_field(challenger: dict[str, Any], field: str, words: str) -> None:
    with pytest.raises(SpecError) as refused:
        parse_spec(_spec(**challenger))
    assert refused.value.field == field, refused.value
    assert words in refused.value.message


def test_promotion_needs_the_rollback_target() -> None:
    spec = _spec(**SHADOW, action={"promote": {"mode": "Automatic"}})
    spec["rollback"] = {"enabled": False}
    with pytest.raises(SpecError) as refused:
        parse_spec(spec)
    assert refused.value.field == "spec.rollback.target"


def test_multiclass_cannot_compare_roc_auc() -> None:
    spec = _spec(**SHADOW)
    spec["model"]["task"] = "multiclass-classification"
    spec["metrics"] = [{"name": "accuracy", "min": 0.5}]
    with pytest.raises(SpecError) as refused:
        parse_spec(spec)
    assert refused.value.field == "spec.challenger.metrics"
    assert "unless spec.model.task is binary-classification" in refused.value.message
