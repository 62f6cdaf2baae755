#!/usr/bin/env bash
# Run every test of jupyter-jobs on this machine, installing what they need:
#   Debian's chromium, slurm-wlm (slurmctld, slurmd, slurm-client) and munge; a .venv with the package,
#   its test extras and the built JupyterLab extension; npm packages for jest and the browser tests.
#   openssh-server and sshfs for the two-host tests (scripts/sshfs-up.sh).
# Stages: linters, pytest (unit, integration, API fuzzing, a real one-node SLURM cluster, Kubernetes
# against a loopback fake API server, remote kernels, two servers on one job root and on two sshfs
# mounts as two hosts), jest, browser tests (JupyterLab in chromium).
# The SLURM cluster is started under $JUPYTER_JOBS_SLURM_BASE (default /tmp/jupyter-jobs-slurm), the
# sshd under $JUPYTER_JOBS_SSHFS_BASE (default /tmp/jupyter-jobs-sshfs); both are stopped at the end.
# Every stage runs even when an earlier one failed; the exit code says if any did.
set -uo pipefail
cd "$(dirname "$0")/.."
REPO=$(pwd)
export JUPYTER_JOBS_SLURM_BASE=${JUPYTER_JOBS_SLURM_BASE:-/tmp/jupyter-jobs-slurm}
export JUPYTER_JOBS_SSHFS_BASE=${JUPYTER_JOBS_SSHFS_BASE:-/tmp/jupyter-jobs-sshfs}
export PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1
export PIP_DISABLE_PIP_VERSION_CHECK=1
T0=$(date +%s)
passed=(); failed=()

say() { printf '\n=== [%4ss] %s\n' "$(( $(date +%s) - T0 ))" "$*"; }
stage() { # stage NAME CMD...: run a stage, remember how it went
  local name=$1; shift
  say "$name"
  if "$@"; then passed+=("$name"); else failed+=("$name"); echo "!!! stage failed: $name"; fi
}

# ------------------------------------------------------------------ system packages
# shellcheck source=scripts/lib.sh
. "$REPO/scripts/lib.sh"

say "system packages"
apt_install chromium slurmctld slurmd slurm-client munge || { echo "apt-get failed"; exit 1; }

# ------------------------------------------------------------------ python + npm
say "python environment (.venv) and the JupyterLab extension build"
if [ ! -x .venv/bin/python ]; then python3 -m venv .venv || exit 1; fi
# shellcheck disable=SC1091
. .venv/bin/activate
python -m pip install -q --upgrade pip >/dev/null
python -m pip install -q -e ".[test]" || { echo "pip install failed"; exit 1; }
# an editable install leaves the built extension in the tree: link it where JupyterLab looks
mkdir -p .venv/share/jupyter/labextensions && rm -rf .venv/share/jupyter/labextensions/jupyter-jobs
ln -s "$REPO/jupyter_jobs/labextension" .venv/share/jupyter/labextensions/jupyter-jobs \
  || { echo "linking the labextension failed"; exit 1; }
mkdir -p .venv/etc/jupyter/jupyter_server_config.d
cp jupyter-config/jupyter_server_config.d/jupyter_jobs.json .venv/etc/jupyter/jupyter_server_config.d/
[ -d node_modules ] || npm ci --no-audit --no-fund >/dev/null || { echo "npm ci failed"; exit 1; }
# (captured first: with pipefail, grep -q closing the pipe early would fail the check)
ext=$(jupyter server extension list 2>&1)
grep -q "jupyter_jobs.*OK" <<<"$ext" || { echo "$ext"; echo "server extension not loadable"; exit 1; }
ext=$(jupyter labextension list 2>&1)
grep -q "jupyter-jobs.*enabled.*OK" <<<"$ext" || { echo "$ext"; echo "labextension not installed"; exit 1; }

# ------------------------------------------------------------------ SLURM
say "one-node SLURM cluster at $JUPYTER_JOBS_SLURM_BASE"
cleanup() {
  bash "$REPO/scripts/slurm-down.sh" "$JUPYTER_JOBS_SLURM_BASE" >/dev/null 2>&1 || true
  bash "$REPO/scripts/sshfs-down.sh" "$JUPYTER_JOBS_SSHFS_BASE" >/dev/null 2>&1 || true
}
trap cleanup EXIT
# a fresh cluster every run: jobs saved by an earlier one must not occupy the node
bash scripts/slurm-down.sh "$JUPYTER_JOBS_SLURM_BASE" --purge >/dev/null 2>&1 || true
if bash scripts/slurm-up.sh "$JUPYTER_JOBS_SLURM_BASE"; then
  # shellcheck disable=SC1091
  . "$JUPYTER_JOBS_SLURM_BASE/env.sh"
  export SLURM_CONF
else
  echo "!!! the SLURM cluster did not start: SLURM tests will fail"
  failed+=("slurm cluster")
fi

# ------------------------------------------------------------------ two hosts sharing one home
say "sshd on 127.0.0.1 for the two-host sshfs mounts at $JUPYTER_JOBS_SSHFS_BASE"
if bash scripts/sshfs-up.sh "$JUPYTER_JOBS_SSHFS_BASE"; then
  # shellcheck disable=SC1091
  . "$JUPYTER_JOBS_SSHFS_BASE/env.sh"
else
  echo "!!! the sshd for the sshfs mounts did not start: the two-host tests will fail"
  failed+=("sshfs sshd")
fi

# ------------------------------------------------------------------ stages
lint_python() { ruff check jupyter_jobs tests benchmarks && ruff format --check jupyter_jobs tests benchmarks && mypy; }
stage "python linters (ruff, mypy)" lint_python
stage "typescript linters (prettier, eslint)" npm run -s lint
# three workers (pytest-xdist): the tests mostly wait on servers and jobs; the SLURM ones run one
# after the other on one worker (the "slurm" group of tests/conftest.py: they share the one node)
stage "pytest" python -m pytest -q -p no:cacheprovider --timeout 600 -o junit_family=xunit2 \
  -n 3 --dist loadgroup --durations=25 --junitxml=test-artifacts/pytest.xml
stage "jest" npm test --silent
stage "browser tests (JupyterLab in chromium)" bash scripts/ui-tests.sh

say "summary (${#passed[@]} stages passed, ${#failed[@]} failed, $(( $(date +%s) - T0 )) s)"
for s in "${passed[@]}"; do echo "  ok      $s"; done
for s in "${failed[@]}"; do echo "  FAILED  $s"; done
echo "stages: ${#passed[@]} passed, ${#failed[@]} failed"
[ ${#failed[@]} -eq 0 ]
