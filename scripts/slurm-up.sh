#!/usr/bin/env bash
# slurm-up.sh [BASE_DIR] -- install (if needed) and start a single-node SLURM 22.05
# cluster on Debian 12 without systemd, for jupyter-jobs' SLURM tests and for trying the
# SLURM backend on one machine. Idempotent: re-running with daemons up is a
# no-op (config changes restart them). Everything lives under BASE_DIR.
# Afterwards:  source BASE_DIR/env.sh   (sets SLURM_CONF) ; stop with slurm-down.sh BASE_DIR
#
# Knobs (environment):
#   SLURM_CPUS=N          CPUs advertised (default 4, at least nproc; > nproc enables config_overrides)
#   SLURM_FAKE_GPUS=N     fake GPUs as GRES gpu:N, CUDA_VISIBLE_DEVICES set in jobs (default 2, 0=off)
#   SLURM_PROCTRACK=linuxproc|cgroup  (default linuxproc; cgroup = v1 freezer, also kills setsid'd orphans)
#   SLURM_WITH_DBD=1      also run mariadb + slurmdbd so plain `sacct` works (default 0: use `sacct -c`)
#   SLURM_WITH_RESTD=1    also run slurmrestd (auth/jwt) on 127.0.0.1:$SLURM_RESTD_PORT as user 'slurm'
#   SLURM_CTLD_PORT=6817 SLURM_SLURMD_PORT=6818 SLURM_DBD_PORT=6819 SLURM_DB_PORT=3307 SLURM_RESTD_PORT=6820
#   SLURM_SKIP_INSTALL=1  never call apt-get
#   SLURM_UP_TIMEOUT=60   seconds to wait for the node to become usable
#   SLURM_UP_PROBE=1      run a trivial probe job before declaring the cluster ready (0 = skip)
set -euo pipefail

BASE=$(realpath -m "${1:-${JUPYTER_JOBS_SLURM_BASE:-/tmp/jupyter-jobs-slurm}}")
NODE=localhost
CLUSTER=jjtest
CPUS=${SLURM_CPUS:-$(( $(nproc) > 4 ? $(nproc) : 4 ))}
GPUS=${SLURM_FAKE_GPUS:-2}
PROCTRACK=${SLURM_PROCTRACK:-linuxproc}
WITH_DBD=${SLURM_WITH_DBD:-0}
WITH_RESTD=${SLURM_WITH_RESTD:-0}
CTLD_PORT=${SLURM_CTLD_PORT:-6817}; SLURMD_PORT=${SLURM_SLURMD_PORT:-6818}
DBD_PORT=${SLURM_DBD_PORT:-6819}; DB_PORT=${SLURM_DB_PORT:-3307}; RESTD_PORT=${SLURM_RESTD_PORT:-6820}
TIMEOUT=${SLURM_UP_TIMEOUT:-60}

ETC=$BASE/etc; CONF=$ETC/slurm.conf; MUNGE=$BASE/munge; SOCK=$MUNGE/munge.socket
RUN=$BASE/run; LOG=$BASE/log; STATE=$BASE/state; SPOOL=$BASE/spool/slurmd
export SLURM_CONF=$CONF
T0=$(date +%s.%N)
log() { awk -v a="$T0" -v b="$(date +%s.%N)" -v m="$*" 'BEGIN { printf "[slurm-up %6.2fs] %s\n", b - a, m }'; }
die() { log "ERROR: $*"; exit 1; }

# alive PIDFILE COMM: process in pidfile exists, is not a zombie and has the expected name
alive() {
  local pid st; pid=$(cat "$1" 2>/dev/null) || return 1; [ -n "$pid" ] || return 1
  st=$(awk '{print $3}' "/proc/$pid/stat" 2>/dev/null) || return 1
  [ -n "$st" ] && [ "$st" != Z ] && [ "$(cat "/proc/$pid/comm" 2>/dev/null)" = "$2" ]
}
wait_for() { # wait_for SECONDS CMD... : poll CMD every 0.1 s
  local end=$(( $(date +%s) + $1 )); shift
  until "$@" >/dev/null 2>&1; do [ "$(date +%s)" -lt "$end" ] || return 1; sleep 0.1; done
}

