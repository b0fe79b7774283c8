"""The git rollback target against a real Git server over HTTP with Basic auth: read, commit, push, retry."""

from __future__ import annotations

import uuid

import pytest

from modelmonitor.alerts.outbound import parse_allow_flags
from modelmonitor.rollback.errors import RollbackConflict, RollbackForbidden, RollbackTargetNotFound
from modelmonitor.rollback.external import VersionPointer
from modelmonitor.rollback.gitops import GitFileTarget
from modelmonitor.services.registry import git_check
from tests.harness.git_server import GitServer

VALUES = """# credit-model Helm values
replicaCount: 2
image:
  repository: registry.local/credit-model  # served by the model server
  tag: "2"
  pullPolicy: IfNotPresent
"""


def repository(server: GitServer) -> tuple[str, str]:
    name = f"deploy-{uuid.uuid4().hex[:6]}"
    return name, server.create_repository(name, {"charts/credit/values.yaml": VALUES, "README.md": "config\n"})


def target(server: GitServer, url: str, **overrides: object) -> GitFileTarget:
    settings: dict[str, object] = {"url": url, "branch": "main", "path": "charts/credit/values.yaml",
                                   "yaml_path": "image.tag", "username": server.username,
                                   "password": server.password}
    settings.update(overrides)
    return GitFileTarget(**settings)  # type: ignore[arg-type]


def test_reads_the_version_and_commits_exactly_one_change_on_the_branch(git_server: GitServer) -> None:
    name, url = repository(git_server)
    pointer = target(git_server, url)
    assert isinstance(pointer, VersionPointer)
    assert pointer.inspect().current_version == "2"
    moved = pointer.move_to("1", expected_from="2", reason="Roll back credit-model to 1\n\nevaluation: e-7\n")
    assert git_server.log(name) == ["Roll back credit-model to 1", "initial configuration"]
    assert git_server.show(name, "main", "charts/credit/values.yaml") == VALUES.replace('tag: "2"', 'tag: "1"')
    assert "evaluation: e-7" in git_server.message(name, "main")
    assert moved.details["commit"] and (moved.from_version, moved.to_version) == ("2", "1")
    assert pointer.inspect().current_version == "1"
    pointer.move_to("1")  # already there: nothing to commit
    assert len(git_server.log(name)) == 2


def test_a_concurrent_upstream_commit_is_kept_and_the_change_applied_on_top(git_server: GitServer) -> None:
    name, url = repository(git_server)
    pointer = target(git_server, url)
    assert pointer.inspect().current_version == "2"  # the policy decides on this read...
    git_server.push_upstream_change(name, "README.md", "config, edited\n", "docs: someone else's change")
    pointer.move_to("1", expected_from="2", reason="Roll back to 1")  # ...and the branch moved since
    assert git_server.log(name) == ["Roll back to 1", "docs: someone else's change", "initial configuration"]
    assert git_server.show(name, "main", "README.md") == "config, edited\n"


def test_a_refused_push_is_retried_then_reported(git_server: GitServer) -> None:
    name, url = repository(git_server)
    git_server.reject_pushes(name, 1)
    target(git_server, url).move_to("1", reason="Roll back to 1")
    assert git_server.log(name)[0] == "Roll back to 1"  # the second attempt went through

    git_server.reject_pushes(name, None)
    with pytest.raises(RollbackConflict, match=r"refused 3 times .*push refused by policy|refused 3 times"):
        target(git_server, url).move_to("3", reason="Roll back to 3")
    assert git_server.show(name, "main", "charts/credit/values.yaml").count('tag: "1"') == 1


def test_a_dry_run_commits_nothing_and_an_edited_version_is_a_conflict(git_server: GitServer) -> None:
    name, url = repository(git_server)
    planned = target(git_server, url).move_to("1", dry_run=True, expected_from="2")
    assert planned.description.startswith("would commit image.tag = 1")
    with pytest.raises(RollbackConflict, match="now names version 2, not 3"):
        target(git_server, url).move_to("1", expected_from="3")
    assert git_server.log(name) == ["initial configuration"]


def test_wrong_credentials_and_missing_branch_or_file_are_named(git_server: GitServer) -> None:
    _, url = repository(git_server)
    with pytest.raises(RollbackForbidden, match="refused the credentials"):
        target(git_server, url, password="wrong").move_to("1")
    state = target(git_server, url, password="wrong").inspect()
    assert state.current_version is None and "wrong" not in str(state.problem)
    with pytest.raises(RollbackTargetNotFound, match="no branch release"):
        target(git_server, url, branch="release").move_to("1")
    assert "does not exist" in str(target(git_server, url, path="values.yaml").inspect().problem)


def test_a_git_host_outside_the_allow_list_is_refused_before_any_request(git_server: GitServer) -> None:
    name, url = repository(git_server)
    with pytest.raises(RollbackForbidden, match=r"not (an )?allowed (destination )?for git"):
        target(git_server, url, outbound_check=git_check(parse_allow_flags([]))).move_to("1")
    allowed = git_check(parse_allow_flags(["git:cidr=127.0.0.0/8", "git:scheme=http"]))
    target(git_server, url, outbound_check=allowed).move_to("1", reason="Roll back to 1")
    assert git_server.log(name)[0] == "Roll back to 1"


def test_a_proposal_is_pushed_to_its_own_branch_and_main_is_left_alone(git_server: GitServer) -> None:
    name, url = repository(git_server)
    planned = target(git_server, url).propose("1", proposal_branch="modelmonitor/ns/m/rollback-2-to-1",
                                              expected_from="2", reason="Roll back to 1 (proposal)")
    assert planned.details["proposalBranch"] == "modelmonitor/ns/m/rollback-2-to-1" and planned.details["commit"]
    assert git_server.log(name) == ["initial configuration"]
    assert git_server.log(name, "modelmonitor/ns/m/rollback-2-to-1")[0] == "Roll back to 1 (proposal)"
    assert 'tag: "1"' in git_server.show(name, "modelmonitor/ns/m/rollback-2-to-1", "charts/credit/values.yaml")
    again = target(git_server, url).propose("1", proposal_branch="modelmonitor/ns/m/rollback-2-to-1")
    assert "commit" not in again.details  # an existing proposal branch is not touched
    assert len(git_server.log(name, "modelmonitor/ns/m/rollback-2-to-1")) == 2
