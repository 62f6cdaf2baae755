#!/usr/bin/env bash
# Browser tests of the JupyterLab extension: Galata/Playwright driving a real JupyterLab (with the
# jupyter_jobs server extension) in Debian's chromium.
#
# Assumes the Python package is installed in the active environment (pip install -e . or
# pip install .). Idempotent: installs the ui-tests npm packages when needed, builds the
# labextension when its build output is missing, starts its own JupyterLab on a free port in a
# temporary root directory, runs the tests, stops the server, and exits non-zero on failure.
# Screenshots land in test-artifacts/screenshots/ (the sidebar one goes to docs/screenshots/ when
# that file is missing, or always with UPDATE_SCREENSHOTS=1).
#
# Extra arguments go to `playwright test` (e.g. scripts/ui-tests.sh -g "cancel").
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
UI="$REPO/ui-tests"
ARTIFACTS="$REPO/test-artifacts"
CHROMIUM="${CHROMIUM_PATH:-/usr/bin/chromium}"
export PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1

if [ ! -x "$CHROMIUM" ]; then
  echo "ui-tests: $CHROMIUM not found; install Debian's chromium (apt-get install chromium)" >&2
  exit 1
fi
command -v jupyter >/dev/null || { echo "ui-tests: jupyter not on PATH (activate the venv)" >&2; exit 1; }

# 1. the labextension build (setup.py builds it for `pip install .`; an editable install may not)
if [ ! -f "$REPO/jupyter_jobs/labextension/package.json" ]; then
  echo "ui-tests: building the labextension"
  (cd "$REPO" && { [ -d node_modules ] || npm ci --no-audit --no-fund; } && npm run build:prod)
fi

# 2. ui-tests npm packages (galata, playwright) — npm ci only when the lock file changed
stamp="$UI/node_modules/.lock-stamp"
if [ ! -f "$stamp" ] || ! cmp -s "$UI/package-lock.json" "$stamp"; then
  echo "ui-tests: installing npm packages"
  (cd "$UI" && npm ci --no-audit --no-fund)
  cp "$UI/package-lock.json" "$stamp"
fi

# 3. a JupyterLab of our own on a free port, in a temporary root
WORK="$(mktemp -d -t jupyter-jobs-ui.XXXXXX)"
mkdir -p "$WORK/root" "$WORK/jobs" "$WORK/labextensions" "$ARTIFACTS/screenshots"
export JUPYTERLAB_GALATA_ROOT_DIR="$WORK/root"
export JUPYTER_JOBS_UI_JOB_ROOT="$WORK/jobs"
PORT="$(python -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
export JUPYTER_JOBS_UI_PORT="$PORT"
export JUPYTER_JOBS_UI_URL="http://127.0.0.1:$PORT"
# no Kubernetes credentials at start: tests/kernelspecs-follow.spec.ts makes them appear (fake API)
export JUPYTER_JOBS_UI_KUBE_DIR="$WORK/kube"
mkdir -p "$JUPYTER_JOBS_UI_KUBE_DIR"
export KUBECONFIG="$JUPYTER_JOBS_UI_KUBE_DIR/fake-kubeconfig.json"
unset KUBERNETES_SERVICE_HOST

# an editable install has no labextension in share/jupyter: point JupyterLab at the build output
if ! jupyter labextension list 2>&1 | grep -q "jupyter-jobs"; then
  ln -s "$REPO/jupyter_jobs/labextension" "$WORK/labextensions/jupyter-jobs"
  export JUPYTER_JOBS_UI_EXTRA_LABEXTENSIONS="$WORK/labextensions"
fi

SERVER_PID=""
cleanup() {
  if [ -n "$SERVER_PID" ] && kill -0 "$SERVER_PID" 2>/dev/null; then
    kill "$SERVER_PID" 2>/dev/null || true
    for _ in $(seq 1 50); do kill -0 "$SERVER_PID" 2>/dev/null || break; sleep 0.2; done
    kill -9 "$SERVER_PID" 2>/dev/null || true
  fi
  rm -rf "$WORK"
}
trap cleanup EXIT

echo "ui-tests: starting JupyterLab on port $PORT (root $WORK/root)"
(cd "$WORK/root" && exec jupyter lab --allow-root --no-browser \
  --config "$UI/jupyter_server_test_config.py") >"$ARTIFACTS/ui-tests-server.log" 2>&1 &
SERVER_PID=$!
for _ in $(seq 1 120); do
  if curl -fs "$JUPYTER_JOBS_UI_URL/api/status" >/dev/null 2>&1 \
    && curl -fs "$JUPYTER_JOBS_UI_URL/jupyter-jobs/api/backends" >/dev/null 2>&1; then
    break
  fi
  if ! kill -0 "$SERVER_PID" 2>/dev/null; then
    echo "ui-tests: JupyterLab exited; its log:" >&2
    tail -50 "$ARTIFACTS/ui-tests-server.log" >&2
    exit 1
  fi
  sleep 0.5
done
curl -fs "$JUPYTER_JOBS_UI_URL/jupyter-jobs/api/backends" >/dev/null || {
  echo "ui-tests: the jupyter_jobs server extension does not answer" >&2
  tail -50 "$ARTIFACTS/ui-tests-server.log" >&2
  exit 1
}

# 4. the tests
status=0
(cd "$UI" && CHROMIUM_PATH="$CHROMIUM" npx playwright test "$@") || status=$?

# the README's picture: copied when missing, or refreshed with UPDATE_SCREENSHOTS=1
if [ -f "$ARTIFACTS/screenshots/jobs-sidebar.png" ] \
  && { [ ! -f "$REPO/docs/screenshots/jobs-sidebar.png" ] || [ "${UPDATE_SCREENSHOTS:-0}" = 1 ]; }; then
  mkdir -p "$REPO/docs/screenshots"
  cp "$ARTIFACTS/screenshots/jobs-sidebar.png" "$REPO/docs/screenshots/jobs-sidebar.png"
fi

# 5. a closing line CI can read
node -e '
const fs = require("fs");
let r;
try { r = JSON.parse(fs.readFileSync(process.argv[1], "utf8")); } catch (e) { process.exit(0); }
const s = r.stats || {};
const failed = (s.unexpected || 0) + (s.flaky || 0);
console.log(`ui-tests: ${s.expected || 0} passed, ${failed} failed, ${s.skipped || 0} skipped`);
' "$ARTIFACTS/ui-tests-results.json" || true
exit "$status"
