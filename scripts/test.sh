#!/usr/bin/env bash
# The test command (`npm test`, and CI through .ci/run). As root on a Debian machine it
# prepares everything: dependencies, host set-up, build, test images; then runs jest and
# ends with one summary line "N passed, N failed[, N skipped]". Arguments go to jest.
# Not as root, it skips the set-up it cannot do and runs the unit tests only
# (integration tests switch to the unprivileged test user, which needs root).
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$(pwd -P)
umask 022

warn() { echo "test: warning: $*" >&2; }
is_root=false
[ "$(id -u)" = 0 ] && is_root=true

# npm ci again only when the lock file changed since the last install (npm writes
# node_modules/.package-lock.json on every install).
# Not as root, skip the install script: it may need to apt-get build packages, and the
# build below runs it anyway and can fail without stopping the unit tests.
if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  if $is_root; then
    npm ci --no-audit --no-fund
  else
    npm ci --no-audit --no-fund --ignore-scripts
  fi
fi

jest_args=()
if $is_root; then
  bash scripts/setup-host.sh
  npm run --silent build
  export SIF_TEST_IMAGES=${SIF_TEST_IMAGES:-$repo/.cache/test-images}
  if [ ! -f "$SIF_TEST_IMAGES/python.sqfs" ]; then
    bash scripts/base-rootfs.sh "$SIF_TEST_IMAGES/python.sqfs"
  fi
  # OCI fixtures and local registries for the image builder's tests. The registries
  # live as long as this run; stopped quietly so the summary stays the last line.
  bash scripts/test-images.sh
  bash scripts/mpi-images.sh
  # The fake NVIDIA driver the --nv tests bind (cached under .cache/fake-nvidia).
  bash scripts/fake-nvidia.sh
  # The one-node SLURM cluster of the MPI tests (munged, slurmctld, slurmd), likewise.
  trap '{ bash scripts/test-registry.sh stop; bash scripts/test-slurm.sh stop; } >/dev/null 2>&1 || true' EXIT
  bash scripts/test-registry.sh start
  bash scripts/test-slurm.sh start
else
  warn "not root: skipping host set-up and test images; running unit tests only"
  npm run --silent build || warn "build failed; continuing with the unit tests"
  jest_args+=(--selectProjects unit)
fi

# jest prints its usual report on stderr and the machine-readable one to the file.
mkdir -p test-results
rm -f test-results/jest.json
status=0
NODE_OPTIONS=--experimental-vm-modules npx jest --json --outputFile=test-results/jest.json \
  "${jest_args[@]}" "$@" || status=$?

# Exactly one final line; fail on any failure, a jest crash or when nothing ran.
node --input-type=commonjs - "$status" <<'EOF'
const fs = require('node:fs');
const jestStatus = Number(process.argv[2]);
let r = { numPassedTests: 0, numFailedTests: 0, numPendingTests: 0, numTotalTests: 0 };
try {
  r = JSON.parse(fs.readFileSync('test-results/jest.json', 'utf8'));
} catch {
  console.error('test: error: jest wrote no test-results/jest.json');
}
const parts = [`${r.numPassedTests} passed`, `${r.numFailedTests} failed`];
if (r.numPendingTests > 0) parts.push(`${r.numPendingTests} skipped`);
console.log(parts.join(', '));
process.exit(jestStatus !== 0 || r.numFailedTests > 0 || r.numTotalTests === 0 ? 1 : 0);
EOF
