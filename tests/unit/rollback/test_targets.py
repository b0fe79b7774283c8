"""Target adapters: reading the version, planning the patch, recognising a rollout under way.

Targets are written as in a manifest and read by the spec's parser first (``target_of``), so they carry the
CRD's defaults exactly as a monitor applied with ``kubectl apply`` does.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Mapping
from typing import Any, ClassVar

import jsonpatch
import pytest

from modelmonitor.api import SpecError, parse_part
from modelmonitor.api.model import MlflowAliasTarget
from modelmonitor.api.model import RollbackTarget as RollbackTargetSpec
from modelmonitor.rollback import (
    RollbackTarget,
    RollbackTargetInvalid,
    RollbackVersionUnknown,
    build_target,
    split_image,
)


def deployment(
    image: str = "registry.local/model:2",
    env: list[dict[str, Any]] | None = None,
    annotations: dict[str, str] | None = None,
    kind: str = "Deployment",
) -> dict[str, Any]:
    return {
        "apiVersion": "apps/v1",
        "kind": kind,
        "metadata": {"name": "scorer", "namespace": "risk", "generation": 4},
        "spec": {
            "replicas": 2,
            "template": {
                "metadata": {"annotations": annotations or {}},
                "spec": {
                    "containers": [
                        {"name": "proxy", "image": "envoy:1.30"},
                        {"name": "server", "image": image, "env": env or []},
                    ]
                },
            },
        },
        "status": {
            "observedGeneration": 4,
            "replicas": 2,
            "updatedReplicas": 2,
            "availableReplicas": 2,
            "readyReplicas": 2,
        },
    }


def target_of(fields: Mapping[str, Any]) -> RollbackTarget:
    """The adapter for ``spec.rollback.target`` as a manifest writes it (camelCase), parsed with its defaults."""
    return build_target(parse_part(RollbackTargetSpec, fields, "spec.rollback.target"))


def apply(obj: dict[str, Any], target: RollbackTarget, version: str) -> dict[str, Any]:
    """Apply the planned patch the way the API server would (the leading test must pass)."""
    planned = target.plan_patch(obj, version)
    result: dict[str, Any] = jsonpatch.apply_patch(copy.deepcopy(obj), planned.operations)
    return result


DEPLOYMENT = {"apiVersion": "apps/v1", "kind": "Deployment", "name": "scorer", "container": "server"}


@pytest.mark.parametrize(
    ("image", "expected"),
    [
        ("registry.local/model:1", ("registry.local/model", "1", None)),
        ("registry.local:5000/team/model:v7", ("registry.local:5000/team/model", "v7", None)),
        ("registry.local:5000/model", ("registry.local:5000/model", None, None)),
        ("model:3@sha256:abc", ("model", "3", "sha256:abc")),
    ],
)
def test_split_image(image: str, expected: tuple[str, str | None, str | None]) -> None:
    assert split_image(image) == expected


class TestImage:
    def test_reads_the_tag_of_the_named_container(self) -> None:
        target = target_of(DEPLOYMENT)
        assert target.read_version(deployment("registry.local/model:2")) == "2"
        assert target.read_version(deployment("registry.local/model")) is None

    def test_patch_tests_the_current_image_then_replaces_the_tag(self) -> None:
        obj = deployment("registry.local:5000/model:2@sha256:abc")
        planned = target_of(DEPLOYMENT).plan_patch(obj, "1")

        assert planned.operations == [
            {
                "op": "test",
                "path": "/spec/template/spec/containers/1/image",
                "value": "registry.local:5000/model:2@sha256:abc",
            },
            {"op": "replace", "path": "/spec/template/spec/containers/1/image", "value": "registry.local:5000/model:1"},
        ]
        assert planned.from_version == "2"
        assert planned.to_version == "1"
        assert "Deployment risk/scorer" in planned.description
        assert planned.to_dict()["patch"] == planned.operations

    def test_the_patch_round_trips_to_the_old_version(self) -> None:
        target = target_of(DEPLOYMENT)
        restored = apply(deployment(), target, "1")
        assert target.read_version(restored) == "1"
        assert restored["spec"]["template"]["spec"]["containers"][0]["image"] == "envoy:1.30"

    def test_a_versions_map_gives_full_image_references(self) -> None:
        target = target_of(
            {**DEPLOYMENT, "versions": {"1": "registry.local/model@sha256:one", "2": "registry.local/model@sha256:two"}}
        )
        obj = deployment("registry.local/model@sha256:two")
        assert target.read_version(obj) == "2"
        assert target.servable_versions() == frozenset({"1", "2"})
        assert apply(obj, target, "1")["spec"]["template"]["spec"]["containers"][1]["image"] == (
            "registry.local/model@sha256:one"
        )
        with pytest.raises(
            RollbackVersionUnknown, match=r"version '9' has no entry in spec\.rollback\.target\.versions"
        ):
            target.plan_patch(obj, "9")

    def test_without_a_container_name_the_first_container_is_used(self) -> None:
        target = target_of({"apiVersion": "apps/v1", "kind": "Deployment", "name": "scorer"})
        assert target.read_version(deployment()) == "1.30"

    def test_unknown_container_is_named(self) -> None:
        target = target_of({**DEPLOYMENT, "container": "model"})
        with pytest.raises(RollbackTargetInvalid, match=r"no container 'model'.*proxy, server"):
            target.plan_patch(deployment(), "1")


class TestEnv:
    SPEC: ClassVar[dict[str, Any]] = {**DEPLOYMENT, "versionFrom": "env", "env": "MODEL_VERSION"}

    def test_reads_and_patches_the_env_var(self) -> None:
        obj = deployment(env=[{"name": "LOG_LEVEL", "value": "info"}, {"name": "MODEL_VERSION", "value": "2"}])
        target = target_of(self.SPEC)
        planned = target.plan_patch(obj, "1")

        assert target.read_version(obj) == "2"
        assert planned.operations[-1] == {
            "op": "replace",
            "path": "/spec/template/spec/containers/1/env/1/value",
            "value": "1",
        }
        restored = apply(obj, target, "1")
        assert target.read_version(restored) == "1"
        assert restored["spec"]["template"]["spec"]["containers"][1]["image"] == "registry.local/model:2"

    def test_an_env_name_alone_keeps_the_crd_default_source_the_image(self) -> None:
        obj = deployment(env=[{"name": "MODEL_VERSION", "value": "1"}])
        assert target_of({**DEPLOYMENT, "env": "MODEL_VERSION"}).read_version(obj) == "2"

    def test_env_source_without_a_variable_name_is_refused_naming_the_field(self) -> None:
        """The CRD refuses it at apply time; a model built in code gets the same answer, not a guessed name."""
        with pytest.raises(RollbackTargetInvalid, match=r"spec\.rollback\.target\.env must be a non-empty string"):
            build_target(RollbackTargetSpec(name="scorer", version_from="env"))

    def test_missing_env_var_reads_as_unknown_and_cannot_be_planned(self) -> None:
        target = target_of(self.SPEC)
        assert target.read_version(deployment()) is None
        with pytest.raises(RollbackTargetInvalid, match="no env var MODEL_VERSION"):
            target.plan_patch(deployment(), "1")

    def test_value_from_is_refused_with_a_reason(self) -> None:
        obj = deployment(env=[{"name": "MODEL_VERSION", "valueFrom": {"configMapKeyRef": {"name": "x", "key": "v"}}}])
        with pytest.raises(RollbackTargetInvalid, match="valueFrom"):
            target_of(self.SPEC).read_version(obj)


class TestAnnotation:
    def test_reads_and_patches_a_pod_template_annotation_with_a_slash(self) -> None:
        spec = {**DEPLOYMENT, "versionFrom": "annotation", "annotation": "models.example.com/version"}
        obj = deployment(annotations={"models.example.com/version": "2"})
        target = target_of(spec)
        planned = target.plan_patch(obj, "1")

        assert target.read_version(obj) == "2"
        assert planned.operations[-1]["path"] == "/spec/template/metadata/annotations/models.example.com~1version"
        assert target.read_version(apply(obj, target, "1")) == "1"


class TestStatefulSet:
    SPEC: ClassVar[dict[str, Any]] = {
        "apiVersion": "apps/v1",
        "kind": "StatefulSet",
        "name": "scorer",
        "container": "server",
    }

    def test_image_rollback_works_like_a_deployment(self) -> None:
        target = target_of(self.SPEC)
        assert target.read_version(apply(deployment(kind="StatefulSet"), target, "1")) == "1"

    def test_settled_stateful_set(self) -> None:
        obj = deployment(kind="StatefulSet")
        obj["status"].update(currentRevision="scorer-a", updateRevision="scorer-a")
        assert target_of(self.SPEC).mid_rollout_reason(obj) is None

    @pytest.mark.parametrize(
        ("status", "expected"),
        [
            ({"observedGeneration": 3}, "not yet observed generation 4"),
            ({"updatedReplicas": 1}, "1 of 2 replicas run the new pod template"),
            ({"currentRevision": "scorer-a", "updateRevision": "scorer-b"}, "scorer-b is still replacing"),
            ({"readyReplicas": 1}, "1 of 2 replicas are ready"),
        ],
    )
    def test_rollout_under_way(self, status: dict[str, Any], expected: str) -> None:
        obj = deployment(kind="StatefulSet")
        obj["status"].update(status)
        target = target_of(self.SPEC)
        assert expected in (target.mid_rollout_reason(obj) or "")
        assert target.is_mid_rollout(obj)


class TestDeploymentRollout:
    def test_settled_deployment(self) -> None:
        target = target_of(DEPLOYMENT)
        assert target.mid_rollout_reason(deployment()) is None
        assert not target.is_mid_rollout(deployment())

    @pytest.mark.parametrize(
        ("status", "expected"),
        [
            ({"observedGeneration": 3}, "not yet observed generation 4"),
            ({"updatedReplicas": 1}, "1 of 2 replicas run the new pod template"),
            ({"replicas": 3}, "1 old replicas are still running"),
            ({"availableReplicas": 0}, "0 of 2 replicas are available"),
        ],
    )
    def test_rollout_under_way(self, status: dict[str, Any], expected: str) -> None:
        obj = deployment()
        obj["status"].update(status)
        assert expected in (target_of(DEPLOYMENT).mid_rollout_reason(obj) or "")

    def test_a_deployment_without_status_is_mid_rollout(self) -> None:
        obj = deployment()
        del obj["status"]
        assert target_of(DEPLOYMENT).is_mid_rollout(obj)


def inference_service(storage_uri: str = "s3://models/credit/v2/", ready: str = "True") -> dict[str, Any]:
    return {
        "apiVersion": "serving.kserve.io/v1beta1",
        "kind": "InferenceService",
        "metadata": {"name": "credit", "namespace": "risk", "generation": 2},
        "spec": {"predictor": {"model": {"modelFormat": {"name": "sklearn"}, "storageUri": storage_uri}}},
        "status": {"conditions": [{"type": "Ready", "status": ready, "reason": "Loading" if ready != "True" else ""}]},
    }


class TestInferenceService:
    SPEC: ClassVar[dict[str, Any]] = {
        "apiVersion": "serving.kserve.io/v1beta1",
        "kind": "InferenceService",
        "name": "credit",
    }

    def test_storage_uri_with_a_template(self) -> None:
        target = target_of({**self.SPEC, "valueTemplate": "s3://models/credit/v{version}/"})
        obj = inference_service()
        planned = target.plan_patch(obj, "1")

        assert target.read_version(obj) == "2"
        assert planned.operations[-1] == {
            "op": "replace",
            "path": "/spec/predictor/model/storageUri",
            "value": "s3://models/credit/v1/",
        }
        assert target.read_version(inference_service("s3://elsewhere/v2/")) is None

    def test_storage_uri_with_a_map_and_the_old_framework_form(self) -> None:
        target = target_of({**self.SPEC, "versions": {"1": "gs://m/one", "2": "gs://m/two"}})
        obj = inference_service()
        obj["spec"]["predictor"] = {"sklearn": {"storageUri": "gs://m/two"}}

        assert target.read_version(obj) == "2"
        assert apply(obj, target, "1")["spec"]["predictor"]["sklearn"]["storageUri"] == "gs://m/one"

    def test_without_map_or_template_the_uri_is_the_version(self) -> None:
        target = target_of(self.SPEC)
        assert target.read_version(inference_service()) == "s3://models/credit/v2/"

    def test_explicit_field_path(self) -> None:
        target = target_of({**self.SPEC, "fieldPath": "metadata.labels.version"})
        obj = inference_service()
        obj["metadata"]["labels"] = {"version": "2"}
        assert target.read_version(apply(obj, target, "1")) == "1"

    def test_ready_condition_decides_mid_rollout(self) -> None:
        target = target_of(self.SPEC)
        assert target.mid_rollout_reason(inference_service()) is None
        assert "is not Ready (Loading)" in (target.mid_rollout_reason(inference_service(ready="False")) or "")
        no_status = inference_service()
        del no_status["status"]
        assert "no Ready condition" in (target.mid_rollout_reason(no_status) or "")

    def test_the_crd_default_version_from_image_means_the_storage_uri(self) -> None:
        target = target_of({**self.SPEC, "versionFrom": "image", "versions": {"2": "s3://models/credit/v2/"}})
        assert target.read_version(inference_service()) == "2"

    def test_env_source_is_refused_for_an_inference_service(self) -> None:
        with pytest.raises(RollbackTargetInvalid, match="versionFrom env needs a pod template"):
            target_of({**self.SPEC, "versionFrom": "env", "env": "MODEL_VERSION"})

    def test_the_parsed_api_model_is_accepted(self) -> None:
        spec = RollbackTargetSpec(
            name="credit",
            api_version="serving.kserve.io/v1beta1",
            kind="InferenceService",
            versions={"1": "s3://models/credit/v1/", "2": "s3://models/credit/v2/"},
        )
        target = build_target(spec)
        assert target.read_version(apply(inference_service(), target, "1")) == "1"

    def test_the_parsed_api_model_with_a_value_template_is_accepted(self) -> None:
        """The model's empty ``versions`` means "not set": it was read as set beside valueTemplate and refused."""
        spec = RollbackTargetSpec(
            name="credit",
            api_version="serving.kserve.io/v1beta1",
            kind="InferenceService",
            value_template="s3://models/credit/v{version}/",
        )
        target = build_target(spec)
        assert target.read_version(apply(inference_service(), target, "1")) == "1"