# ---------------------------------------------------------------- packages
install_pkgs() {
  local pkgs=(slurmctld slurmd slurm-client munge) missing=() p
  [ "$WITH_DBD" = 1 ] && pkgs+=(slurmdbd mariadb-server)
  [ "$WITH_RESTD" = 1 ] && pkgs+=(slurmrestd slurm-wlm-jwt-plugin curl)
  for p in "${pkgs[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed' || missing+=("$p")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  [ "${SLURM_SKIP_INSTALL:-0}" = 1 ] && die "missing packages: ${missing[*]}"
  log "apt-get install ${missing[*]}"
  local made_policy=0
  if [ ! -e /usr/sbin/policy-rc.d ]; then  # keep maintainer scripts from starting system daemons
    printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d; chmod +x /usr/sbin/policy-rc.d; made_policy=1
  fi
  local apt=(apt-get -q -o DPkg::Lock::Timeout=600)
  DEBIAN_FRONTEND=noninteractive "${apt[@]}" update >/dev/null \
    && DEBIAN_FRONTEND=noninteractive "${apt[@]}" install -y --no-install-recommends "${missing[@]}" >/dev/null \
    || { [ $made_policy = 1 ] && rm -f /usr/sbin/policy-rc.d; die "apt-get failed"; }
  [ $made_policy = 1 ] && rm -f /usr/sbin/policy-rc.d
  log "packages installed"
}

# ---------------------------------------------------------------- config
write_if_changed() { # write_if_changed FILE MODE  (content on stdin); returns 0 if changed
  local tmp; tmp=$(mktemp); cat > "$tmp"
  if [ -f "$1" ] && cmp -s "$tmp" "$1"; then rm -f "$tmp"; return 1; fi
  install -m "$2" "$tmp" "$1"; rm -f "$tmp"; return 0
}

