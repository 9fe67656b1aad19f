import { spawnSync } from 'node:child_process';
import { chmodSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { tempDir } from '../helpers/temp.js';

/**
 * scripts/ci/audit.sh decides from npm audit's JSON report and stderr. A fake `npm` first on PATH
 * replays what npm 11 prints in each situation (the 405 and ECONNREFUSED outputs were captured on
 * this machine; the vulnerability report has npm's auditReportVersion 2 shape).
 */

const dir = tempDir('fake-npm-');
writeFileSync(
  join(dir, 'npm'),
  '#!/usr/bin/env bash\nprintf "%s" "$FAKE_OUT"\nprintf "%s" "$FAKE_ERR" >&2\nexit "$FAKE_STATUS"\n',
);
chmodSync(join(dir, 'npm'), 0o755);

function audit(out: unknown, err: string, status: number) {
  const r = spawnSync('bash', ['scripts/ci/audit.sh'], {
    env: {
      ...process.env,
      PATH: `${dir}:${process.env.PATH}`,
      FAKE_OUT: typeof out === 'string' ? out : JSON.stringify(out),
      FAKE_ERR: err,
      FAKE_STATUS: String(status),
    },
    encoding: 'utf8',
  });
  return { code: r.status, output: `${r.stdout}${r.stderr}` };
}

const metadata = (counts: Partial<Record<'info' | 'low' | 'moderate' | 'high' | 'critical', number>>) => {
  const v = { info: 0, low: 0, moderate: 0, high: 0, critical: 0, ...counts };
  return {
    vulnerabilities: { ...v, total: Object.values(v).reduce((a, b) => a + b, 0) },
    dependencies: { prod: 120, dev: 300, optional: 0, peer: 0, peerOptional: 0, total: 420 },
  };
};

describe('scripts/ci/audit.sh', () => {
  it('passes a clean audit', () => {
    const r = audit({ auditReportVersion: 2, vulnerabilities: {}, metadata: metadata({}) }, '', 0);
    expect(r.code).toBe(0);
    expect(r.output).toContain('audit: OK: 0 vulnerabilities in production dependencies (120 packages)');
  });

  it('fails on any reported vulnerability, naming the package and the advisory', () => {
    const report = {
      auditReportVersion: 2,
      vulnerabilities: {
        'fast-xml': {
          name: 'fast-xml',
          severity: 'low',
          via: [{ title: 'Prototype pollution', url: 'https://github.com/advisories/GHSA-0000-0000-0000' }],
          range: '<1.2.3',
          fixAvailable: true,
        },
      },
      metadata: metadata({ low: 1 }),
    };
    const r = audit(report, '', 1);
    expect(r.code).toBe(1);
    expect(r.output).toContain('audit: FAIL: 1 vulnerabilities in production dependencies');
    expect(r.output).toContain('fast-xml (low, <1.2.3): Prototype pollution https://github.com/advisories/GHSA-0000');
    // Even an informational one that npm itself would let pass.
    expect(audit({ ...report, metadata: metadata({ info: 1 }) }, '', 0).code).toBe(1);
  });

  it('skips loudly, and only, when the advisory endpoint refuses or cannot be reached', () => {
    const refused = audit(
      {
        message: '405 Method Not Allowed - POST https://registry.npmjs.org/-/npm/v1/security/advisories/bulk',
        method: 'POST',
        uri: 'https://registry.npmjs.org/-/npm/v1/security/advisories/bulk',
        statusCode: 405,
        body: '',
        error: { summary: '', detail: '' },
      },
      'npm warn audit 405 Method Not Allowed - POST https://registry.npmjs.org/-/npm/v1/security/advisories/bulk\nnpm error audit endpoint returned an error\n',
      1,
    );
    expect(refused.code).toBe(0);
    expect(refused.output).toContain(
      'SKIPPED: advisory endpoint unavailable: 405 Method Not Allowed - POST https://registry.npmjs.org/-/npm/v1/security/advisories/bulk',
    );
    expect(refused.output).toMatch(/#{50}/);

    const unreachable = audit(
      {
        message:
          'request to http://127.0.0.1:9/-/npm/v1/security/advisories/bulk failed, reason: connect ECONNREFUSED 127.0.0.1:9',
        error: { summary: '', detail: '' },
      },
      'npm error audit endpoint returned an error\n',
      1,
    );
    expect(unreachable.code).toBe(0);
    expect(unreachable.output).toMatch(/SKIPPED: advisory endpoint unavailable: request to .* ECONNREFUSED/);
  });

  it('fails when npm audit cannot run for another reason', () => {
    const r = audit(
      { error: { code: 'ENOLOCK', summary: 'This command requires an existing lockfile.', detail: '' } },
      'npm error code ENOLOCK\n',
      1,
    );
    expect(r.code).toBe(1);
    expect(r.output).toContain(
      'audit: FAIL: npm audit could not run (exit 1, ENOLOCK): This command requires an existing lockfile.',
    );
    expect(audit('not json', 'npm error something else\n', 1).code).toBe(1);
  });
});