class TestCustomResource:
    SPEC: ClassVar[dict[str, Any]] = {
        "apiVersion": "example.com/v1",
        "kind": "ModelServer",
        "name": "scorer",
        "fieldPath": "/spec/model/ref",
        "versions": {"1": "model-a", "2": "model-b"},
        "jsonPatchTemplate": json.dumps(
            [
                {"op": "replace", "path": "/spec/model/ref", "value": "{value}"},
                {"op": "replace", "path": "/metadata/labels/model-version", "value": "v{version}"},
            ]
        ),
    }

    def obj(self) -> dict[str, Any]:
        return {
            "apiVersion": "example.com/v1",
            "kind": "ModelServer",
            "metadata": {"name": "scorer", "namespace": "risk", "generation": 1, "labels": {"model-version": "v2"}},
            "spec": {"model": {"ref": "model-b"}},
        }

    def test_template_is_rendered_after_a_guard_on_the_version_field(self) -> None:
        target = target_of(self.SPEC)
        planned = target.plan_patch(self.obj(), "1")

        assert target.read_version(self.obj()) == "2"
        assert planned.operations == [
            {"op": "test", "path": "/spec/model/ref", "value": "model-b"},
            {"op": "replace", "path": "/spec/model/ref", "value": "model-a"},
            {"op": "replace", "path": "/metadata/labels/model-version", "value": "v1"},
        ]
        assert target.read_version(apply(self.obj(), target, "1")) == "1"

    def test_template_that_is_not_json_is_refused_naming_the_field(self) -> None:
        with pytest.raises(RollbackTargetInvalid, match="must be a JSON array"):
            target_of({**self.SPEC, "jsonPatchTemplate": "[{op: replace"})

    def test_template_without_a_field_path_cannot_read_the_version(self) -> None:
        spec = {key: value for key, value in self.SPEC.items() if key != "fieldPath"}
        target = target_of(spec)
        assert target.read_version(self.obj()) is None
        assert len(target.plan_patch(self.obj(), "1").operations) == 2

    def test_generic_rollout_check_uses_observed_generation_and_ready_when_present(self) -> None:
        target = target_of(self.SPEC)
        obj = self.obj()
        assert target.mid_rollout_reason(obj) is None
        obj["status"] = {"observedGeneration": 0}
        assert "not yet observed generation 1" in (target.mid_rollout_reason(obj) or "")
        obj["status"] = {"observedGeneration": 1, "conditions": [{"type": "Ready", "status": "False"}]}
        assert target.is_mid_rollout(obj)

    def test_a_custom_resource_needs_a_field_path_or_a_template(self) -> None:
        with pytest.raises(RollbackTargetInvalid, match=r"fieldPath or spec\.rollback\.target\.jsonPatchTemplate"):
            target_of({"apiVersion": "example.com/v1", "kind": "ModelServer", "name": "scorer"})


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ({**DEPLOYMENT, "apiVersion": ""}, "spec.rollback.target.apiVersion must be a non-empty string"),
        ({**DEPLOYMENT, "container": ""}, "spec.rollback.target.container must be a non-empty string when set"),
        ({**DEPLOYMENT, "versions": {"1": "a", "2": "a"}}, "maps two versions to the same value"),
        ({**DEPLOYMENT, "valueTemplate": "model:latest"}, "valueTemplate must contain"),
        ({**DEPLOYMENT, "versions": {"1": "a"}, "valueTemplate": "m:{version}"}, "exclude each other"),
        ({**DEPLOYMENT, "versionFrom": "field", "fieldPath": "spec..x"}, "is not a valid path"),
        ({**DEPLOYMENT, "jsonPatchTemplate": "[]"}, "jsonPatchTemplate must be a non-empty list"),
    ],
)
def test_invalid_target_specs_name_the_field(spec: dict[str, Any], message: str) -> None:
    with pytest.raises(RollbackTargetInvalid, match=message):
        target_of(spec)


def test_an_unknown_version_source_is_refused_by_the_parser_naming_the_field() -> None:
    with pytest.raises(SpecError, match=r"spec\.rollback\.target\.versionFrom: must be one of image, env, annotation, "
                       r"field, not 'label'"):
        target_of({**DEPLOYMENT, "versionFrom": "label"})


def test_a_target_outside_the_cluster_is_not_patched() -> None:
    spec = RollbackTargetSpec(mlflow_alias=MlflowAliasTarget(alias="champion"))
    with pytest.raises(RollbackTargetInvalid, match=r"spec\.rollback\.target\.mlflowAlias is not a workload"):
        build_target(spec)


def test_adapters_satisfy_the_protocol() -> None:
    assert isinstance(target_of(DEPLOYMENT), RollbackTarget)


def test_guards_hold_until_the_object_changes() -> None:
    obj = deployment("registry.local/model:2")
    planned = target_of(DEPLOYMENT).plan_patch(obj, "1")

    assert planned.guards_hold(obj)
    assert not planned.guards_hold(deployment("registry.local/model:3"))
