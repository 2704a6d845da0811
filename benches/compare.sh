#!/usr/bin/env bash
# Runs vtwin (GPU and CPU backends) and the peers (numpy, JAX) on the pinned
# Gray-Scott problem (docs/performance.md, "The peer problem") back to back on
# this machine, at the same (members, grid, steps) for every implementation
# in a row, and prints a ratio table. Every time is wall-clock seconds of the
# stepping alone (set-up and JAX compilation excluded), the median of
# repeated runs. Each implementation also reports its checksum (sum of v),
# which the table compares with vtwin's CPU backend.
#
# usage: benches/compare.sh [--json FILE] [--sizes MxGxS[,MxGxS...]]
#                           [--repeats N] [--budget SECONDS] [--vtwin PATH]
#                           [--peak-gbs X] [--copy-gbs Y] [--skip LIST]
#   --sizes    rows as members x grid x steps (default 256x64x200, plus
#              4096x64x100 and 64x512x100 when a hardware GPU is present)
#   --repeats  timed runs per implementation and row (default 3)
#   --budget   a peer stops repeating once it has spent this long on a row
#              (at least one run; default 20 s)
#   --vtwin    the vtwin binary (default target/release/vtwin, built if missing)
#   --peak-gbs datasheet bandwidth of the GPU (default: vtwin's table of known
#              GPUs, from the vtwin-gpu report)
#   --skip     implementations to leave out, comma-separated: numpy, jax,
#              vtwin-cpu, fused (e.g. large GPU rows where numpy would take
#              minutes)
#   --copy-gbs measured copy-kernel bandwidth on the same GPU (the `copy` row
#              of `vtwin bench --suite rd`); with these, every row shows its
#              bandwidth (16 B per cell-update) as % of peak and % of copy
#
# Needs python3 on PATH for the peers and the table. A peer that is not
# installed (numpy, jax) is skipped with a note; so is the GPU backend when
# no adapter exists. Exits 0 unless vtwin itself fails.
set -uo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
json=""
sizes=""
repeats=3
budget=20
vtwin="${VTWIN:-$root/target/release/vtwin}"
peak_gbs=""
copy_gbs=""
skip=","

while [ $# -gt 0 ]; do
    case "$1" in
        --json) json="$2"; shift 2 ;;
        --sizes) sizes="$2"; shift 2 ;;
        --repeats) repeats="$2"; shift 2 ;;
        --budget) budget="$2"; shift 2 ;;
        --vtwin) vtwin="$2"; shift 2 ;;
        --peak-gbs) peak_gbs="$2"; shift 2 ;;
        --copy-gbs) copy_gbs="$2"; shift 2 ;;
        --skip) skip=",$2,"; shift 2 ;;
        -h|--help) sed -n '2,28p' "$0"; exit 0 ;;
        *) echo "compare.sh: unknown argument $1 (see --help)" >&2; exit 2 ;;
    esac
done

if [ ! -x "$vtwin" ]; then
    echo "compare.sh: $vtwin not found; building it (cargo build --release)" >&2
    (cd "$root" && cargo build --release) || { echo "compare.sh: build failed" >&2; exit 1; }
fi

if ! command -v python3 >/dev/null 2>&1; then
    echo "compare.sh: python3 not found on PATH: the numpy and JAX peers and the ratio table are skipped" >&2
    "$vtwin" bench --suite peer --backend cpu --repeats "$repeats"
    exit $?
fi

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

adapters=$("$vtwin" adapters 2>/dev/null)
has_gpu=0
hardware=0
if echo "$adapters" | grep -q "backend .*, type "; then has_gpu=1; fi
if echo "$adapters" | grep -Eq "type (DiscreteGpu|IntegratedGpu|VirtualGpu)"; then hardware=1; fi
if [ -z "$sizes" ]; then
    sizes="256x64x200"
    if [ "$hardware" = 1 ]; then sizes="$sizes,4096x64x100,64x512x100"; fi
fi

have_numpy=0; have_jax=0
if [[ "$skip" == *,numpy,* ]]; then
    echo "compare.sh: numpy peer skipped (--skip)" >> "$tmp/notes"
