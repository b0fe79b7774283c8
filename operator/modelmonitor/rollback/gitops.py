"""Rollback target ``git``: commit the healthy version into the repository a GitOps controller deploys from.

Patching a workload that Argo CD or Flux manages is undone minutes later; the change has to land in Git. This
target fetches one branch over HTTP(S), changes one scalar of one YAML file (``image.tag`` of a Helm values file,
say) to the healthy version, commits with a message naming the monitor, the evaluation and the violated rules,
and pushes.

Why dulwich (a pure-Python Git implementation) rather than the git program: the operator's image carries no git
binary, and the whole exchange happens in memory (``MemoryRepo``): nothing is written to the pod's disk, no
working tree or credential helper is involved, and the token goes only into the HTTP Authorization header.

A push is a compare-and-set: it is sent only if the branch still points at the commit the change was made on,
and the server's receive-pack checks that again. When someone pushed meanwhile (or the server refused the push,
a hook for instance), the branch is fetched again and the change re-applied on the new head — a rebase of a
one-line change — up to ``max_attempts`` times; then a RollbackConflict says what the server answered, and the
operator records it as the RolledBack=False condition. Never lost, never forced.
"""

from __future__ import annotations

import functools
import logging
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from dulwich.client import HTTPUnauthorized, get_transport_and_path
from dulwich.errors import GitProtocolError
from dulwich.objects import Blob, Commit, ObjectID, Tree
from dulwich.refs import Ref
from dulwich.repo import MemoryRepo

from modelmonitor.reconcile.rollback_policy import TargetState
from modelmonitor.rollback.errors import (
    RollbackApiError,
    RollbackConflict,
    RollbackError,
    RollbackForbidden,
    RollbackTargetInvalid,
    RollbackTargetNotFound,
)
from modelmonitor.rollback.external import PlannedMove
from modelmonitor.rollback.yaml_paths import YamlPathError, read_yaml_value, set_yaml_value

__all__ = ["AUTHOR", "GitFileTarget"]

log = logging.getLogger("modelmonitor.rollback")
AUTHOR = b"ModelMonitor <modelmonitor@users.noreply.modelmonitor.io>"
SPEC = "spec.rollback.target.git"


class _BranchMoved(Exception):
    """The branch no longer points at the commit the change was made on."""


@dataclass(frozen=True)
class _Fetched:
    repo: MemoryRepo
    head: ObjectID
    text: str


