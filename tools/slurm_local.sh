#!/usr/bin/env bash
# A private single-node SLURM cluster on localhost, for testing batch execution
# (e.g. `toil-cwl-runner --batchSystem slurm`) on one machine.
#
# Usage:
#   tools/slurm_local.sh start  DIR   start munged, slurmctld and slurmd (idempotent)
#   tools/slurm_local.sh status DIR   show the daemons and the node state (exit 0 when all run)
#   tools/slurm_local.sh stop   DIR   cancel the cluster's jobs and stop the three daemons
#
# Then point the SLURM client commands at the cluster:
#   export SLURM_CONF=DIR/etc/slurm.conf
#   sinfo; srun hostname
#   TOIL_SLURM_ARGS="--export=ALL" toil-cwl-runner --batchSystem slurm ...
#
# Everything lives in DIR: slurm.conf, the munge key and socket, spool, state, logs and
# pid files. The cluster uses its own munged (socket in DIR), so it neither needs nor
# disturbs a system-wide munge or SLURM installation; `stop` cancels this cluster's jobs
# and signals only the processes named in DIR's pid files. Must run as root
# (SlurmUser=root; slurmd runs jobs as their owner). Needs the Debian packages
# slurm-wlm and munge. slurm.conf is written on the first start (CPUs and memory of
# this machine as `slurmd -C` sees them) and kept afterwards, so it can be edited.
#
# Environment:
#   SLURM_LOCAL_CTLD_PORT    slurmctld port (default 6817), used when slurm.conf is written
#   SLURM_LOCAL_SLURMD_PORT  slurmd port (default 6818), likewise
#   SLURM_LOCAL_TIMEOUT      seconds to wait for each daemon (default 30)

set -euo pipefail

CTLD_PORT="${SLURM_LOCAL_CTLD_PORT:-6817}"
SLURMD_PORT="${SLURM_LOCAL_SLURMD_PORT:-6818}"
TIMEOUT="${SLURM_LOCAL_TIMEOUT:-30}"

die() {
    echo "slurm_local: error: $*" >&2
    exit 1
}

say() {
    echo "slurm_local: $*"
}

usage() {
    # The comment block at the top of this file, without the comment signs.
    awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0"
    exit 2
}

# Full path of a daemon or client program, or a clear error naming the package.
need() {
    local prog=$1 package=$2 path
    path=$(PATH="$PATH:/usr/sbin:/sbin" command -v "$prog" 2>/dev/null) ||
        die "'$prog' not found; install it with: apt-get install $package"
    echo "$path"
}

# Set the paths of DIR's layout (DIR must exist for realpath; callers create it first).
layout() {
    DIR=$(realpath "$1")
    CONF="$DIR/etc/slurm.conf"
    MUNGE_DIR="$DIR/munge"
    MUNGE_KEY="$MUNGE_DIR/munge.key"
    MUNGE_SOCKET="$MUNGE_DIR/munge.socket"
    MUNGE_PID="$DIR/run/munged.pid"
    CTLD_PID="$DIR/run/slurmctld.pid"
    SLURMD_PID="$DIR/run/slurmd.pid"
}

# True when the process is alive (not a zombie) and its command is the given program.
proc_alive() {
    local pid=$1 prog=$2 comm state
    [[ "$pid" =~ ^[0-9]+$ ]] || return 1
    comm=$(cat "/proc/$pid/comm" 2>/dev/null) || return 1
    state=$(awk '/^State:/ {print $2}' "/proc/$pid/status" 2>/dev/null) || return 1
    # A zombie has exited already.
    [[ "$state" != "Z" && "$comm" == "$prog" ]]
}

# True when the pid file names a live process of the given program. Daemons remove
# their pid files when they exit, so a vanished file means "not running".
pid_alive() {
    local pidfile=$1 prog=$2 pid
    pid=$(cat "$pidfile" 2>/dev/null) || return 1
    proc_alive "$pid" "$prog"
}

# Wait until a command succeeds, or fail after TIMEOUT seconds showing a log file.
wait_for() {
    local what=$1 log=$2
    shift 2
    local i
    for ((i = 0; i < TIMEOUT * 4; i++)); do
        if "$@" >/dev/null 2>&1; then
            return 0
        fi
        sleep 0.25
    done
    echo "slurm_local: error: $what did not come up within ${TIMEOUT} s; last lines of $log:" >&2
    tail -n 20 "$log" >&2 2>/dev/null || true
    exit 1
}

port_in_use() {
    # ss prints a header line plus one line per listening socket on the port.
    command -v ss >/dev/null 2>&1 || return 1
    [[ $(ss -Hltn "sport = :$1" 2>/dev/null | wc -l) -gt 0 ]]
}

