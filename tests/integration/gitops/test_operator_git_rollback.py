"""GitOps rollback through the running operator on the real control plane: the Helm values in a real Git
repository (git http-backend, Basic auth with a token from a Secret) name version 1, healthy; someone commits
version 2; production data drifts; after the critical streak the operator commits version 1 back — exactly one
commit, naming the monitor, the evaluation and the violated rules — and nothing touches the cluster's workloads."""

from __future__ import annotations

import base64
import uuid

import pytest

from tests.harness.git_server import GitServer
from tests.harness.processes import wait_until
from tests.integration.conftest import MonitorWorld, OperatorProcess, condition
from tests.integration.gitops.test_git_target import VALUES

pytestmark = [pytest.mark.cluster, pytest.mark.s3]

FILE = "charts/credit/values.yaml"


def test_a_critical_streak_commits_the_healthy_version_once(
    world: MonitorWorld, operator: OperatorProcess, git_server: GitServer
) -> None:
    name = f"deploy-{uuid.uuid4().hex[:6]}"
    url = git_server.create_repository(name, {FILE: VALUES.replace('tag: "2"', 'tag: "1"')})
    world.core.create_namespaced_secret(world.namespace, {"metadata": {"name": "git-token"}, "data": {
        "token": base64.b64encode(git_server.password.encode()).decode(),
        "username": base64.b64encode(git_server.username.encode()).decode()}})
    world.upload_credit_data("reference/", 5_000, seed=90, drift=0.0)
    world.upload_credit_data("current/", 2_000, seed=91, drift=0.0)
    body = world.monitor("gitops")
    body["spec"]["rollback"] = {"enabled": True, "mode": "Automatic", "consecutiveViolations": 2, "target": {
        "git": {"url": url, "branch": "main", "path": FILE, "yamlPath": "image.tag",
                "credentialsSecret": "git-token"}}}
    world.apply(body)
    world.run_now("gitops")
    monitor = world.wait_for_evaluations("gitops", 1)
    assert (monitor["status"]["lastEvaluation"]["modelVersion"], monitor["status"]["lastEvaluation"]["verdict"]) \
        == ("1", "healthy")  # the version is what Git says, not spec.model.version

    git_server.push_upstream_change(name, FILE, VALUES, "release credit-model 2")  # tag: "2"
    world.upload_credit_data("current/", 2_000, seed=92, drift=1.0)
    for count in (2, 3):
        world.run_now("gitops")
        monitor = world.wait_for_evaluations("gitops", count)
        assert monitor["status"]["lastEvaluation"]["modelVersion"] == "2"
    wait_until(lambda: git_server.log(name)[0].startswith("Roll back"), 60, interval=0.5,
               what="the rollback commit on main")
    wait_until(lambda: any(c["type"] == "RolledBack" for c in world.read("gitops")["status"]["conditions"]), 30,
               interval=0.5, what="the RolledBack condition")

    assert git_server.log(name) == ["Roll back credit-scoring from 2 to 1", "release credit-model 2",
                                    "initial configuration"]  # exactly one commit
    assert git_server.show(name, "main", FILE) == VALUES.replace('tag: "2"', 'tag: "1"')  # one line changed
    monitor = world.read("gitops")
    message = git_server.message(name, "main")
    evaluation = monitor["status"]["lastEvaluation"]
    assert f"Monitor: {world.namespace}/gitops" in message
    assert f"Evaluation: {evaluation['id']}" in message
    violated = sorted({v["rule"] for v in evaluation["violations"]})
    assert violated and f"Violated rules: {', '.join(violated)}" in message
    assert git_server.password not in message
    rolled_back = condition(monitor, "RolledBack")
    assert rolled_back["status"] == "True" and "from 2 to 1" in rolled_back["message"], rolled_back
    entry = monitor["status"]["rollback"]["history"][-1]
    assert entry["patch"]["type"] == "git" and entry["patch"]["commit"]
    assert git_server.password not in str(monitor)


