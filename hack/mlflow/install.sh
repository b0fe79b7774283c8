#!/usr/bin/env bash
# A real `mlflow server` for the registry tests, in its own virtualenv: the operator talks to MLflow over REST
# with `requests` and must not carry the mlflow package (~850 MB) in its dependencies or image. The venv is keyed
# by the pinned version under ~/.cache/modelmonitor/mlflow/<version> and reused when present (a cold install
# takes minutes); one pip install, through hack/mlflow/constraints.txt so every machine gets the same packages.
# Prints the venv's path on its last line.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
version="$(tr -d '[:space:]' < "$here/VERSION")"
# The auth extra (Flask-WTF) lets the tests run MLflow's basic-auth app: credentials Secrets and refusals are real.
requirement="mlflow[auth]==$version"
venv="${MODELMONITOR_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/modelmonitor}/mlflow/$version"
python="${PYTHON:-python3}"

if [ "$(cat "$venv/.installed" 2>/dev/null)" = "$requirement" ] && [ -x "$venv/bin/mlflow" ]; then
    echo "$venv"
    exit 0
fi

echo "mlflow $version: installing into $venv (one time, several minutes)" >&2
rm -rf "$venv"    # a half-made venv (interrupted install, other extras) has no matching .installed stamp
mkdir -p "$(dirname "$venv")"
"$python" -m venv "$venv"
constraints=()
if [ -f "$here/constraints.txt" ]; then constraints=(-c "$here/constraints.txt"); fi
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check "${constraints[@]}" "$requirement"
"$venv/bin/mlflow" --version >&2
echo "$requirement" > "$venv/.installed"
echo "$venv"