write_conf() {
    local hw cpus topology mem_mb
    # The node as slurmd itself sees it (not `nproc`, which obeys OMP_NUM_THREADS):
    # "NodeName=... CPUs=2 Boards=1 SocketsPerBoard=1 CoresPerSocket=2 ThreadsPerCore=1 RealMemory=24105"
    hw=$("$(need slurmd slurm-wlm)" -C | head -n 1)
    cpus=$(sed -n 's/.* CPUs=\([0-9]*\).*/\1/p' <<<"$hw")
    [[ -n "$cpus" ]] || die "cannot read the CPU count from 'slurmd -C': $hw"
    topology=$(grep -o '\(Boards\|SocketsPerBoard\|CoresPerSocket\|ThreadsPerCore\)=[0-9]*' <<<"$hw" | tr '\n' ' ')
    # Leave 5 % of the memory to the system; slurmd drains a node that reports less
    # memory than configured.
    mem_mb=$(awk '/^MemTotal:/ {printf "%d", $2 / 1024 * 0.95}' /proc/meminfo)
    cat >"$CONF" <<EOF
# Private single-node cluster written by tools/slurm_local.sh; all paths inside $DIR.
ClusterName=lofarhires-local
SlurmctldHost=localhost
SlurmctldPort=$CTLD_PORT
SlurmdPort=$SLURMD_PORT
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$MUNGE_SOCKET
StateSaveLocation=$DIR/state
SlurmdSpoolDir=$DIR/spool/slurmd
SlurmctldPidFile=$CTLD_PID
SlurmdPidFile=$SLURMD_PID
SlurmctldLogFile=$DIR/log/slurmctld.log
SlurmdLogFile=$DIR/log/slurmd.log
SlurmctldDebug=info
SlurmdDebug=info
# No cgroups: plain process tracking and no task binding work in containers too.
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
MpiDefault=none
MailProg=/bin/true
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
ReturnToService=2
# Keep finished jobs visible to scontrol for 5 minutes (no accounting database).
MinJobAge=300
InactiveLimit=0
KillWait=5
SlurmctldTimeout=60
SlurmdTimeout=60
NodeName=localhost NodeAddr=127.0.0.1 CPUs=$cpus ${topology}RealMemory=$mem_mb State=UNKNOWN
PartitionName=debug Nodes=localhost Default=YES MaxTime=INFINITE State=UP
EOF
}

start_munge() {
    local munged mungekey
    munged=$(need munged munge)
    if pid_alive "$MUNGE_PID" munged; then
        say "munged already running (pid $(<"$MUNGE_PID"))"
        return
    fi
    mkdir -p "$MUNGE_DIR"
    chmod 0700 "$MUNGE_DIR"
    if [[ ! -s "$MUNGE_KEY" ]]; then
        mungekey=$(need mungekey munge)
        "$mungekey" --create --keyfile="$MUNGE_KEY"
        chmod 0400 "$MUNGE_KEY"
    fi
    rm -f "$MUNGE_SOCKET" "$MUNGE_SOCKET.lock"
    # --force: munged runs as root here, and DIR may sit below a directory that others
    # cannot enter (e.g. a pytest tmp dir); only root uses this socket.
    "$munged" --force --socket="$MUNGE_SOCKET" --key-file="$MUNGE_KEY" \
        --pid-file="$MUNGE_PID" --log-file="$DIR/log/munged.log" \
        --seed-file="$MUNGE_DIR/munged.seed" ||
        die "munged failed to start; see $DIR/log/munged.log"
    wait_for munged "$DIR/log/munged.log" test -S "$MUNGE_SOCKET"
    say "munged started (pid $(<"$MUNGE_PID"))"
}

start_slurmctld() {
    local slurmctld scontrol
    slurmctld=$(need slurmctld slurm-wlm)
    scontrol=$(need scontrol slurm-wlm)
    if pid_alive "$CTLD_PID" slurmctld; then
        say "slurmctld already running (pid $(<"$CTLD_PID"))"
        return
    fi
    port_in_use "$CTLD_PORT" &&
        die "port $CTLD_PORT is in use (another slurmctld?); set SLURM_LOCAL_CTLD_PORT"
    # -i: ignore state files of an earlier run that do not match this configuration.
    SLURM_CONF="$CONF" "$slurmctld" -f "$CONF" -i ||
        die "slurmctld failed to start; see $DIR/log/slurmctld.log"
    wait_for slurmctld "$DIR/log/slurmctld.log" env SLURM_CONF="$CONF" "$scontrol" ping
    # scontrol ping succeeds on a down controller too; require "UP".
    wait_for slurmctld "$DIR/log/slurmctld.log" \
        bash -c "SLURM_CONF='$CONF' '$scontrol' ping | grep -q UP"
    say "slurmctld started (pid $(<"$CTLD_PID"))"
}

start_slurmd() {
    local slurmd
    slurmd=$(need slurmd slurm-wlm)
    if pid_alive "$SLURMD_PID" slurmd; then
        say "slurmd already running (pid $(<"$SLURMD_PID"))"
        return
    fi
    port_in_use "$SLURMD_PORT" &&
        die "port $SLURMD_PORT is in use (another slurmd?); set SLURM_LOCAL_SLURMD_PORT"
    SLURM_CONF="$CONF" "$slurmd" -f "$CONF" -N localhost ||
        die "slurmd failed to start; see $DIR/log/slurmd.log"
    wait_for slurmd "$DIR/log/slurmd.log" pid_alive "$SLURMD_PID" slurmd
    say "slurmd started (pid $(<"$SLURMD_PID"))"
}

