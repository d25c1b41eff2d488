#!/bin/sh
# Install tgo-host into PREFIX/venv from the source tree SRC: the pinned runtime dependencies
# (requirements.lock), then tgo-host itself. Used by deploy/Dockerfile, and run as-is outside a
# container by tests/test_image_recipe.py. PYTHON picks the interpreter (default python3).
set -eu
prefix=${1:?usage: install.sh PREFIX [SRC]}
src=${2:-.}
python=${PYTHON:-python3}
"$python" -m venv "$prefix/venv"
pip="$prefix/venv/bin/python -m pip --disable-pip-version-check --no-input --no-cache-dir"
$pip install --quiet -r "$src/requirements.lock"
$pip install --quiet --no-deps "$src"
"$prefix/venv/bin/tgo-host" --version
