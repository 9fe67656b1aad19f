#!/usr/bin/env bash
# npm audit of the production dependencies: fails on any reported vulnerability (low and up).
#
#   scripts/ci/audit.sh
#
# Exit 0: the audit ran and found nothing, or the registry's advisory endpoint itself could not be
# reached or refused the request (then a loud "SKIPPED: advisory endpoint unavailable: …" line says
# so; some mirrors and proxies only serve the package endpoints). Exit 1: vulnerabilities, or npm
# audit failed for any other reason (no lockfile, unreadable report, …).
set -uo pipefail
cd "$(dirname "$0")/../.."

out=$(mktemp)
err=$(mktemp)
trap 'rm -f "$out" "$err"' EXIT

npm audit --omit=dev --audit-level=low --json >"$out" 2>"$err"
status=$?

# Decide from the JSON report (npm writes it even on failure) and npm's stderr.
node - "$out" "$err" "$status" <<'EOF'
const { readFileSync } = require('node:fs');
const [outFile, errFile, statusText] = process.argv.slice(2);
const status = Number(statusText);
const stderr = readFileSync(errFile, 'utf8');
let report;
try {
  report = JSON.parse(readFileSync(outFile, 'utf8'));
} catch {
  report = undefined;
}
const line = '#'.repeat(100);

const counts = report?.metadata?.vulnerabilities;
if (counts && typeof counts === 'object') {
  const total = Object.entries(counts)
    .filter(([severity]) => severity !== 'total')
    .reduce((sum, [, n]) => sum + Number(n), 0);
  if (total === 0 && status === 0) {
    const deps = report.metadata.dependencies?.prod ?? report.metadata.dependencies?.total ?? '?';
    console.log(`audit: OK: 0 vulnerabilities in production dependencies (${deps} packages)`);
    process.exit(0);
  }
  console.log(`audit: FAIL: ${total} vulnerabilities in production dependencies (${JSON.stringify(counts)})`);
  for (const [name, v] of Object.entries(report.vulnerabilities ?? {})) {
    const via = (v.via ?? []).map((x) => (typeof x === 'string' ? x : `${x.title ?? ''} ${x.url ?? ''}`.trim()));
    console.log(`  ${name} (${v.severity}, ${v.range ?? ''}): ${via.join('; ')}${v.fixAvailable ? ' [fix available]' : ''}`);
  }
  process.exit(1);
}

// No report: was it the advisory endpoint (unreachable, refusing, erroring), or something else?
const message = String(report?.message ?? report?.error?.summary ?? '');
const code = String(report?.error?.code ?? report?.code ?? '');
const endpoint = /\/-\/npm\/v1\/security\/(advisories\/bulk|audits(\/quick)?)/;
const network = /\b(ENOTFOUND|ECONNREFUSED|ECONNRESET|ETIMEDOUT|EAI_AGAIN|EHOSTUNREACH|ENETUNREACH|socket hang up)\b/;
const endpointFailed =
  endpoint.test(message) ||
  (/audit endpoint returned an error/.test(stderr) && (endpoint.test(stderr) || network.test(stderr))) ||
  (network.test(message) && endpoint.test(message + stderr));
if (endpointFailed) {
  const reason = (message || stderr.split('\n').find((l) => endpoint.test(l)) || 'no answer').trim();
  console.log(line);
  console.log(`SKIPPED: advisory endpoint unavailable: ${reason}`);
  console.log('The production dependencies were NOT audited. Run `npm audit --omit=dev` where the npm registry');
  console.log("answers POST /-/npm/v1/security/advisories/bulk (e.g. GitHub Actions), or use the registry's web advisories.");
  console.log(line);
  process.exit(0);
}
console.log(`audit: FAIL: npm audit could not run (exit ${status}${code ? `, ${code}` : ''}): ${message || stderr.trim().split('\n').slice(-3).join(' | ')}`);
process.exit(1);
EOF