node_state() {
    SLURM_CONF="$CONF" sinfo -h -n localhost -o %T 2>/dev/null | head -n 1
}

wait_node_ready() {
    local i state=""
    for ((i = 0; i < TIMEOUT * 4; i++)); do
        state=$(node_state)
        case "$state" in
            idle* | mixed* | allocated* | completing*)
                return 0
                ;;
            drain* | down*)
                # A node left down/drained by an earlier run of this cluster.
                SLURM_CONF="$CONF" scontrol update nodename=localhost state=resume >/dev/null 2>&1 || true
                ;;
        esac
        sleep 0.25
    done
    echo "slurm_local: error: node localhost is '$state', not idle, after ${TIMEOUT} s" >&2
    SLURM_CONF="$CONF" scontrol show node localhost >&2 2>/dev/null || true
    tail -n 20 "$DIR/log/slurmd.log" >&2 2>/dev/null || true
    exit 1
}

cmd_start() {
    [[ $(id -u) -eq 0 ]] || die "must run as root (the cluster runs with SlurmUser=root)"
    need slurmctld slurm-wlm >/dev/null
    need slurmd slurm-wlm >/dev/null
    need munged munge >/dev/null
    mkdir -p "$1"
    layout "$1"
    # Unix socket paths are limited to 107 bytes.
    [[ ${#MUNGE_SOCKET} -lt 100 ]] || die "DIR path too long for a unix socket: $MUNGE_SOCKET"
    mkdir -p "$DIR/etc" "$DIR/run" "$DIR/log" "$DIR/state" "$DIR/spool/slurmd"
    if [[ ! -s "$CONF" ]]; then
        write_conf
        say "wrote $CONF"
    fi
    # The ports of an existing slurm.conf win over the environment.
    CTLD_PORT=$(sed -n 's/^SlurmctldPort=//p' "$CONF")
    SLURMD_PORT=$(sed -n 's/^SlurmdPort=//p' "$CONF")
    start_munge
    start_slurmctld
    start_slurmd
    wait_node_ready
    say "cluster up: node localhost $(node_state), $(SLURM_CONF="$CONF" sinfo -h -n localhost -o %c) CPUs"
    echo "export SLURM_CONF=$CONF"
}

# Stop one daemon by its pid file: TERM, wait, then KILL.
stop_daemon() {
    local pidfile=$1 prog=$2 pid i
    pid=$(cat "$pidfile" 2>/dev/null) || pid=""
    if ! proc_alive "$pid" "$prog"; then
        rm -f "$pidfile"
        say "$prog not running"
        return
    fi
    kill -TERM "$pid" 2>/dev/null || true
    for ((i = 0; i < TIMEOUT * 4; i++)); do
        proc_alive "$pid" "$prog" || break
        sleep 0.25
    done
    if proc_alive "$pid" "$prog"; then
        say "$prog (pid $pid) ignored SIGTERM; sending SIGKILL"
        kill -KILL "$pid" 2>/dev/null || true
        sleep 0.5
    fi
    rm -f "$pidfile"
    say "$prog stopped (pid $pid)"
}

cmd_stop() {
    [[ -d "$1" ]] || die "$1 is not a directory"
    layout "$1"
    if pid_alive "$CTLD_PID" slurmctld; then
        # Jobs of this private cluster only: their steps would outlive slurmd.
        SLURM_CONF="$CONF" scancel --full --quiet --user="$(id -un)" 2>/dev/null || true
        sleep 1
    fi
    stop_daemon "$SLURMD_PID" slurmd
    stop_daemon "$CTLD_PID" slurmctld
    stop_daemon "$MUNGE_PID" munged
}

cmd_status() {
    [[ -d "$1" ]] || die "$1 is not a directory"
    layout "$1"
    local ok=0 prog pidfile
    for prog in munged slurmctld slurmd; do
        case $prog in
            munged) pidfile=$MUNGE_PID ;;
            slurmctld) pidfile=$CTLD_PID ;;
            slurmd) pidfile=$SLURMD_PID ;;
        esac
        if pid_alive "$pidfile" "$prog"; then
            say "$prog running (pid $(<"$pidfile"))"
        else
            say "$prog not running"
            ok=1
        fi
    done
    if pid_alive "$CTLD_PID" slurmctld; then
        SLURM_CONF="$CONF" sinfo || true
    fi
    echo "export SLURM_CONF=$CONF"
    return $ok
}

[[ $# -eq 2 ]] || usage
case "$1" in
    start) cmd_start "$2" ;;
    stop) cmd_stop "$2" ;;
    status) cmd_status "$2" ;;
    *) usage ;;
esac
