#!/usr/bin/env bash
# The vitest suite under Node 24 (the Dockerfile's base image), with Node 24 from the npm registry
# (the `node` package), whatever Node runs CI. vitest's workers and the tests' child processes use
# process.execPath, so everything runs on Node 24. Needs node_modules (npm ci) and model-artifacts/.
set -euo pipefail
cd "$(dirname "$0")/../.."

NODE_SPEC=${NODE24_SPEC:-node@24}
node24() { timeout "${NODE24_TIMEOUT:-900}" npx --yes --package "$NODE_SPEC" -- node "$@"; }

version=$(node24 --version) || {
  echo "node24: FAIL: could not get $NODE_SPEC from the npm registry" >&2
  exit 1
}
echo "node --version: $version"
case "$version" in
  v24.*) ;;
  *)
    echo "node24: FAIL: expected Node 24, got $version" >&2
    exit 1
    ;;
esac
node24 -e 'console.log(`running vitest with ${process.execPath} (${process.version}, ${process.platform}-${process.arch})`)'
node24 node_modules/vitest/vitest.mjs run "$@"
