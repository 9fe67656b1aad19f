#!/usr/bin/env bash
# Production bundle smoke test: the runtime stage of the Dockerfile, without Docker. In a clean temp
# folder: package.json + package-lock.json, `npm ci --omit=dev`, the compiled dist/ (built afresh, so no
# stale files from an old dist/) and model-artifacts/. Then `node dist/src/server.js` on a free loopback
# port: readiness, every model, /metrics, /openapi.json, Swagger UI; SIGTERM must exit 0 within 15 s.
# Proves that the image's file set is complete (no dev dependency or source file needed at run time).
set -euo pipefail
cd "$(dirname "$0")/../.."
repo=$(pwd)

TIMEOUT=${SMOKE_TIMEOUT:-60}
fail() {
  echo "bundle-smoke: FAIL: $*" >&2
  exit 1
}
checks() { node --import tsx "$repo/scripts/ci/http-checks.ts" "$@"; }
free_port() {
  node -e 'const s = require("node:net").createServer(); s.listen(0, "127.0.0.1", () => { console.log(s.address().port); s.close(); });'
}

[ -f model-artifacts/xgboost/1.0.0.json ] || fail "model-artifacts/<name>/<version>.json missing: run npm run train first"

work=$(mktemp -d)
pid=
cleanup() {
  local rc=$?
  if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then kill -KILL "$pid" 2>/dev/null || true; fi
  if [ "$rc" -ne 0 ] && [ -f "$work/server.log" ]; then
    echo "--- server log (tail)" >&2
    tail -n 30 "$work/server.log" >&2
  fi
  rm -rf "$work"
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
app="$work/app"
mkdir -p "$app"

echo "== build (tsc -p tsconfig.build.json, into a fresh dist/)"
npx tsc -p tsconfig.build.json --outDir "$app/dist" || fail "build"

echo "== runtime file set in $app"
cp package.json package-lock.json "$app/"
cp -R model-artifacts "$app/model-artifacts"
cp -R public samples "$app/"
(cd "$app" && timeout 300 npm ci --omit=dev --no-audit --no-fund --loglevel=error) || fail "npm ci --omit=dev"
# every package the lockfile marks dev-only (direct dev dependencies and what only they pull in) is absent
dev=$(node -e '
  const lock = require(process.argv[1]);
  const fs = require("node:fs");
  const dev = Object.entries(lock.packages).filter(([k, v]) => k && v.dev).map(([k]) => k);
  const present = dev.filter((k) => fs.existsSync(process.argv[2] + "/" + k));
  if (present.length) { console.error("dev-only packages installed: " + present.join(", ")); process.exit(1); }
  console.log(dev.length);
' "$app/package-lock.json" "$app") || fail "the production bundle holds dev-only packages"
echo "node_modules: $(find "$app/node_modules" -name package.json -path '*/node_modules/*/package.json' -not -path '*/node_modules/*/node_modules/*/*' | wc -l) packages, $(du -sh "$app/node_modules" | cut -f1); none of the $dev dev-only packages of the lockfile"
[ -f "$app/dist/src/server.js" ] || fail "dist/src/server.js was not built"

port=$(free_port)
base="http://127.0.0.1:$port"
echo "== node dist/src/server.js on $base (NODE_ENV=production)"
(cd "$app" && exec env -u MODEL_DIR NODE_ENV=production HOST=127.0.0.1 PORT="$port" LOG_LEVEL=info \
  node dist/src/server.js >"$work/server.log" 2>&1) &
pid=$!
checks ready "$base" "$TIMEOUT" || fail "not ready within $TIMEOUT s"
checks smoke "$base" || fail "smoke checks"

echo "== SIGTERM"
kill -TERM "$pid"
rc=
for _ in $(seq 150); do
  if ! kill -0 "$pid" 2>/dev/null; then
    set +e
    wait "$pid"
    rc=$?
    set -e
    break
  fi
  sleep 0.1
done
[ -n "$rc" ] || fail "still running 15 s after SIGTERM"
pid=
[ "$rc" -eq 0 ] || fail "exit status $rc after SIGTERM, expected 0"
grep -q '"msg":"stopped"' "$work/server.log" || fail "no \"stopped\" log line after SIGTERM"
echo "exit status 0 after SIGTERM; log: $(grep -c . "$work/server.log") lines"
echo "bundle-smoke: OK"
