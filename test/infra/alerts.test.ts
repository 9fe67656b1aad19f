import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

/**
 * The Prometheus alert rules under promtool (when it is installed): `check rules` validates prometheus/alerts.yml,
 * `test rules` runs prometheus/alerts.test.yml, the unit tests of the surveillance alerts (score PSI ≥ 0.25,
 * calibration red, a failed model reload, tape rows rejected) on synthetic series, with their expected labels
 * and annotations. test/infra/files.test.ts checks that every metric the rules name is exported.
 */

const dir = fileURLToPath(new URL('../../prometheus/', import.meta.url));
const installed = spawnSync('promtool', ['--version']).status === 0;

const promtool = (...args: string[]) => {
  const r = spawnSync('promtool', args, { cwd: dir, encoding: 'utf8', timeout: 60_000 });
  return { status: r.status, output: `${r.stdout}${r.stderr}` };
};

describe.skipIf(!installed)('prometheus/alerts.yml under promtool', () => {
  it('checks', () => {
    const r = promtool('check', 'rules', 'alerts.yml');
    expect(r.status, r.output).toBe(0);
  });

  it('passes its unit tests (alerts.test.yml)', () => {
    const r = promtool('test', 'rules', 'alerts.test.yml');
    expect(r.status, r.output).toBe(0);
    expect(r.output).toMatch(/SUCCESS/);
  });
});
