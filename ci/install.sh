#!/usr/bin/env bash
# Installs baker from its own source into a virtualenv, with the pinned dependencies of
# ci/requirements.lock: no package index entry for baker is needed (action.yml, the Azure Pipelines
# steps template and the GitLab component all call this).
#   ci/install.sh SOURCE VENV [PYTHON]
# SOURCE: a checkout of baker (the directory holding pyproject.toml); VENV: where the virtualenv
# goes (kept as is when it already holds this baker: a restored cache); PYTHON: default python3.
set -euo pipefail
source_dir=$1
venv=$2
python=${3:-python3}
if [ -x "$venv/bin/baker" ] && "$venv/bin/baker" --version >/dev/null 2>&1; then
  echo "baker: $("$venv/bin/baker" --version) from $venv (cached)"
  exit 0
fi
"$python" -m venv "$venv"
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check -r "$source_dir/ci/requirements.lock"
# --no-build-isolation: the build backend is the pinned setuptools just installed (no other download).
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check --no-deps --no-build-isolation "$source_dir"
echo "baker: $("$venv/bin/baker" --version) from $venv"
