#!/usr/bin/env bash
# Install each artifact of `make dist` into a fresh directory outside the repository and run
# a smoke script there: the wheel and the sdist each into a new venv, the npm tarball into a
# new npm project. Usage: tests/dist/run.sh DIST_DIR
set -euo pipefail
dist=$(cd "$1" && pwd)
here=$(cd "$(dirname "$0")" && pwd)
PYTHON3=${PYTHON3:-python3}
NPM=${NPM:-npm}
work=$(mktemp -d "${TMPDIR:-/tmp}/wa360-test-dist.XXXXXX")
trap 'rm -rf "$work"' EXIT
pip_flags=(--quiet --disable-pip-version-check --no-input)
cp "$here/smoke.py" "$here/smoke.cjs" "$work/"

wheel=$(ls "$dist"/python/*.whl)
sdist=$(ls "$dist"/python/*.tar.gz)
tarball=$(ls "$dist"/npm/*.tgz)

echo "== wheel $(basename "$wheel")"
"$PYTHON3" -m venv "$work/venv-wheel"
"$work/venv-wheel/bin/python" -m pip install "${pip_flags[@]}" "$wheel"
(cd "$work" && "$work/venv-wheel/bin/python" smoke.py)

echo "== sdist $(basename "$sdist") (builds the extension from source)"
"$PYTHON3" -m venv "$work/venv-sdist"
# A debug build is enough to show the sdist holds every file the build needs; a target
# directory kept between runs makes a second run fast (both only for this test).
CARGO_TARGET_DIR="${WA360_SDIST_TARGET_DIR:-$dist/../dist-sdist-build}" \
MATURIN_PEP517_ARGS="--profile dev" \
  "$work/venv-sdist/bin/python" -m pip install "${pip_flags[@]}" "$sdist"
(cd "$work" && "$work/venv-sdist/bin/python" smoke.py)

echo "== npm $(basename "$tarball")"
mkdir "$work/npm-project"
(cd "$work/npm-project" && "$NPM" init -y >/dev/null &&
  "$NPM" install --no-audit --no-fund --ignore-scripts "$tarball" >/dev/null &&
  cp ../smoke.cjs . && node smoke.cjs)

echo "test-dist: wheel, sdist and npm tarball installed and smoke-tested outside the repository"