make_config() {
  mkdir -p "$ETC" "$MUNGE" "$RUN" "$LOG" "$STATE" "$SPOOL" "$BASE/dev"
  chmod 0755 "$BASE" "$ETC" "$RUN" "$LOG" "$BASE/dev" "$BASE/spool"
  local mem; mem=$(slurmd -C | sed -n 's/.*RealMemory=\([0-9]*\).*/\1/p')
  local extra="" node_gres=""
  if [ "$CPUS" -gt "$(nproc)" ]; then extra+="SlurmdParameters=config_overrides"$'\n'; fi
  if [ "$PROCTRACK" = cgroup ]; then
    if mkdir /sys/fs/cgroup/freezer/.slurm-probe 2>/dev/null; then rmdir /sys/fs/cgroup/freezer/.slurm-probe
    else log "cgroup v1 freezer not writable -> proctrack/linuxproc"; PROCTRACK=linuxproc; fi
  fi
  if [ "$GPUS" -gt 0 ]; then
    extra+="GresTypes=gpu"$'\n'; node_gres=" Gres=gpu:$GPUS"
    local i; for ((i = 0; i < GPUS; i++)); do  # gres.conf File= must be a char/block device
      [ -e "$BASE/dev/nvidia$i" ] || mknod -m 666 "$BASE/dev/nvidia$i" c 1 3 2>/dev/null \
        || ln -sf /dev/null "$BASE/dev/nvidia$i"
    done
    printf 'AutoDetect=off\nNodeName=%s Name=gpu File=%s/dev/nvidia[0-%d]\n' "$NODE" "$BASE" $((GPUS - 1)) \
      | write_if_changed "$ETC/gres.conf" 0644 || true
  else rm -f "$ETC/gres.conf"; fi
  if [ "$PROCTRACK" = cgroup ]; then
    printf 'CgroupPlugin=cgroup/v1\nCgroupMountpoint=/sys/fs/cgroup\nCgroupAutomount=no\nConstrainCores=no\nConstrainRAMSpace=no\nConstrainDevices=no\n' \
      | write_if_changed "$ETC/cgroup.conf" 0644 || true
  else rm -f "$ETC/cgroup.conf"; fi
  if [ "$WITH_DBD" = 1 ]; then
    extra+="AccountingStorageType=accounting_storage/slurmdbd
AccountingStorageHost=localhost
AccountingStoragePort=$DBD_PORT
AccountingStoragePass=$SOCK
JobAcctGatherType=jobacct_gather/linux
"
  else
    extra+="AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/none
"
  fi
  if [ "$WITH_RESTD" = 1 ]; then
    [ -s "$ETC/jwt_hs256.key" ] || { dd if=/dev/urandom of="$ETC/jwt_hs256.key" bs=32 count=1 2>/dev/null; chmod 0600 "$ETC/jwt_hs256.key"; }
    extra+="AuthAltTypes=auth/jwt
AuthAltParameters=jwt_key=$ETC/jwt_hs256.key
"
  fi
  write_if_changed "$CONF" 0644 <<EOF || true
# generated by slurm-up.sh -- single node, no systemd
ClusterName=$CLUSTER
SlurmctldHost=$NODE
SlurmUser=root
SlurmdUser=root
SlurmctldPort=$CTLD_PORT
SlurmdPort=$SLURMD_PORT
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$SOCK
StateSaveLocation=$STATE
SlurmdSpoolDir=$SPOOL
SlurmctldPidFile=$RUN/slurmctld.pid
SlurmdPidFile=$RUN/slurmd.pid
SlurmctldLogFile=$LOG/slurmctld.log
SlurmdLogFile=$LOG/slurmd.log
SlurmctldDebug=info
SlurmdDebug=info
ProctrackType=proctrack/$PROCTRACK
TaskPlugin=task/none
MpiDefault=none
SwitchType=switch/none
MailProg=/bin/true
SchedulerType=sched/backfill
SchedulerParameters=batch_sched_delay=0
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
ReturnToService=2
MinJobAge=300
EnforcePartLimits=ALL
KillWait=5
JobCompType=jobcomp/filetxt
JobCompLoc=$LOG/jobcomp.txt
$extra
NodeName=$NODE NodeAddr=127.0.0.1 CPUs=$CPUS RealMemory=$mem$node_gres State=UNKNOWN
PartitionName=debug Nodes=$NODE Default=YES MaxTime=INFINITE State=UP
PartitionName=short Nodes=$NODE MaxTime=00:10:00 State=UP
EOF
  { cat "$CONF"; cat "$ETC/gres.conf" "$ETC/cgroup.conf" 2>/dev/null || true; } | md5sum > "$ETC/.config.wanted"
}

# ---------------------------------------------------------------- munge
start_munge() {
  if alive "$MUNGE/munged.pid" munged && munge -n -S "$SOCK" | unmunge -S "$SOCK" >/dev/null 2>&1; then return; fi
  chown munge:munge "$MUNGE"; chmod 0755 "$MUNGE"   # socket dir needs o+x
  if [ ! -s "$MUNGE/munge.key" ]; then dd if=/dev/urandom of="$MUNGE/munge.key" bs=1 count=1024 2>/dev/null; fi
  chown munge:munge "$MUNGE/munge.key"; chmod 0400 "$MUNGE/munge.key"
  rm -f "$SOCK" "$SOCK.lock"
  su -s /bin/sh munge -c "munged --socket=$SOCK --key-file=$MUNGE/munge.key --pid-file=$MUNGE/munged.pid \
      --log-file=$MUNGE/munged.log --seed-file=$MUNGE/munged.seed"
  wait_for 10 sh -c "munge -n -S '$SOCK' | unmunge -S '$SOCK'" || die "munged did not start ($MUNGE/munged.log)"
  log "munged up (pid $(cat "$MUNGE/munged.pid"))"
}

