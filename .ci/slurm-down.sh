#!/usr/bin/env bash
# Stops the daemons .ci/slurm-up.sh started, by the pids it recorded
# (slurmd, slurmctld, then munged), and nothing else.
dir="${VTWIN_SLURM_DIR:-/tmp/vtwin-slurm}"
[ -f "$dir/pids" ] || exit 0
for name in slurmd slurmctld munged; do
  pid="$(awk -v n="$name" '$1 == n { print $2 }' "$dir/pids")"
  if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
    kill "$pid" 2>/dev/null || true
    for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  fi
done
: > "$dir/pids"
echo "slurm-down: stopped"
