#!/usr/bin/env bash
# The GPU half of docs/performance.md, as one short script for a machine with
# a GPU (run from the repository root; not yet run: expected to take 5–10
# minutes on an H100, most of it compare.sh's numpy rows). Writes
# into ${OUT:-perf-gpu}/:
#   adapters.txt       vtwin adapters
#   rd_gpu.json        vtwin bench --suite rd --backend gpu (single-step,
#                      fused-4/8, per-step sync, observe, f16, scaling 1…65,536)
#   rd_cpu.json        the same suite on the CPU backend (capped at 4,096)
#   abm_gpu.json       vtwin bench --suite abm --backend gpu ({64,1024} members
#                      × {1k,10k} agents: up to 10⁷ agents, the ≥ 5·10⁸
#                      agent-steps/s target is the 1024 × 1k row)
#   compare.json       benches/compare.sh (vtwin GPU/CPU, numpy, JAX if installed)
#   estimate.txt       vtwin estimate scenes/gray_scott.toml at 65,536 members
# Needs target/release/vtwin (cargo build --release, or carried from a build
# machine) and python3 for compare.sh.
set -uo pipefail
out="${OUT:-perf-gpu}"
mkdir -p "$out"
vtwin="${VTWIN:-target/release/vtwin}"
[ -x "$vtwin" ] || { echo "gpu_run.sh: $vtwin missing (cargo build --release)" >&2; exit 1; }
"$vtwin" adapters | tee "$out/adapters.txt"
"$vtwin" bench --suite rd --backend gpu --repeats 3 --force --json "$out/rd_gpu.json" 2>&1 | tee "$out/rd_gpu.txt"
"$vtwin" bench --suite rd --backend cpu --repeats 3 --no-scaling --force --json "$out/rd_cpu.json" 2>&1 | tee "$out/rd_cpu.txt"
"$vtwin" bench --suite abm --backend gpu --repeats 3 --force --json "$out/abm_gpu.json" 2>&1 | tee "$out/abm_gpu.txt"
VTWIN="$vtwin" benches/compare.sh --json "$out/compare.json" 2>&1 | tee "$out/compare.txt"
"$vtwin" estimate scenes/gray_scott.toml --members 65536 --backend gpu 2>&1 | tee "$out/estimate.txt"
