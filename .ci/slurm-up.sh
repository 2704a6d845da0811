#!/usr/bin/env bash
# A real one-node Slurm for the integration test (tests/slurm_cli.rs):
# installs Debian's slurm-wlm and munge when missing, writes a slurm.conf
# with this machine as controller and only compute node (its real CPUs and
# memory, from `slurmd -C`), creates a munge key when there is none, starts
# munged, slurmctld and slurmd directly (no systemd) and waits until the
# node is idle. Pids go to $VTWIN_SLURM_DIR/pids for .ci/slurm-down.sh.
#
# Environment: VTWIN_SLURM_DIR (state, logs, config; default
# /tmp/vtwin-slurm) and SLURM_CONF (default $VTWIN_SLURM_DIR/slurm.conf),
# which the caller exports so that sbatch/squeue in the tests find it.
# Needs root (as CI runs); jobs then run as root too, which Slurm allows
# unless DisableRootJobs is set.
set -euo pipefail
dir="${VTWIN_SLURM_DIR:-/tmp/vtwin-slurm}"
conf="${SLURM_CONF:-$dir/slurm.conf}"
mkdir -p "$dir/ctld" "$dir/d"
: > "$dir/pids"
# Pid files of an earlier CI run would pass the start checks below.
rm -f "$dir/munged.pid" "$dir/slurmctld.pid" "$dir/slurmd.pid"

if ! command -v slurmctld >/dev/null 2>&1 || ! command -v munged >/dev/null 2>&1; then
  echo "slurm-up: installing slurm-wlm and munge"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq slurm-wlm munge >/dev/null
fi

# munge: a key (only when there is none: never replace one), its socket
# folder, and the daemon. --force: run even if the key or folders are not
# owned the way munged prefers (root in a container).
if [ ! -s /etc/munge/munge.key ]; then
  mkdir -p /etc/munge
  dd if=/dev/urandom of=/etc/munge/munge.key bs=1024 count=1 status=none
  chmod 400 /etc/munge/munge.key
fi
mkdir -p /run/munge /var/lib/munge /var/log/munge
if ! munge -n </dev/null >/dev/null 2>&1; then
  munged --force --pid-file="$dir/munged.pid"
  for _ in $(seq 50); do [ -s "$dir/munged.pid" ] && break; sleep 0.1; done
  echo "munged $(cat "$dir/munged.pid")" >> "$dir/pids"
fi
munge -n </dev/null | unmunge >/dev/null

host="$(hostname -s)"
# The node line with the machine's real CPUs, sockets, cores and memory.
node="$(slurmd -C | head -n 1)"
cat > "$conf" <<EOF
# Written by .ci/slurm-up.sh: one node, controller and compute node at once.
ClusterName=vtwinci
SlurmctldHost=$host
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
StateSaveLocation=$dir/ctld
SlurmdSpoolDir=$dir/d
SlurmctldPidFile=$dir/slurmctld.pid
SlurmdPidFile=$dir/slurmd.pid
SlurmctldLogFile=$dir/slurmctld.log
SlurmdLogFile=$dir/slurmd.log
SlurmctldPort=6817
SlurmdPort=6818
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
SchedulerType=sched/backfill
MpiDefault=none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
ReturnToService=2
SlurmdTimeout=60
MinJobAge=600
$node State=UNKNOWN
PartitionName=ci Nodes=$host Default=YES MaxTime=INFINITE State=UP
EOF
export SLURM_CONF="$conf"

slurmctld -f "$conf"
for _ in $(seq 100); do [ -s "$dir/slurmctld.pid" ] && break; sleep 0.1; done
echo "slurmctld $(cat "$dir/slurmctld.pid")" >> "$dir/pids"
slurmd -f "$conf"
for _ in $(seq 100); do [ -s "$dir/slurmd.pid" ] && break; sleep 0.1; done
echo "slurmd $(cat "$dir/slurmd.pid")" >> "$dir/pids"

for _ in $(seq 60); do
  state="$(sinfo -h -n "$host" -o %T 2>/dev/null || true)"
  if [ "$state" = "idle" ]; then
    echo "slurm-up: node $host idle ($node)"
    exit 0
  fi
  sleep 1
done
echo "slurm-up: node $host not idle after 60 s (state: ${state:-none}); logs in $dir" >&2
tail -n 20 "$dir/slurmctld.log" "$dir/slurmd.log" >&2 || true
exit 1
