#!/usr/bin/env bash
# sshfs-down.sh [BASE_DIR] -- unmount every sshfs mount under BASE_DIR (those the tests left, e.g.
# after a killed pytest) and stop the sshd that sshfs-up.sh started (by the PID in its pid file).
set -uo pipefail
BASE=$(realpath -m "${1:-${JUPYTER_JOBS_SSHFS_BASE:-/tmp/jupyter-jobs-sshfs}}")
[ -f "$BASE/sshd_config" ] || { echo "no sshd in $BASE"; exit 0; }

alive() { # alive PIDFILE COMM (zombies count as dead: PID 1 here reaps late)
  local pid st; pid=$(cat "$1" 2>/dev/null) || return 1; [ -n "$pid" ] || return 1
  st=$(awk '{print $3}' "/proc/$pid/stat" 2>/dev/null) || return 1
  [ -n "$st" ] && [ "$st" != Z ] && [ "$(cat "/proc/$pid/comm" 2>/dev/null)" = "$2" ]
}

# Unmount first, deepest first: an sshfs whose server is gone would answer only with errors.
# /proc/self/mounts writes a space in a path as \040; printf %b turns it back.
mapfile -t mounts < <(awk -v base="$BASE/" '$3 == "fuse.sshfs" && index($2, base) == 1 { print $2 }' \
  /proc/self/mounts | while IFS= read -r m; do printf '%b\n' "$m"; done | sort -r)
for m in "${mounts[@]}"; do
  if timeout 10 fusermount3 -u -q "$m" 2>/dev/null || timeout 10 umount -l "$m"; then
    echo "unmounted $m"
  else
    echo "could not unmount $m"
  fi
done

if alive "$BASE/sshd.pid" sshd; then
  pid=$(cat "$BASE/sshd.pid"); kill -TERM "$pid"
  for ((i = 0; i < 50; i++)); do alive "$BASE/sshd.pid" sshd || break; sleep 0.1; done
  alive "$BASE/sshd.pid" sshd && { echo "SIGKILL sshd ($pid)"; kill -KILL "$pid"; }
  echo "stopped sshd ($pid)"
fi
rm -f "$BASE/sshd.pid"