def test_a_push_the_server_keeps_refusing_becomes_a_failed_rollback_condition(
    world: MonitorWorld, operator: OperatorProcess, git_server: GitServer
) -> None:
    name = f"deploy-{uuid.uuid4().hex[:6]}"
    url = git_server.create_repository(name, {FILE: VALUES.replace('tag: "2"', 'tag: "1"')})
    world.upload_credit_data("reference/", 5_000, seed=93, drift=0.0)
    world.upload_credit_data("current/", 2_000, seed=94, drift=0.0)
    world.core.create_namespaced_secret(world.namespace, {"metadata": {"name": "git-token"}, "data": {
        "token": base64.b64encode(git_server.password.encode()).decode(),
        "username": base64.b64encode(git_server.username.encode()).decode()}})
    body = world.monitor("gitops-refused")
    body["spec"]["rollback"] = {"enabled": True, "target": {"git": {
        "url": url, "path": FILE, "yamlPath": "image.tag", "credentialsSecret": "git-token"}}}
    world.apply(body)
    world.run_now("gitops-refused")
    world.wait_for_evaluations("gitops-refused", 1)
    git_server.push_upstream_change(name, FILE, VALUES, "release credit-model 2")
    git_server.reject_pushes(name, None)
    world.upload_credit_data("current/", 2_000, seed=95, drift=1.0)
    world.run_now("gitops-refused")
    world.wait_for_evaluations("gitops-refused", 2)
    wait_until(lambda: any(c["type"] == "RolledBack" for c in world.read("gitops-refused")["status"]["conditions"]),
               60, interval=0.5, what="the RolledBack condition")
    rolled_back = condition(world.read("gitops-refused"), "RolledBack")
    assert rolled_back["status"] == "False" and rolled_back["reason"] == "RollbackFailed", rolled_back
    assert "refused 3 times" in rolled_back["message"]
    assert git_server.log(name)[0] == "release credit-model 2"  # nothing committed, nothing forced


def test_manual_pushes_a_proposal_branch_and_commits_on_main_only_when_approved(
    world: MonitorWorld, operator: OperatorProcess, git_server: GitServer
) -> None:
    name = f"deploy-{uuid.uuid4().hex[:6]}"
    url = git_server.create_repository(name, {FILE: VALUES.replace('tag: "2"', 'tag: "1"')})
    world.core.create_namespaced_secret(world.namespace, {"metadata": {"name": "git-token"}, "data": {
        "token": base64.b64encode(git_server.password.encode()).decode()}})  # username defaults
    world.upload_credit_data("reference/", 5_000, seed=96, drift=0.0)
    world.upload_credit_data("current/", 2_000, seed=97, drift=0.0)
    body = world.monitor("gitops-manual")
    body["spec"]["rollback"] = {"enabled": True, "mode": "Manual", "target": {"git": {
        "url": url, "path": FILE, "yamlPath": "image.tag", "credentialsSecret": "git-token"}}}
    world.apply(body)
    world.run_now("gitops-manual")
    world.wait_for_evaluations("gitops-manual", 1)
    git_server.push_upstream_change(name, FILE, VALUES, "release credit-model 2")
    world.upload_credit_data("current/", 2_000, seed=98, drift=1.0)
    world.run_now("gitops-manual")
    world.wait_for_evaluations("gitops-manual", 2)
    branch = f"modelmonitor/{world.namespace}/gitops-manual/rollback-2-to-1"
    wait_until(lambda: branch in git_server.branches(name), 60, interval=0.5, what="the proposal branch")
    proposal = world.read("gitops-manual")["status"]["rollback"]["proposal"]
    assert proposal["patch"]["proposalBranch"] == branch and proposal["toVersion"] == "1"
    assert git_server.log(name)[0] == "release credit-model 2"  # main untouched until approved
    assert git_server.log(name, branch)[0] == "Roll back credit-scoring from 2 to 1"

    world.custom.patch_namespaced_custom_object("modelmonitor.io", "v1alpha1", world.namespace, "modelmonitors",
                                                "gitops-manual", {"metadata": {"annotations": {
                                                    "modelmonitor.io/approve-rollback": "1"}}})
    wait_until(lambda: git_server.log(name)[0].startswith("Roll back"), 60, interval=0.5,
               what="the approved rollback committed on main")
    assert 'tag: "1"' in git_server.show(name, "main", FILE)
    assert len(git_server.log(name)) == 3
