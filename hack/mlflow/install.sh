#!/usr/bin/env bash
# A real `mlflow server` for the registry tests, in its own virtualenv: the operator talks to MLflow over REST
# with `requests` and must not carry the mlflow package (~850 MB) in its dependencies or image. The venv is keyed
# by the pinned version under ~/.cache/modelmonitor/mlflow/<version> and reused when present (a cold install
# takes minutes); one pip install, through hack/mlflow/constraints.txt so every machine gets the same packages.
# Prints the venv's path on its last line.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
version="$(tr -d '[:space:]' < "$here/VERSION")"
venv="${MODELMONITOR_CACHE:-$HOME/.cache/modelmonitor}/mlflow/$version"
python="${PYTHON:-python3}"

if [ -f "$venv/.installed" ] && [ -x "$venv/bin/mlflow" ]; then
    echo "$venv"
    exit 0
fi

echo "mlflow $version: installing into $venv (one time, several minutes)" >&2
rm -rf "$venv"    # a half-made venv from an interrupted install has no .installed stamp
mkdir -p "$(dirname "$venv")"
"$python" -m venv "$venv"
constraints=()
if [ -f "$here/constraints.txt" ]; then constraints=(-c "$here/constraints.txt"); fi
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check "${constraints[@]}" "mlflow==$version"
"$venv/bin/mlflow" --version >&2
touch "$venv/.installed"
echo "$venv"
