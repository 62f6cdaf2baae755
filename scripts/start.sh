#!/usr/bin/env bash
# Set up jupyter-jobs in ./.venv (first run only) and start JupyterLab with it.
# Embedded defaults: the local backend and SQLite under <jupyter data dir>/jobs. Extra arguments go to
# `jupyter lab`, e.g. `bash scripts/start.sh --port 9999`.
set -euo pipefail
cd "$(dirname "$0")/.."
REPO=$(pwd)
PY=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  echo "jupyter-jobs: creating .venv"
  "$PY" -m venv .venv
fi
# shellcheck disable=SC1091
. .venv/bin/activate
if ! python -c "import jupyter_jobs, jupyterlab" 2>/dev/null \
   || [ ! -f jupyter_jobs/labextension/package.json ] \
   || [ "${JUPYTER_JOBS_REINSTALL:-0}" = 1 ]; then
  echo "jupyter-jobs: installing (this builds the JupyterLab extension with npm; about 2 minutes)"
  python -m pip install -q --upgrade pip
  python -m pip install -q "jupyterlab>=4.6,<5"
  python -m pip install -q -e "$REPO"
  # an editable install leaves the built extension in the tree: link it where JupyterLab looks
  # (what the deprecated `jupyter labextension develop` did); a rebuild shows at the next reload
  ext_dir=.venv/share/jupyter/labextensions
  mkdir -p "$ext_dir" && rm -rf "$ext_dir/jupyter-jobs"
  ln -s "$REPO/jupyter_jobs/labextension" "$ext_dir/jupyter-jobs"
  mkdir -p .venv/etc/jupyter/jupyter_server_config.d
  cp jupyter-config/jupyter_server_config.d/jupyter_jobs.json .venv/etc/jupyter/jupyter_server_config.d/
fi
args=()
[ "$(id -u)" = 0 ] && args+=(--allow-root)
exec jupyter lab "${args[@]}" "$@"
