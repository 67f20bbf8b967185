#!/usr/bin/env bash
# Starts a single-node Slurm cluster on this machine (munged + slurmctld + slurmd) for the Slurm launcher test
# (test/sweep-slurm.test.ts). Needs root and Debian's slurm-wlm and munge packages
# (apt-get install -y slurm-wlm munge). Idempotent: does nothing if the cluster already answers.
# Everything lives under $RECLIN_SLURM_DIR (default /tmp/reclin-slurm); the tests find the config through
# $RECLIN_SLURM_DIR/slurm.conf. Stop it with scripts/slurm-local.sh stop.
set -euo pipefail
DIR="${RECLIN_SLURM_DIR:-/tmp/reclin-slurm}"
CONF="$DIR/slurm.conf"
export SLURM_CONF="$CONF"

if [ "${1:-}" = "stop" ]; then
  for f in slurmd slurmctld; do
    [ -f "$DIR/$f.pid" ] && kill "$(cat "$DIR/$f.pid")" 2>/dev/null || true
  done
  exit 0
fi

for cmd in munged slurmctld slurmd sbatch; do
  command -v "$cmd" >/dev/null || { echo "slurm-local: $cmd not found (apt-get install -y slurm-wlm munge)" >&2; exit 2; }
done
if [ -f "$CONF" ] && scontrol ping 2>/dev/null | grep -q 'is UP'; then
  echo "slurm-local: already up ($CONF)"
  exit 0
fi

mkdir -p "$DIR/state" "$DIR/spool" "$DIR/log"
HOST="$(hostname -s)"
CPUS="$(nproc)"
MEM_MB="$(( $(awk '/MemTotal/ {print $2}' /proc/meminfo) / 1024 - 512 ))"

# munge: a key, then the daemon (root may run it with --force in a container).
if [ ! -s /etc/munge/munge.key ]; then
  mkdir -p /etc/munge
  dd if=/dev/urandom of=/etc/munge/munge.key bs=1024 count=1 status=none
  chmod 400 /etc/munge/munge.key
fi
mkdir -p /run/munge /var/log/munge /var/lib/munge
if ! munge -n >/dev/null 2>&1; then
  munged --force
  for _ in $(seq 50); do munge -n >/dev/null 2>&1 && break; sleep 0.1; done
fi
munge -n | unmunge >/dev/null

cat > "$CONF" <<CONF
ClusterName=reclin
SlurmctldHost=$HOST
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
SchedulerType=sched/backfill
MpiDefault=none
ReturnToService=2
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
StateSaveLocation=$DIR/state
SlurmdSpoolDir=$DIR/spool
SlurmctldPidFile=$DIR/slurmctld.pid
SlurmdPidFile=$DIR/slurmd.pid
SlurmctldLogFile=$DIR/log/slurmctld.log
SlurmdLogFile=$DIR/log/slurmd.log
SlurmctldPort=6817
SlurmdPort=6818
NodeName=$HOST CPUs=$CPUS RealMemory=$MEM_MB State=UNKNOWN
PartitionName=debug Nodes=$HOST Default=YES MaxTime=INFINITE State=UP
CONF

slurmctld -c   # -c: clear old state (a fresh cluster every start)
slurmd
for _ in $(seq 100); do
  if sinfo -h -o '%t' 2>/dev/null | grep -qE '^(idle|mix|alloc)'; then
    echo "slurm-local: up ($CONF, node $HOST, $CPUS CPUs)"
    exit 0
  fi
  sleep 0.2
done
echo "slurm-local: the node did not become idle; sinfo says:" >&2
sinfo >&2 || true
tail -n 20 "$DIR/log/slurmctld.log" "$DIR/log/slurmd.log" >&2 || true
exit 1
