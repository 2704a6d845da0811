#!/usr/bin/env bash
# The GPU half of docs/performance.md as one script for a machine with a GPU
# (run from the repository root; JAX with CUDA installed for the peer rows).
# Budget: about 8 minutes on an H100/H200. Needs target/release/vtwin (cargo
# build --release, or carried from a build machine) and python3.
#
# Writes into ${OUT:-perf-gpu}/ (and docs/perf/rd-<adapter>.json):
#   adapters.txt     vtwin adapters
#   rd_gpu.json      vtwin bench --suite rd --backend gpu: copy bandwidth row,
#                    single-step (tuned shape) at 16/256/4,096/16,384 members,
#                    fused-4/8, one 512² member, per-step sync, observe,
#                    scaling; every row's fraction of datasheet peak and of
#                    the copy row. Also copied to docs/perf/rd-<adapter>.json.
#   shapes.json      the single-step kernel in every candidate shape
#                    (VTWIN_KERNEL=…) at 4,096 × 64²: before (8x8/1, the
#                    shape of the kernel before issue 13) against after
#   compare.json     benches/compare.sh: vtwin GPU (single-step, fused-8) vs the JAX peer
#                    at 4,096 × 64², 16,384 × 64² and 1 × 512²
#   abm_gpu.json     vtwin bench --suite abm --backend gpu
#   closed_loop.txt  wall time of the 52-analysis tissue twin, 1,000 members,
#                    32² and 128², GPU and CPU backends (issue 12 targets)
#   table.md         the summary table: cell-updates/s, GB/s, % of peak,
#                    % of copy, vtwin ÷ JAX, fused ÷ single-step
# Optional: VTWIN_BEFORE=path/to/older/vtwin adds that binary's rd rows
# (rd_before.json) to the table.
set -uo pipefail
out="${OUT:-perf-gpu}"
mkdir -p "$out"
vtwin="${VTWIN:-target/release/vtwin}"
[ -x "$vtwin" ] || { echo "gpu_run.sh: $vtwin missing (cargo build --release)" >&2; exit 1; }
export VTWIN_PIPELINE_CACHE="${VTWIN_PIPELINE_CACHE:-$out/cache}"
"$vtwin" adapters | tee "$out/adapters.txt"

# 1. The rd suite (the first run tunes the kernel shape and caches it).
"$vtwin" bench --suite rd --backend gpu --repeats 3 --members 16,256,4096,16384 \
    --force --json "$out/rd_gpu.json" 2>&1 | tee "$out/rd_gpu.txt"
slug=$(python3 -c 'import json,re,sys; n=json.load(open(sys.argv[1]))["adapter"]["name"]; print(re.sub(r"[^a-z0-9]+","-",n.lower()).strip("-"))' "$out/rd_gpu.json" 2>/dev/null || echo gpu)
mkdir -p docs/perf && cp "$out/rd_gpu.json" "docs/perf/rd-$slug.json"
if [ -n "${VTWIN_BEFORE:-}" ] && [ -x "$VTWIN_BEFORE" ]; then
    "$VTWIN_BEFORE" bench --suite rd --backend gpu --repeats 3 --members 4096,16384 --no-scaling \
        --force --json "$out/rd_before.json" 2>&1 | tee "$out/rd_before.txt"
fi

# 2. Every candidate shape of the single-step kernel on the peer problem.
: > "$out/shapes.jsonl"
for shape in 8x8/1 64x4/1 16x16/1 32x8/2 16x16/4 64x4/4 32x8/4 8x32/4; do
    VTWIN_KERNEL="$shape" "$vtwin" bench --suite peer --backend gpu --members 4096 --grid 64 \
        --steps 400 --repeats 3 --json - 2>>"$out/shapes.log" \
        | python3 -c 'import json,sys; d=json.load(sys.stdin); d["shape"]=sys.argv[1]; print(json.dumps(d))' "$shape" \
        >> "$out/shapes.jsonl"
done

# 3. vtwin against JAX (and numpy) at the same sizes.
copy_gbs=$(python3 -c 'import json,sys; r=[x for x in json.load(open(sys.argv[1]))["results"] if x["case"]=="copy"]; print(r[0]["bytes_per_s"]/1e9 if r else "")' "$out/rd_gpu.json" 2>/dev/null)
# numpy and the CPU backend would take minutes at these sizes: GPU rows only.
VTWIN="$vtwin" benches/compare.sh --sizes 4096x64x400,16384x64x200,1x512x2000 --repeats 3 \
    --skip numpy,vtwin-cpu \
    ${copy_gbs:+--copy-gbs "$copy_gbs"} --json "$out/compare.json" 2>&1 | tee "$out/compare.txt"

