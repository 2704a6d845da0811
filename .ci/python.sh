#!/usr/bin/env bash
# The Python package's CI step: builds the wheel with maturin in the dev
# profile (sharing target/ and the dependency builds `cargo test` made),
# installs it into a fresh virtual environment with the one documented
# command (README "From Python", docs/python.md), checks the environment
# with `pip check`, then adds the test tools (pytest, SALib) and runs
# python/tests (which compare with target/debug/vtwin). GPU tests run when
# REQUIRE_GPU=1, as for the Rust suite (WGPU_BACKEND=vulkan for lavapipe).
#
# The documented commands (from the repository root):
#   maturin build --profile dev -m python/Cargo.toml -o target/python-wheels
#   pip install target/python-wheels/vtwin-*.whl
set -euo pipefail
cd "$(dirname "$0")/.."
root="$(pwd)"
venv="$(realpath -m "${VTWIN_PY_VENV:-target/python-venv}")"
tools="$root/target/python-build"
wheels="$root/target/python-wheels"

# maturin lives in its own environment, so the one the wheel goes into is
# fresh: nothing in it but what `pip install` of the wheel brings.
python3 -m venv "$tools"
"$tools/bin/python" -m pip install -q "maturin>=1.7,<2"

# The CLI the tests compare with, built the way `cargo test` builds it (with
# the dev-dependencies' features, the graph python/Cargo.toml matches): a
# no-op after `cargo test`. A plain `cargo build` would resolve features
# without the dev-dependencies and rebuild much of the tree.
echo "python: the vtwin binary (cargo test --no-run --test run_cli)"
cargo test --no-run --test run_cli

echo "python: maturin build --profile dev -m python/Cargo.toml -o target/python-wheels"
rm -rf "$wheels"
start=$(date +%s)
"$tools/bin/maturin" build --profile dev -m python/Cargo.toml -o "$wheels"
echo "python: wheel built in $(( $(date +%s) - start )) s"

echo "python: pip install target/python-wheels/vtwin-*.whl (a fresh venv), pip check"
python3 -m venv --clear "$venv"
"$venv/bin/python" -m pip install -q target/python-wheels/vtwin-*.whl
"$venv/bin/python" -m pip check
# Imported from outside the repository, so it is the installed package.
(cd / && "$venv/bin/python" -c "import vtwin, pandas, pyarrow, numpy; print('python: vtwin', vtwin.__version__, 'imports')")

echo "python: pytest python/tests"
"$venv/bin/python" -m pip install -q pytest "SALib>=1.4" "maturin>=1.7,<2"
"$venv/bin/python" -m pip check
# From python/tests, so `import vtwin` is the installed wheel, not python/vtwin.
cd python/tests
VTWIN_BIN="$root/target/debug/vtwin" "$venv/bin/python" -m pytest -q -p no:cacheprovider
