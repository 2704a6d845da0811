#!/usr/bin/env bash
# Issue 11's speed benchmark: N patients (default 10,000) × M members
# (default 128) of a one-species ODE (tests/data/patients_growth.toml on a
# single site: u' = r·u, r estimated, volume analysed in log space), 8
# readings each at irregular times plus 2 requested forecasts, assimilated
# and forecast in one `vtwin assimilate` call. Prints wall time, the
# analysis time per patient and the run's summary; docs/patients.md keeps
# the measured figures with the machine they came from.
#
# Usage (repository root): benches/patients.sh [N] [M] [BACKEND]
#   VTWIN=path/to/vtwin (default target/release/vtwin, else target/debug/vtwin)
#   OUT=folder for the data and the run (default a temporary folder)
# Needs awk; the data are pseudo-random with a fixed seed (awk's srand(1)).
set -euo pipefail
n="${1:-10000}"
m="${2:-128}"
backend="${3:-cpu}"
vtwin="${VTWIN:-target/release/vtwin}"
[ -x "$vtwin" ] || vtwin=target/debug/vtwin
[ -x "$vtwin" ] || { echo "patients.sh: no vtwin binary (cargo build --release)" >&2; exit 1; }
out="${OUT:-$(mktemp -d)}"
mkdir -p "$out"
sed -e 's/^nx = 3/nx = 1/' -e "s/^members = 32/members = $m/" \
    -e 's/^init_var = \[0.01, 0.01, 0.01\]/init_var = [0.01]/' \
    tests/data/patients_growth.toml > "$out/ode.toml"
awk -v n="$n" -v obs="$out/obs.csv" -v at="$out/at.csv" 'BEGIN {
    srand(1)
    print "patient,time,observable,location,value,sd" > obs
    print "patient,time,observable" > at
    for (p = 0; p < n; p++) {
        r = -0.4 + 0.7 * rand(); v0 = 0.5 + 0.05 * (rand() - 0.5)
        t = 0.5 + rand()
        for (k = 0; k < 10; k++) {
            z = sqrt(-2 * log(1 - rand())) * cos(6.283185307179586 * rand())
            y = v0 * exp(r * t) * exp(0.1 * z)
            if (y <= 0.01) y = 0
            if (k < 8) printf "P%05d,%.4f,volume,,%.6e,\n", p, t, y > obs
            else printf "P%05d,%.4f,volume\n", p, t > at
            t += 0.5 + 1.5 * rand()
        }
    }
}'
start=$(date +%s.%N)
"$vtwin" assimilate "$out/ode.toml" --obs "$out/obs.csv" --forecast-at "$out/at.csv" \
    --backend "$backend" --format csv --out "$out/run" --force
end=$(date +%s.%N)
awk -v s="$start" -v e="$end" -v n="$n" -v m="$m" -v b="$backend" 'BEGIN {
    w = e - s
    printf "patients.sh: %d patients × %d members, %d readings, backend %s: %.1f s wall, %.2f ms per patient\n", n, m, 8 * n, b, w, 1000 * w / n
}'
