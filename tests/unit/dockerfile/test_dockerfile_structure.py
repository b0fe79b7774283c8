"""The image recipe, read without a Docker engine: multi-stage, pinned slim base, pinned dependency versions
shared with the tests, no compilers, a non-root numeric user, no secrets, OCI labels that follow the package,
a tight build context."""

from __future__ import annotations

import re
import tomllib

import yaml

from tests.unit.dockerfile.dockerfile import Stage, parse, parse_instructions
from tests.unit.dockerfile.paths import DOCKERFILE, DOCKERIGNORE, REPO_ROOT

DOCKER = parse(DOCKERFILE)
PROJECT = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())["project"]
COMPILER_PACKAGES = re.compile(r"\b(build-essential|gcc|g\+\+|clang|make|cmake|gfortran|cargo|rustc)\b")
SECRET_NAMES = re.compile(r"(KEY|SECRET|TOKEN|PASSWORD|PASSWD|CREDENTIAL|AUTH)", re.IGNORECASE)


def test_parser_joins_continuations_and_skips_comments() -> None:
    instructions = parse_instructions("# c\nFROM a AS b\nRUN x \\\n  # inside\n  && y\nUSER 1\n")
    assert [(i.keyword, i.arguments, i.line) for i in instructions] == [
        ("FROM", "a AS b", 2),
        ("RUN", "x && y", 3),
        ("USER", "1", 6),
    ]


def test_multi_stage_on_a_pinned_slim_python() -> None:
    assert len(DOCKER.stages) >= 2
    assert DOCKER.stages[0].name == "build"
    for stage in DOCKER.stages:
        assert stage.base == "python:3.11-slim-bookworm", stage.base
    assert DOCKER.final.name is None or DOCKER.final.name != "build"


def stage_runs(stage: Stage) -> str:
    return "\n".join(instruction.arguments for instruction in stage.all("RUN"))


def test_the_build_stage_installs_the_pinned_versions_into_one_virtualenv() -> None:
    build_runs = stage_runs(DOCKER.stages[0])
    assert "pip wheel --no-deps --wheel-dir /wheels ." in build_runs
    # The versions `make venv` installs for the tests (constraints.txt), binary wheels only: no compiler needed.
    assert "pip install --only-binary=:all: --constraint constraints.txt" in build_runs
    assert "python3 -m venv /opt/modelmonitor" in build_runs
    final_runs = stage_runs(DOCKER.final)
    assert "pip install" not in final_runs and "pip wheel" not in final_runs


def test_every_dependency_is_pinned_in_the_constraints_the_image_and_the_tests_share() -> None:
    pins = {}
    for line in (REPO_ROOT / "constraints.txt").read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            name, separator, version = line.partition("==")
            assert separator and version, f"constraints.txt: {line!r} is not an exact pin"
            pins[re.sub(r"[-_.]+", "-", name).lower()] = version
    for requirement in PROJECT["dependencies"]:
        name = re.sub(r"[-_.]+", "-", re.split(r"[<>=!~\[; ]", requirement, maxsplit=1)[0]).lower()
        assert name in pins, f"{name} is not pinned in constraints.txt"
    makefile = (REPO_ROOT / "Makefile").read_text()
    assert "-c constraints.txt -e '.[dev]'" in makefile


def test_no_compilers_and_no_stale_layer_hazard() -> None:
    for stage in DOCKER.stages:
        assert not COMPILER_PACKAGES.search(stage_runs(stage)), "binary wheels only: no compilers"
    # The final stage takes exactly the virtualenv from the build stage, by a COPY (whose cache key is the
    # copied content); a RUN --mount from the build stage is what buildah 1.28 reused stale layers for.
    copies = [i.arguments for i in DOCKER.final.all("COPY") if "--from=build" in i.arguments]
    assert copies == ["--from=build /opt/modelmonitor /opt/modelmonitor"]
    assert "from=build" not in stage_runs(DOCKER.final)
    environment: dict[str, str] = {}
    for instruction in DOCKER.final.all("ENV"):
        environment |= instruction.key_values()
    assert environment["PATH"].startswith("/opt/modelmonitor/bin:")


def test_runs_as_a_numeric_non_root_user() -> None:
    users = DOCKER.final.all("USER")
    assert users, "the final stage must set USER"
    user, _, group = users[-1].arguments.partition(":")
    assert user.isdigit() and int(user) != 0
    assert not group or (group.isdigit() and int(group) != 0)
    # Nothing after the last USER switches back to root.
    last_user_line = users[-1].line
    assert all(i.keyword != "USER" for i in DOCKER.final.instructions if i.line > last_user_line)


def test_the_chart_runs_the_image_as_its_user() -> None:
    values = yaml.safe_load((REPO_ROOT / "charts" / "modelmonitor-operator" / "values.yaml").read_text())
    uid = int(DOCKER.final.all("USER")[-1].arguments.partition(":")[0])
    assert values["operator"]["podSecurityContext"]["runAsUser"] == uid


def test_entrypoint_is_the_modelmonitor_command() -> None:
    (entrypoint,) = DOCKER.final.all("ENTRYPOINT")
    assert entrypoint.exec_form() == ["modelmonitor"]
    assert PROJECT["scripts"]["modelmonitor"]  # the console script the wheel installs


def test_no_secrets_in_the_recipe() -> None:
    for stage in DOCKER.stages:
        for instruction in stage.all("ENV") + stage.all("ARG"):
            for name in instruction.key_values():
                assert not SECRET_NAMES.search(name), f"line {instruction.line}: {name} looks like a secret"
        for instruction in stage.all("COPY") + stage.all("ADD"):
            assert not re.search(r"\.kube|\.aws|\.ssh|\.pem|\.key|\.env\b|kubeconfig", instruction.arguments)
    assert not DOCKER.stages[0].all("ADD") and not DOCKER.final.all("ADD")  # ADD may fetch URLs


def test_oci_labels_follow_the_package() -> None:
    labels: dict[str, str] = {}
    for instruction in DOCKER.final.all("LABEL"):
        labels |= instruction.key_values()
    (version_arg,) = [i for i in DOCKER.final.all("ARG") if "VERSION" in i.key_values()]
    assert version_arg.key_values()["VERSION"] == PROJECT["version"]
    assert labels["org.opencontainers.image.version"] == "${VERSION}"
    assert labels["org.opencontainers.image.title"] == PROJECT["name"]
    assert labels["org.opencontainers.image.licenses"] == PROJECT["license"]
    assert labels["org.opencontainers.image.description"]


def test_build_context_admits_only_what_copy_needs() -> None:
    patterns = [
        line.strip() for line in DOCKERIGNORE.read_text().splitlines() if line.strip() and not line.startswith("#")
    ]
    assert patterns[0] == "*", "exclude everything, then admit the COPY sources"
    admitted = {pattern[1:].rstrip("/") for pattern in patterns if pattern.startswith("!")}
    copied = set()
    for instruction in DOCKER.stages[0].all("COPY"):
        *sources, _ = instruction.arguments.split()
        copied |= {source.rstrip("/") for source in sources if not source.startswith("--")}
    assert copied == admitted
    for source in copied:
        assert (REPO_ROOT / source).exists(), f"COPY source {source} is missing: `docker build` would fail"