# ---------------------------------------------------------------- mariadb + slurmdbd
start_dbd() {
  local DB=$BASE/mysql
  if ! alive "$DB/mysqld.pid" mariadbd; then
    mkdir -p "$DB"
    [ -d "$DB/data/mysql" ] || mariadb-install-db --no-defaults --datadir="$DB/data" --user=root \
        --auth-root-authentication-method=normal --skip-test-db > "$LOG/mariadb-install.log" 2>&1
    ( setsid mariadbd --no-defaults --datadir="$DB/data" --user=root --socket="$DB/mysqld.sock" \
        --port="$DB_PORT" --bind-address=127.0.0.1 --pid-file="$DB/mysqld.pid" --log-error="$LOG/mariadb.err" \
        --innodb-buffer-pool-size=64M --innodb-lock-wait-timeout=900 --skip-name-resolve \
        </dev/null >/dev/null 2>&1 & )
    wait_for 30 mariadb-admin --no-defaults -uroot --socket="$DB/mysqld.sock" ping || die "mariadb did not start"
    mariadb --no-defaults -uroot --socket="$DB/mysqld.sock" -e "
      CREATE USER IF NOT EXISTS 'slurm'@'127.0.0.1' IDENTIFIED BY 'slurmpw';
      GRANT ALL ON slurm_acct_db.* TO 'slurm'@'127.0.0.1';"
    log "mariadb up"
  fi
  local alt=""; [ "$WITH_RESTD" = 1 ] && alt="AuthAltTypes=auth/jwt
AuthAltParameters=jwt_key=$ETC/jwt_hs256.key"
  write_if_changed "$ETC/slurmdbd.conf" 0600 <<EOF || true
AuthType=auth/munge
AuthInfo=socket=$SOCK
$alt
DbdHost=localhost
DbdPort=$DBD_PORT
SlurmUser=root
LogFile=$LOG/slurmdbd.log
PidFile=$RUN/slurmdbd.pid
StorageType=accounting_storage/mysql
StorageHost=127.0.0.1
StoragePort=$DB_PORT
StorageUser=slurm
StoragePass=slurmpw
StorageLoc=slurm_acct_db
EOF
  if ! alive "$RUN/slurmdbd.pid" slurmdbd; then
    slurmdbd   # no -f option: reads slurmdbd.conf from the directory of $SLURM_CONF
    wait_for 30 sacctmgr -n list cluster || die "slurmdbd did not answer ($LOG/slurmdbd.log)"
    log "slurmdbd up"
  fi
  sacctmgr -n -P list cluster format=cluster | grep -qx "$CLUSTER" || sacctmgr -i add cluster "$CLUSTER" >/dev/null
}

# ---------------------------------------------------------------- slurmctld + slurmd
stop_pid() { # stop_pid PIDFILE COMM : SIGTERM, wait up to 20 s (zombie = gone), then SIGKILL
  alive "$1" "$2" || return 0
  local pid i; pid=$(cat "$1"); kill -TERM "$pid"
  for ((i = 0; i < 200; i++)); do alive "$1" "$2" || return 0; sleep 0.1; done
  kill -KILL "$pid"
}

node_state() { sinfo -h -n "$NODE" -o %T 2>/dev/null | head -1; }