@dataclass(frozen=True)
class GitFileTarget:
    """One scalar (``yaml_path``) of one file (``path``) on ``branch`` of the repository at ``url``."""

    url: str
    branch: str
    path: str
    yaml_path: str
    value_template: str = "{version}"
    username: str | None = None
    password: str | None = None
    max_attempts: int = 3
    outbound_check: Callable[[str], None] | None = None

    @property
    def description(self) -> str:
        return f"{self.yaml_path} in {self.path} on branch {self.branch} of {self._public_url()}"

    def _public_url(self) -> str:
        return re.sub(r"//[^/@]*@", "//", self.url)  # never echo credentials embedded in a URL

    @property
    def _ref(self) -> Ref:
        return Ref(b"refs/heads/" + self.branch.encode())

    def _client(self) -> tuple[Any, str]:
        if self.outbound_check is not None:
            self.outbound_check(self.url)
        return get_transport_and_path(self.url, username=self.username, password=self.password)

    # --- reading ----------------------------------------------------------------------------------------------

    def _fetch(self) -> _Fetched:
        client, path = self._client()
        repo = MemoryRepo()
        ref = self._ref

        def wants(refs: dict[Ref, ObjectID], depth: int | None = None) -> list[ObjectID]:
            return [refs[ref]] if ref in refs else []

        result = client.fetch(path, repo, determine_wants=wants)
        head = result.refs.get(ref)
        if head is None:
            raise RollbackTargetNotFound(f"{self._public_url()} has no branch {self.branch} ({SPEC}.branch)")
        commit = repo[head]
        assert isinstance(commit, Commit)
        try:
            _, blob_id = _lookup_path(repo, commit.tree, self.path)
        except KeyError:
            raise RollbackTargetNotFound(
                f"{self.path} does not exist on branch {self.branch} of {self._public_url()} ({SPEC}.path)"
            ) from None
        blob = repo[blob_id]
        if not isinstance(blob, Blob):
            raise RollbackTargetInvalid(f"{self.path} on branch {self.branch} is not a file ({SPEC}.path)")
        return _Fetched(repo, head, blob.data.decode("utf-8"))

    def _version_of(self, value: str | None) -> str | None:
        if value is None:
            return None
        head, _, tail = self.value_template.partition("{version}")
        match = re.fullmatch(re.escape(head) + "(.+?)" + re.escape(tail), value)
        return match.group(1) if match else None

    def inspect(self) -> TargetState:
        try:
            fetched = self._guarded(self._fetch)
            value = read_yaml_value(fetched.text, self.yaml_path)
        except RollbackError as error:
            return TargetState(current_version=None, description=self.description, problem=error.message)
        except YamlPathError as error:
            return TargetState(current_version=None, description=self.description,
                               problem=f"{self.path} {error} ({SPEC}.yamlPath)")
        version = self._version_of(value)
        problem = None if version else f"{self.yaml_path} = {value!r} does not match {SPEC}.valueTemplate"
        return TargetState(current_version=version, description=self.description, problem=problem)

    # --- moving -----------------------------------------------------------------------------------------------

    def move_to(self, version: str, *, dry_run: bool = False, expected_from: str | None = None,
                reason: str | None = None) -> PlannedMove:
        """Commit ``yaml_path`` = the value for ``version`` on the branch and push (retried when it moved)."""
        last_refusal = ""
        for attempt in range(1, self.max_attempts + 1):
            fetched = self._guarded(self._fetch)
            try:
                current = self._version_of(read_yaml_value(fetched.text, self.yaml_path))
                changed = set_yaml_value(fetched.text, self.yaml_path, self.value_template.replace("{version}",
                                                                                                  version))
            except YamlPathError as error:
                raise RollbackTargetInvalid(f"{self.path} {error} ({SPEC}.yamlPath)") from None
            if expected_from is not None and current != expected_from:
                raise RollbackConflict(
                    f"{self.description} now names version {current}, not {expected_from} as when the rollback "
                    "was decided; nothing was committed"
                )
            verb = "would commit" if dry_run else "committed"
            plan = PlannedMove(
                kind="git", target=self.description, to_version=version, from_version=current,
                description=f"{verb} {self.yaml_path} = {version} in {self.path} on {self.branch} "
                            f"(was {current})",
                details={"url": self._public_url(), "branch": self.branch, "path": self.path,
                         "yamlPath": self.yaml_path},
            )
            if dry_run or current == version:
                return plan
            message = reason or f"Roll back {self.yaml_path} from {current} to {version}"
            commit_id = _commit_change(fetched, self.path, changed, message)
            try:
                self._guarded(functools.partial(self._push, fetched, commit_id))
            except _BranchMoved as moved:
                last_refusal = str(moved)
                log.info("push to %s (attempt %d of %d) not applied: %s; fetching again", self.description,
                         attempt, self.max_attempts, last_refusal)
                continue
            return PlannedMove(plan.kind, plan.target, plan.to_version, plan.from_version, plan.description,
                               {**plan.details, "commit": commit_id.decode()})
        raise RollbackConflict(
            f"the change to {self.description} was refused {self.max_attempts} times ({last_refusal}); "
            "nothing was committed; it will be tried again with the next decision"
        )

    def propose(self, version: str, *, proposal_branch: str, expected_from: str | None = None,
                reason: str | None = None) -> PlannedMove:
        """Push the change to a new branch ``proposal_branch`` (for a pull request); the branch is left alone.

        A proposal branch that already exists is not touched (it was proposed before, or a person took it over).
        """
        fetched = self._guarded(self._fetch)
        try:
            current = self._version_of(read_yaml_value(fetched.text, self.yaml_path))
            changed = set_yaml_value(fetched.text, self.yaml_path, self.value_template.replace("{version}", version))
        except YamlPathError as error:
            raise RollbackTargetInvalid(f"{self.path} {error} ({SPEC}.yamlPath)") from None
        if expected_from is not None and current != expected_from:
            raise RollbackConflict(f"{self.description} now names version {current}, not {expected_from}")
        plan = PlannedMove(
            kind="git", target=self.description, to_version=version, from_version=current,
            description=f"proposed {self.yaml_path} = {version} in {self.path} on branch {proposal_branch} "
                        f"(open a pull request into {self.branch})",
            details={"url": self._public_url(), "branch": self.branch, "proposalBranch": proposal_branch,
                     "path": self.path, "yamlPath": self.yaml_path},
        )
        commit_id = _commit_change(fetched, self.path, changed, reason or f"Roll back to {version}")
        ref = Ref(b"refs/heads/" + proposal_branch.encode())
        try:
            self._guarded(functools.partial(self._push, fetched, commit_id, ref, None))
        except _BranchMoved as exists:
            log.info("proposal branch %s not pushed: %s", proposal_branch, exists)
            return plan
        return PlannedMove(plan.kind, plan.target, plan.to_version, plan.from_version, plan.description,
                           {**plan.details, "commit": commit_id.decode()})

    def _push(self, fetched: _Fetched, commit_id: ObjectID, ref: Ref | None = None,
              expected: ObjectID | bool | None = True) -> None:
        """Set ``ref`` (default: the branch) to ``commit_id`` if it still holds ``expected`` (True: the fetched
        head; None: the ref must not exist yet)."""
        client, path = self._client()
        ref = ref or self._ref
        old = fetched.head if expected is True else expected

        def update_refs(refs: dict[Ref, ObjectID]) -> dict[Ref, ObjectID]:
            if refs.get(ref) != old:
                name = ref.decode().removeprefix("refs/heads/")
                raise _BranchMoved(f"branch {name} moved to {str(refs.get(ref))[:12]} meanwhile" if old
                                   else f"branch {name} exists already")
            return {**refs, ref: commit_id}

        try:
            result = client.send_pack(path, update_refs, generate_pack_data=fetched.repo.generate_pack_data)
        except _BranchMoved:
            raise
        except GitProtocolError as error:
            raise _BranchMoved(f"the server refused the push: {str(error)[:300]}") from None
        status = (getattr(result, "ref_status", None) or {}).get(ref)
        if status:
            raise _BranchMoved(f"the server refused the push: {status!r}"[:300])

    def _guarded(self, action: Callable[[], Any]) -> Any:
        """Transport failures as rollback errors that name the repository, never the token."""
        try:
            return action()
        except (RollbackError, _BranchMoved):
            raise
        except HTTPUnauthorized:
            raise RollbackForbidden(
                f"{self._public_url()} refused the credentials (HTTP 401); check {SPEC}.credentialsSecret"
            ) from None
        except (GitProtocolError, OSError) as error:
            text = str(error).replace(self.password or "\0", "***")[:300]
            raise RollbackApiError(f"cannot reach {self._public_url()}: {type(error).__name__}: {text}") from None