# 4. Agents.
"$vtwin" bench --suite abm --backend gpu --repeats 3 --force --json "$out/abm_gpu.json" 2>&1 | tee "$out/abm_gpu.txt"

# 5. The closed loop (issue 12): the 52-analysis weekly tissue twin at 1,000
# members, 32 × 32 as shipped and the same tissue on 128 × 128 (dx 0.5 mm,
# dt 0.25 day for stability, forecast outputs still weekly), wall time of
# `vtwin twin` end to end (truth, free run, 52 analyses, 3-arm forecast).
sed -e 's/^nx = 32/nx = 128/' -e 's/^ny = 32/ny = 128/' -e 's/^dx = 2.0 .*/dx = 0.5/' \
    -e 's/^dt = 0.5 .*/dt = 0.25/' -e 's/^every = 14 .*/every = 28/' \
    scenes/tumour_twin_52w.toml > "$out/tumour_twin_52w_128.toml"
for scene in scenes/tumour_twin_52w.toml "$out/tumour_twin_52w_128.toml"; do
    for backend in gpu cpu; do
        name=$(basename "$scene" .toml)-$backend
        rm -rf "$out/$name"
        /usr/bin/time -f "$name wall %e s" "$vtwin" twin "$scene" --members 1000 --backend "$backend" \
            --out "$out/$name" > "$out/$name.log" 2>&1
        tail -1 "$out/$name.log" | tee -a "$out/closed_loop.txt"
    done
done

# 6. The table.
python3 - "$out" <<'PY' | tee "$out/table.md"
import json, os, sys
out = sys.argv[1]
def load(name):
    try:
        return json.load(open(os.path.join(out, name)))
    except (OSError, ValueError):
        return None
rd = load("rd_gpu.json")
cmp_ = load("compare.json") or {"rows": []}
jax = {(r["members"], r["grid"]): r["cell_updates_per_s"] for r in cmp_["rows"] if r["impl"] == "jax"}
peak = (rd or {}).get("peak") or {}
print(f"adapter: {(rd or {}).get('adapter', {}).get('name')}, commit {(rd or {}).get('commit')}, "
      f"peak {peak.get('gbs')} GB/s ({peak.get('source')})\n")
print("| row | members | grid | kernel | cell-updates/s | GB/s | % peak | % copy | ÷ JAX |")
print("| --- | --- | --- | --- | --- | --- | --- | --- | --- |")
pct = lambda x: f"{100 * x:.0f} %" if x is not None else "-"
def row(name, r, kernel="-"):
    cups = r.get("cell_updates_per_s")
    # vtwin ÷ JAX only for stepping rows of the same size.
    stepping = r["case"] in ("single-step", "single-member", "gray-scott-peer") or r["case"].startswith("fused")
    j = jax.get((r["members"], r.get("grid"))) if stepping else None
    print(f"| {name} | {r['members']} | {r.get('grid') or '-'} | {kernel} | "
          f"{cups and f'{cups:.3g}' or '-'} | {r['bytes_per_s'] / 1e9:.0f} | "
          f"{pct(r.get('fraction_of_peak'))} | {pct(r.get('fraction_of_copy'))} | "
          f"{f'{cups / j:.2f}' if cups and j else '-'} |")
for r in (rd or {}).get("results", []):
    if r["case"].startswith("scaling/"):
        continue
    k = (r.get("kernel") or {}).get("label", "-")
    row(r["case"], r, k)
before = load("rd_before.json")
for r in (before or {}).get("results", []):
    if r["case"] in ("single-step",) or r["case"].startswith("fused"):
        row("before: " + r["case"], r)
try:
    shapes = [json.loads(l) for l in open(os.path.join(out, "shapes.jsonl")) if l.strip()]
except OSError:
    shapes = []
for d in shapes:
    r = d["results"][0]
    if peak.get("gbs") and r.get("fraction_of_peak") is None:
        r["fraction_of_peak"] = r["bytes_per_s"] / (peak["gbs"] * 1e9)
    copy = next((x for x in (rd or {}).get("results", []) if x["case"] == "copy"), None)
    if copy:
        r["fraction_of_copy"] = r["bytes_per_s"] / copy["bytes_per_s"]
    row("shape " + d["shape"] + (" (before)" if d["shape"] == "8x8/1" else ""), r, d["shape"])
for r in cmp_["rows"]:
    if r["impl"] == "jax":
        print(f"| JAX peer ({r['device']}) | {r['members']} | {r['grid']} | - | {r['cell_updates_per_s']:.3g} | "
              f"{16 * r['cell_updates_per_s'] / 1e9:.0f} | - | - | 1.00 |")
PY
echo "gpu_run.sh: done; results in $out/, rd report in docs/perf/rd-$slug.json"
