"""The Dockerfile's install step works: the project wheel builds from exactly the build context the Dockerfile
sees, and installs into a fresh virtualenv where the `modelmonitor` entrypoint runs.

What stands in for the image: a venv created from the base interpreter (no system site-packages), the wheel
installed with `--no-deps`, then the project venv's site-packages appended to its path with a plain `.pth`
line. The dependencies (kopf, pyarrow, scikit-learn, ...) thus come from the project venv without a ~500 MB
download, while `modelmonitor` itself can only come from the wheel: a plain path line does not process that
site-packages' own `.pth` files, so the project's editable install is not on the path. The test checks it.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig
import venv
import zipfile
from pathlib import Path

import pytest

from tests.unit.dockerfile.paths import DOCKERIGNORE, REPO_ROOT

# The Dockerfile's build-stage command (test_dockerfile_structure checks it is there), with /wheels -> tmp.
WHEEL_COMMAND = ["pip", "wheel", "--no-deps", "--wheel-dir"]
IGNORED_NAMES = shutil.ignore_patterns("__pycache__", "*.pyc", "*.egg-info")


def build_context(tmp_path: Path) -> Path:
    """The files `.dockerignore` admits (the sources the Dockerfile COPYs), copied into a clean folder."""
    context = tmp_path / "context"
    context.mkdir()
    admitted = [line[1:].rstrip("/") for line in DOCKERIGNORE.read_text().splitlines() if line.startswith("!")]
    for name in admitted:
        source = REPO_ROOT / name
        if not source.exists():
            pytest.fail(f"{name} is missing: `docker build` would fail at its COPY")
        if source.is_dir():
            shutil.copytree(source, context / name, ignore=IGNORED_NAMES)
        else:
            shutil.copy2(source, context / name)
    return context


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    tmp_path = tmp_path_factory.mktemp("image")
    context = build_context(tmp_path)
    wheels = tmp_path / "wheels"
    result = subprocess.run(
        [sys.executable, "-m", *WHEEL_COMMAND, str(wheels), "--quiet", "."],
        cwd=context,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    (built,) = wheels.glob("modelmonitor_operator-*.whl")
    return built


def test_wheel_carries_every_module_and_the_typing_marker(wheel: Path) -> None:
    package_root = REPO_ROOT / "operator"
    sources = {
        path.relative_to(package_root).as_posix()
        for path in (package_root / "modelmonitor").rglob("*")
        if path.is_file() and "__pycache__" not in path.parts and path.suffix in {".py", ".typed", ".html", ".yaml"}
    }
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
        entry_points = next(n for n in names if n.endswith(".dist-info/entry_points.txt"))
        assert "modelmonitor = modelmonitor.cli:main" in archive.read(entry_points).decode()
    assert sources - names == set(), "modules missing from the wheel (a package without __init__.py?)"
    assert "modelmonitor/py.typed" in names


@pytest.fixture(scope="module")
def image_venv(wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("venv") / "venv"
    venv.EnvBuilder(system_site_packages=False, with_pip=False, symlinks=True).create(root)
    python = root / "bin" / "python"
    install = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "--python",
            str(python),
            "install",
            "--quiet",
            "--no-deps",
            "--no-index",
            str(wheel),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert install.returncode == 0, install.stderr
    site_packages = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    # Dependencies from the project venv, after the image venv's own packages (see the module docstring).
    project_site_packages = sysconfig.get_paths()["purelib"]
    (Path(site_packages) / "zz_project_dependencies.pth").write_text(project_site_packages + "\n")
    return root


def run_in_image(image_venv: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {key: value for key, value in os.environ.items() if key not in {"PYTHONPATH", "VIRTUAL_ENV"}}
    return subprocess.run(list(args), capture_output=True, text=True, timeout=120, check=False, env=env, cwd=image_venv)


def test_the_package_comes_from_the_wheel_not_the_source_tree(image_venv: Path) -> None:
    result = run_in_image(
        image_venv, str(image_venv / "bin" / "python"), "-c", "import modelmonitor; print(modelmonitor.__file__)"
    )
    assert result.returncode == 0, result.stderr
    assert Path(result.stdout.strip()).is_relative_to(image_venv)


def test_the_entrypoint_runs(image_venv: Path) -> None:
    result = run_in_image(image_venv, str(image_venv / "bin" / "modelmonitor"), "--help")
    assert result.returncode == 0, result.stderr
    assert "evaluate" in result.stdout


def test_the_operator_entrypoint_runs(image_venv: Path) -> None:
    if not (REPO_ROOT / "operator" / "modelmonitor" / "controller" / "main.py").exists():
        pytest.skip("the operator command (modelmonitor.controller.main) is not written yet")
    result = run_in_image(image_venv, str(image_venv / "bin" / "modelmonitor"), "operator", "--help")
    assert result.returncode == 0, result.stderr
    for flag in ("--all-namespaces", "--namespace", "--liveness", "--metrics-port", "--evaluator-image"):
        assert flag in result.stdout, f"the chart passes {flag}"
