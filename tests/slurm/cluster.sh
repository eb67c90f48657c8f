#!/usr/bin/env bash
# A one-node Slurm cluster on localhost in a folder of its own, for the Slurm test (tests/KernelLab.Tests/Slurm):
# munged with its own key and socket, slurmctld and slurmd (Debian's slurm-wlm 22.05) with no systemd and no cgroups
# (ProctrackType=proctrack/linuxproc, TaskPlugin=task/none). Needs root, as slurmd does to start jobs as their user.
#
#   bash tests/slurm/cluster.sh check           # exit 0 when it can run here, else one line saying why and exit 3
#   bash tests/slurm/cluster.sh start DIR       # writes DIR/slurm.conf and DIR/env (export SLURM_CONF=...), waits for the node
#   bash tests/slurm/cluster.sh stop DIR        # cancels its jobs and stops the daemons start started, whatever state they are in
#
# The clients (sbatch, squeue, scancel, sacct) find the cluster through SLURM_CONF; the munge socket is named in it.
set -euo pipefail

die() { echo "cluster.sh: $*" >&2; exit 1; }

check() {
  local missing=()
  for tool in munged slurmctld slurmd sbatch squeue scontrol scancel; do
    command -v "$tool" >/dev/null 2>&1 || [ -x "/usr/sbin/$tool" ] || missing+=("$tool")
  done
  if [ "${#missing[@]}" -gt 0 ]; then
    echo "Slurm is not installed here (no ${missing[*]}): apt-get install slurm-wlm munge"; return 3
  fi
  if [ "$(id -u)" -ne 0 ]; then
    echo "the one-node Slurm cluster needs root (slurmd starts jobs as their user)"; return 3
  fi
}

# A TCP port from 20000 to 39999 that nothing on localhost listens on and that is not $1, so that a Slurm already running
# here (on 6817 and 6818) is left alone.
free_port() {
  local port
  for _ in $(seq 50); do
    port=$((20000 + RANDOM % 20000))
    if [ "$port" != "${1:-}" ] && ! (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then echo "$port"; return; fi
  done
  die "no free TCP port found"
}

start() {
  local dir=$1
  mkdir -p "$dir"/{munge,state/ctld,state/d,log,run}
  dir=$(cd "$dir" && pwd)
  chmod 700 "$dir" "$dir/munge"
  PATH=/usr/sbin:$PATH

  # munge: a fresh key and a socket of its own, so that a munged already running here is left alone. --force: munged
  # wants every folder above its socket open to all users, which a private temporary folder is not; only root uses it.
  dd if=/dev/urandom of="$dir/munge/munge.key" bs=1024 count=1 status=none
  chmod 400 "$dir/munge/munge.key"
  munged --socket="$dir/munge/munge.socket" --key-file="$dir/munge/munge.key" --pid-file="$dir/run/munged.pid" \
    --log-file="$dir/log/munged.log" --seed-file="$dir/munge/munged.seed" --force

  local cpus memory_mib ctld_port
  cpus=$(nproc)
  ctld_port=$(free_port)
  memory_mib=$(( $(awk '/^MemTotal:/ { print $2 }' /proc/meminfo) / 1024 * 8 / 10 ))   # leave a fifth to the OS
  # A job's default memory is its share per CPU (DefMemPerCPU), so that a task per CPU runs at once.
  cat > "$dir/slurm.conf" <<CONF
ClusterName=kernellab-ci
SlurmctldHost=localhost
SlurmctldPort=$ctld_port
SlurmdPort=$(free_port "$ctld_port")
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
AuthInfo=socket=$dir/munge/munge.socket
CredType=cred/munge
StateSaveLocation=$dir/state/ctld
SlurmdSpoolDir=$dir/state/d
SlurmctldPidFile=$dir/run/slurmctld.pid
SlurmdPidFile=$dir/run/slurmd.pid
SlurmctldLogFile=$dir/log/slurmctld.log
SlurmdLogFile=$dir/log/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
SchedulerType=sched/backfill
DefMemPerCPU=$((memory_mib / cpus))
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
MpiDefault=none
ReturnToService=2
SlurmdTimeout=60
InactiveLimit=0
KillWait=5
NodeName=localhost NodeAddr=127.0.0.1 CPUs=$cpus RealMemory=$memory_mib State=UNKNOWN
PartitionName=ci Nodes=localhost Default=YES MaxTime=INFINITE State=UP
CONF
  echo "export SLURM_CONF=$dir/slurm.conf" > "$dir/env"
  export SLURM_CONF=$dir/slurm.conf

  slurmctld -i
  slurmd -N localhost
  for _ in $(seq 60); do
    if scontrol show node localhost 2>/dev/null | grep -q 'State=IDLE'; then return 0; fi
    sleep 0.5
  done
  echo "cluster.sh: the node did not come up in 30 s; logs:" >&2
  tail -n 20 "$dir"/log/*.log >&2 || true
  return 1
}

stop() {
  local dir=$1 pids=() pid alive
  # Jobs first, while slurmd is there to end their steps; then the daemons.
  if [ -f "$dir/slurm.conf" ] && [ -f "$dir/run/slurmctld.pid" ]; then
    export SLURM_CONF=$dir/slurm.conf
    timeout 10 scancel --user="$(id -un)" 2>/dev/null || true
    for _ in $(seq 50); do
      [ -z "$(timeout 5 squeue -h -t PD,R,CG 2>/dev/null)" ] && break
      sleep 0.2
    done
  fi
  for daemon in slurmd slurmctld munged; do
    pid=$(cat "$dir/run/$daemon.pid" 2>/dev/null) || continue
    if kill "$pid" 2>/dev/null; then pids+=("$pid"); fi
  done
  for _ in $(seq 100); do
    alive=0
    for pid in "${pids[@]}"; do if kill -0 "$pid" 2>/dev/null; then alive=1; fi; done
    if [ "$alive" -eq 0 ]; then return 0; fi
    sleep 0.1
  done
  for pid in "${pids[@]}"; do kill -9 "$pid" 2>/dev/null || true; done
}

case "${1:-}" in
  check) check ;;
  start) [ $# -eq 2 ] || die "usage: cluster.sh start DIR"; check >&2 || exit 3; start "$2" ;;
  stop) [ $# -eq 2 ] || die "usage: cluster.sh stop DIR"; stop "$2" ;;
  *) die "usage: cluster.sh check | start DIR | stop DIR" ;;
esac