def _lookup_path(repo: MemoryRepo, tree_id: ObjectID, path: str) -> tuple[int, ObjectID]:
    node_id = tree_id
    mode = 0o040000
    for part in path.strip("/").split("/"):
        tree = repo[node_id]
        if not isinstance(tree, Tree):
            raise KeyError(path)
        mode, node_id = tree[part.encode()]
    return mode, node_id


def _replace(repo: MemoryRepo, tree_id: ObjectID, parts: list[str], blob_id: ObjectID) -> ObjectID:
    original = repo[tree_id]
    assert isinstance(original, Tree)
    tree = original.copy()  # objects in the store are shared: never change one in place
    assert isinstance(tree, Tree)
    mode, child = tree[parts[0].encode()]
    tree[parts[0].encode()] = (mode, blob_id if len(parts) == 1 else _replace(repo, child, parts[1:], blob_id))
    repo.object_store.add_object(tree)
    return tree.id


def _commit_change(fetched: _Fetched, path: str, text: str, message: str) -> ObjectID:
    repo = fetched.repo
    blob = Blob.from_string(text.encode("utf-8"))
    repo.object_store.add_object(blob)
    parent = repo[fetched.head]
    assert isinstance(parent, Commit)
    commit = Commit()
    commit.tree = _replace(repo, parent.tree, path.strip("/").split("/"), blob.id)
    commit.parents = [fetched.head]
    commit.author = commit.committer = AUTHOR
    commit.author_time = commit.commit_time = int(time.time())
    commit.author_timezone = commit.commit_timezone = 0
    commit.encoding = b"UTF-8"
    commit.message = message.encode("utf-8") + (b"" if message.endswith("\n") else b"\n")
    repo.object_store.add_object(commit)
    return commit.id
