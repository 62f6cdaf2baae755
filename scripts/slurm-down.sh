#!/usr/bin/env bash
# slurm-down.sh [BASE_DIR] [--purge] -- cancel all jobs, stop every daemon slurm-up.sh
# started (by the PIDs in its pid files only), optionally delete BASE_DIR.
set -uo pipefail
BASE=$(realpath -m "${1:-${JUPYTER_JOBS_SLURM_BASE:-/tmp/jupyter-jobs-slurm}}"); PURGE=${2:-}
RUN=$BASE/run; export SLURM_CONF=$BASE/etc/slurm.conf
[ -f "$SLURM_CONF" ] || { echo "no cluster in $BASE"; exit 0; }

alive() { # alive PIDFILE COMM (zombies count as dead: PID 1 here reaps late)
  local pid st; pid=$(cat "$1" 2>/dev/null) || return 1; [ -n "$pid" ] || return 1
  st=$(awk '{print $3}' "/proc/$pid/stat" 2>/dev/null) || return 1
  [ -n "$st" ] && [ "$st" != Z ] && [ "$(cat "/proc/$pid/comm" 2>/dev/null)" = "$2" ]
}
stop_pid() { # stop_pid PIDFILE COMM
  alive "$1" "$2" || { rm -f "$1"; return 0; }
  local pid i; pid=$(cat "$1"); kill -TERM "$pid"
  for ((i = 0; i < 200; i++)); do alive "$1" "$2" || break; sleep 0.1; done
  alive "$1" "$2" && { echo "SIGKILL $2 ($pid)"; kill -KILL "$pid"; }
  rm -f "$1"; echo "stopped $2 ($pid)"
}

if alive "$RUN/slurmctld.pid" slurmctld; then
  jobs=$(squeue -h -o %i 2>/dev/null | tr '\n' ' ')
  if [ -n "${jobs// }" ]; then
    echo "cancelling jobs: $jobs"; scancel $jobs 2>/dev/null
    for ((i = 0; i < 150; i++)); do [ -z "$(squeue -h -o %i 2>/dev/null)" ] && break; sleep 0.1; done
  fi
fi
# wait for job step daemons (their sockets live in SlurmdSpoolDir) before stopping slurmd
for ((i = 0; i < 100; i++)); do compgen -G "$BASE/spool/slurmd/localhost_*" >/dev/null || break; sleep 0.1; done

stop_pid "$RUN/slurmrestd.pid" slurmrestd
stop_pid "$RUN/slurmd.pid" slurmd
stop_pid "$RUN/slurmctld.pid" slurmctld      # SIGTERM: state is saved for the next start
stop_pid "$RUN/slurmdbd.pid" slurmdbd
stop_pid "$BASE/mysql/mysqld.pid" mariadbd
stop_pid "$BASE/munge/munged.pid" munged
rm -f "$BASE/etc/.config.applied"

if [ "$PURGE" = --purge ]; then
  [ -d /sys/fs/cgroup/freezer/slurm_localhost ] &&   # only exists with SLURM_PROCTRACK=cgroup
    find /sys/fs/cgroup/freezer/slurm_localhost -depth -type d -exec rmdir {} \; 2>/dev/null
  rm -rf "$BASE" && echo "removed $BASE"
fi