start_slurm() {
  local restart=$1
  if [ "$restart" = 1 ]; then
    log "config changed -> restarting slurmd/slurmctld"
    stop_pid "$RUN/slurmd.pid" slurmd; stop_pid "$RUN/slurmctld.pid" slurmctld
  fi
  if ! alive "$RUN/slurmctld.pid" slurmctld; then
    slurmctld -f "$CONF" || die "slurmctld failed ($LOG/slurmctld.log)"
  fi
  if ! alive "$RUN/slurmd.pid" slurmd; then
    slurmd -f "$CONF" -N "$NODE" || die "slurmd failed ($LOG/slurmd.log)"
  fi
  cp "$ETC/.config.wanted" "$ETC/.config.applied"
  local end=$(( $(date +%s) + TIMEOUT )) st
  while :; do
    st=$(node_state)
    case "$st" in
      idle|mixed|allocated|completing) break ;;
      *drain*|down*|drng) scontrol update nodename="$NODE" state=resume >/dev/null 2>&1 || true ;;
    esac
    [ "$(date +%s)" -lt "$end" ] || die "node state '$st' after ${TIMEOUT}s (see $LOG)"
    sleep 0.1
  done
  log "slurmctld pid $(cat "$RUN/slurmctld.pid"), slurmd pid $(cat "$RUN/slurmd.pid"), node $NODE: $st"
}

# ---------------------------------------------------------------- slurmrestd
start_restd() {
  if alive "$RUN/slurmrestd.pid" slurmrestd; then return; fi
  touch "$LOG/slurmrestd.log"; chown slurm "$LOG/slurmrestd.log"
  # must not run as root/SlurmUser; openapi/dbv0.0.38 fatals without slurmdbd, so load only v0.0.38
  local plugins=openapi/v0.0.38; [ "$WITH_DBD" = 1 ] && plugins=openapi/v0.0.38,openapi/dbv0.0.38
  su -s /bin/sh slurm -c "SLURM_CONF=$CONF SLURM_JWT=daemon setsid slurmrestd -a rest_auth/jwt -s $plugins \
      127.0.0.1:$RESTD_PORT </dev/null >>$LOG/slurmrestd.log 2>&1 & echo \$!" > "$RUN/slurmrestd.pid"
  local tok; tok=$(scontrol token username=root lifespan=300 | cut -d= -f2)
  wait_for 15 curl -sf -H "X-SLURM-USER-NAME: root" -H "X-SLURM-USER-TOKEN: $tok" \
      "http://127.0.0.1:$RESTD_PORT/slurm/v0.0.38/ping" || die "slurmrestd not answering ($LOG/slurmrestd.log)"
  log "slurmrestd up on 127.0.0.1:$RESTD_PORT (pid $(cat "$RUN/slurmrestd.pid"))"
}

# ---------------------------------------------------------------- main
install_pkgs
make_config
need_restart=0   # restart running daemons only if the config they run with changed
if ! cmp -s "$ETC/.config.wanted" "$ETC/.config.applied" 2>/dev/null \
   && { alive "$RUN/slurmctld.pid" slurmctld || alive "$RUN/slurmd.pid" slurmd; }; then need_restart=1; fi
start_munge
[ "$WITH_DBD" = 1 ] && start_dbd
start_slurm "$need_restart"
[ "$WITH_RESTD" = 1 ] && start_restd
if [ "${SLURM_UP_PROBE:-1}" = 1 ]; then
  # sinfo says idle within ~0.2 s, but slurmctld runs its first scheduling pass only ~3 s after
  # start; a probe job proves scheduler + munge creds + slurmd launch path all work.
  probe=$(cd / && sbatch --parsable -J slurm-up-probe -o /dev/null --wrap true) || die "sbatch failed"
  end=$(( $(date +%s) + TIMEOUT ))
  until [ "$(scontrol show job "$probe" -o 2>/dev/null | grep -o 'JobState=[A-Z_]*')" = JobState=COMPLETED ]; do
    [ "$(date +%s)" -lt "$end" ] || die "probe job $probe did not complete (see $LOG)"; sleep 0.1
  done
  log "probe job $probe completed"
fi
printf 'export SLURM_CONF=%s\n' "$CONF" > "$BASE/env.sh"
log "ready: source $BASE/env.sh"
