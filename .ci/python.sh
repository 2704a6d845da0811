#!/usr/bin/env bash
# The Python package's CI step: builds the wheel with maturin in the dev
# profile (sharing target/ and the dependency builds `cargo test` made), installs it
# into a fresh virtual environment with pandas, pyarrow, SALib and pytest,
# and runs python/tests (which compare with target/debug/vtwin). GPU tests
# run when REQUIRE_GPU=1, as for the Rust suite (WGPU_BACKEND=vulkan for
# lavapipe).
#
# The one documented wheel command (from the repository root):
#   maturin build --profile dev -m python/Cargo.toml -o DIR
set -euo pipefail
cd "$(dirname "$0")/.."
root="$(pwd)"
venv="$(realpath -m "${VTWIN_PY_VENV:-target/python-venv}")"
wheels="$root/target/python-wheels"

python3 -m venv --clear "$venv"
"$venv/bin/python" -m pip install -q --upgrade pip
"$venv/bin/python" -m pip install -q "maturin>=1.7,<2" numpy pandas pyarrow pytest "SALib>=1.4"

# The CLI the tests compare with, built the way `cargo test` builds it (with
# the dev-dependencies' features, the graph python/Cargo.toml matches): a
# no-op after `cargo test`. A plain `cargo build` would resolve features
# without the dev-dependencies and rebuild much of the tree.
echo "python: the vtwin binary (cargo test --no-run --test run_cli)"
cargo test --no-run --test run_cli

echo "python: maturin build --profile dev -m python/Cargo.toml"
rm -rf "$wheels"
start=$(date +%s)
"$venv/bin/maturin" build --profile dev -m python/Cargo.toml -o "$wheels"
echo "python: wheel built in $(( $(date +%s) - start )) s"
"$venv/bin/python" -m pip install -q --force-reinstall --no-deps "$wheels"/vtwin-*.whl

echo "python: pytest python/tests"
# From python/tests, so `import vtwin` is the installed wheel, not python/vtwin.
cd python/tests
VTWIN_BIN="$root/target/debug/vtwin" "$venv/bin/python" -m pytest -q -p no:cacheprovider