elif python3 -c "import numpy" 2>/dev/null; then
    have_numpy=1
else
    echo "compare.sh: numpy is not installed: numpy peer skipped" | tee -a "$tmp/notes" >&2
fi
if [[ "$skip" == *,jax,* ]]; then
    echo "compare.sh: JAX peer skipped (--skip)" >> "$tmp/notes"
elif python3 -c "import jax" 2>/dev/null; then
    have_jax=1
else
    echo "compare.sh: jax is not installed: JAX peer skipped (pip install 'jax[cpu]')" | tee -a "$tmp/notes" >&2
fi
[ "$has_gpu" = 1 ] || echo "compare.sh: no GPU adapter: vtwin-gpu skipped" | tee -a "$tmp/notes" >&2

status=0
i=0
for row in ${sizes//,/ }; do
    IFS=x read -r m g s <<<"$row"
    if [ -z "$m" ] || [ -z "$g" ] || [ -z "$s" ]; then
        echo "compare.sh: bad size '$row' (want MEMBERSxGRIDxSTEPS)" >&2; exit 2
    fi
    i=$((i + 1))
    common=(bench --suite peer --members "$m" --grid "$g" --steps "$s" --repeats "$repeats" --json -)
    echo "compare.sh: row $i: $m members, ${g}x$g grid, $s steps" >&2
    if [ "$has_gpu" = 1 ]; then
        "$vtwin" "${common[@]}" --backend gpu > "$tmp/$i.vtwin-gpu.json" 2>>"$tmp/log" \
            || { echo "compare.sh: vtwin --backend gpu failed (see below)" >&2; tail -5 "$tmp/log" >&2; status=1; }
        if [[ "$skip" != *,fused,* ]]; then
            "$vtwin" "${common[@]}" --backend gpu --fused 8 > "$tmp/$i.vtwin-gpu-fused.json" 2>>"$tmp/log" \
                || { echo "compare.sh: vtwin --backend gpu --fused 8 failed" >&2; tail -5 "$tmp/log" >&2; status=1; }
        fi
    fi
    if [[ "$skip" != *,vtwin-cpu,* ]]; then
        "$vtwin" "${common[@]}" --backend cpu > "$tmp/$i.vtwin-cpu.json" 2>>"$tmp/log" \
            || { echo "compare.sh: vtwin --backend cpu failed" >&2; tail -5 "$tmp/log" >&2; status=1; }
    fi
    peer_args=(--members "$m" --grid "$g" --steps "$s" --repeats "$repeats" --budget "$budget")
    if [ "$have_numpy" = 1 ]; then
        python3 "$here/peers/gs_numpy.py" "${peer_args[@]}" > "$tmp/$i.numpy.json" 2>>"$tmp/log" \
            || echo "compare.sh: numpy peer failed" >&2
    fi
    if [ "$have_jax" = 1 ]; then
        python3 "$here/peers/gs_jax.py" "${peer_args[@]}" > "$tmp/$i.jax.json" 2>>"$tmp/log" \
            || echo "compare.sh: JAX peer failed" >&2
    fi
done

python3 - "$tmp" "$json" "$peak_gbs" "$copy_gbs" <<'PY'
import glob, json, os, platform, statistics, sys

tmp, out = sys.argv[1], sys.argv[2]
peak_gbs = float(sys.argv[3]) if sys.argv[3] else None
copy_gbs = float(sys.argv[4]) if sys.argv[4] else None
rows = []
for path in sorted(glob.glob(os.path.join(tmp, "*.json"))):
    try:
        with open(path) as f:
            d = json.load(f)
    except (OSError, ValueError):
        continue
    if "results" in d:  # a vtwin bench report
        r = d["results"][0]
        if d["backend"] == "gpu" and peak_gbs is None and d.get("peak"):
            peak_gbs = d["peak"]["gbs"]
        variant = "fused" if "fused" in r["case"] else "single-step"
        wall = statistics.median(r["wall_seconds"])
        rows.append({
            "impl": "vtwin-" + d["backend"], "variant": variant,
            "device": (d["adapter"] or {}).get("name", d["backend"]),
            "members": r["members"], "grid": r["grid"], "steps": r["steps"],
            "seconds": wall,
            "cell_updates_per_s": r["members"] * r["grid"] ** 2 * r["steps"] / wall,
            "checksum": r.get("checksum"), "runs": len(r["wall_seconds"]),
        })
    else:
        rows.append({
            "impl": d["impl"], "variant": None, "device": d["device"],
            "members": d["members"], "grid": d["grid"], "steps": d["steps"],
            "seconds": d["median_seconds"], "cell_updates_per_s": d["cell_updates_per_s"],
            "checksum": d["checksum"], "runs": len(d["seconds"]),
            "version": d.get("version"),
        })

def cpu_name():
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()

machine = {"hostname": platform.node(), "cpu": cpu_name(), "cores": os.cpu_count(),
           "python": platform.python_version(), "os": platform.platform()}
gpu = [r["device"] for r in rows if r["impl"] == "vtwin-gpu"]
machine["gpu_adapter"] = gpu[0] if gpu else None

order = {"vtwin-gpu": 0, "vtwin-cpu": 1, "numpy": 2, "jax": 3}
keyf = lambda r: (r["members"], r["grid"], r["steps"])
for size in sorted({keyf(r) for r in rows}):
    group = sorted([r for r in rows if keyf(r) == size],
                   key=lambda r: (order.get(r["impl"], 9), r["variant"] == "fused"))
    base = {r["impl"]: r for r in group if r["variant"] in (None, "single-step")}
    ref = base.get("vtwin-cpu")
    m, g, s = size
    print(f"\n{m} members x {g}x{g} grid x {s} steps (wall seconds, median)")
    print(f"{'impl':<22} {'device':<28} {'seconds':>9} {'updates/s':>11} {'vs numpy':>9} {'vs jax':>8} {'%peak':>6} {'%copy':>6} {'checksum':>20} {'rel. diff':>9}")
    for r in group:
        name = r["impl"] + (f" ({r['variant']})" if r["variant"] == "fused" else "")
        vs = lambda p: f"{base[p]['seconds'] / r['seconds']:.2f}x" if p in base else "-"
        diff = "-"
        if ref and ref.get("checksum") and r.get("checksum") is not None:
            diff = f"{abs(r['checksum'] - ref['checksum']) / abs(ref['checksum']):.1e}"
        # Gray-Scott moves at least 16 B per cell-update (2 f32 species read
        # and written): the same roofline arithmetic as vtwin's bench.
        gpu_row = r["impl"] == "vtwin-gpu" or (r["impl"] == "jax" and r["device"] not in ("cpu", None))
        bps = 16.0 * r["cell_updates_per_s"]
        r["fraction_of_peak"] = bps / (peak_gbs * 1e9) if peak_gbs and gpu_row else None
        r["fraction_of_copy"] = bps / (copy_gbs * 1e9) if copy_gbs and gpu_row else None
        pct = lambda f: f"{100 * f:.0f}" if f is not None else "-"
        print(f"{name:<22} {str(r['device'])[:28]:<28} {r['seconds']:>9.3f} {r['cell_updates_per_s']:>11.3e} "
              f"{vs('numpy'):>9} {vs('jax'):>8} {pct(r['fraction_of_peak']):>6} {pct(r['fraction_of_copy']):>6} "
              f"{r['checksum'] if r['checksum'] is not None else '-':>20} {diff:>9}")
notes = os.path.join(tmp, "notes")
if os.path.exists(notes):
    print("\n" + open(notes).read().strip())
if out:
    doc = {"machine": machine, "peak_gbs": peak_gbs, "copy_gbs": copy_gbs, "rows": rows}
    text = json.dumps(doc, indent=2) + "\n"
    if out == "-":
        sys.stdout.write(text)
    else:
        tmp_out = out + ".tmp"
        with open(tmp_out, "w") as f:
            f.write(text)
        os.replace(tmp_out, out)
        print(f"\nwrote {out}")
PY
exit $status
