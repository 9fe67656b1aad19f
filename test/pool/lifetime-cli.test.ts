import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { scenarioVectorsCsv } from '../../src/pool/lifetime.js';
import { build, holdoutLoans } from '../helpers/app.js';
import { runScript } from '../helpers/net.js';
import { tempDir } from '../helpers/temp.js';
import { toCsv } from './helpers.js';

/** The tape CLI's lifetime mode (src/cli/lifetime.ts through src/cli/score.ts): the route's figures, on this machine. */

const dir = tempDir('lifetime-cli-');
const loans = holdoutLoans.slice(0, 150);
const tape = join(dir, 'tape.csv');
writeFileSync(tape, toCsv(loans));
const cli = (...args: string[]) => runScript('src/cli/score.ts', args);

describe('npm run score -- --lifetime', () => {
  it('prints the route answer (--json), a table per scenario, the vectors CSV (--vectors), and refuses bad options', async () => {
    const vectors = join(dir, 'vectors.csv');
    const perLoan = join(dir, 'loans.csv');
    const query = 'scenario=baseline,severely_adverse&cpr=0.06&timing=sda&recovery_lag=18';
    const [json, table, usage, both, help, sda, clash] = await Promise.all([
      cli(
        tape,
        '--lifetime',
        '--model',
        'lda',
        '--scenario',
        'baseline,severely_adverse',
        '--cpr',
        '0.06',
        '--timing',
        'sda',
        '--recovery-lag',
        '18',
        '--json',
        '--vectors',
        vectors,
        '--loans',
        perLoan,
      ),
      cli(
        tape,
        '--lifetime',
        '--model=lda',
        '--scenario=baseline,adverse',
        '--prepayment=scenario',
        '--hazard=timing_only',
      ),
      cli(tape, '--lifetime', '--psa=-1', '--cpr', '0.1,y', '--recovery-lag', '99'),
      cli(tape, '--lifetime', '--timing', 'linear', '--scenario', 'mars', '--hazard', 'steep', '--prepayment', 'fast'),
      cli('--lifetime', '--help'),
      cli(tape, '--lifetime', '--model', 'lda', '--sda', '2', '--json'),
      cli(tape, '--lifetime', '--sda', '2', '--cdr', '0.1', '--timing', 'flat'),
    ]);
    expect(json.code).toBe(0);
    const answer = JSON.parse(json.stdout);
    const app = await build();
    const res = await app.inject({
      method: 'POST',
      url: `/pools/lifetime?model=lda&${query}`,
      payload: readFileSync(tape),
      headers: { 'content-type': 'text/csv' },
    });
    expect(res.statusCode).toBe(200);
    expect(answer).toEqual(res.json());
    expect(answer.options).toEqual({
      default_assumption: 'model',
      timing: 'sda',
      hazard: 'house_prices',
      prepayment: 'cpr',
      cpr: [0.06],
      recovery_lag: 18,
    });
    expect(sda.code).toBe(0);
    const prescribed = JSON.parse(sda.stdout);
    expect(prescribed.options).toEqual({
      default_assumption: 'sda',
      sda: 2,
      prepayment: 'psa',
      psa: 1,
      recovery_lag: 12,
    });
    expect(prescribed.scenarios[0].vectors[44].cdr).toBeCloseTo(0.012, 12); // 200 % SDA: 2 × 0.6 % from month 30
    expect(clash.code).toBe(2);
    expect(clash.stderr).toMatch(/--sda send cdr or sda, not both/);
    expect(readFileSync(vectors, 'utf8')).toBe(scenarioVectorsCsv(answer.scenarios));
    // --loans: the route's ?loans=csv, byte for byte.
    const loansCsv = await app.inject({
      method: 'POST',
      url: `/pools/lifetime?model=lda&${query}&loans=csv`,
      payload: readFileSync(tape),
      headers: { 'content-type': 'text/csv' },
    });
    expect(loansCsv.statusCode).toBe(200);
    expect(readFileSync(perLoan, 'utf8')).toBe(loansCsv.body);
    expect(loansCsv.body.trimEnd().split('\n')).toHaveLength(1 + 2 * loans.length);

    expect(table.code).toBe(0);
    expect(table.stdout).toMatch(/model lda 1\.0\.0, 150 loans projected \(150 rows, 0 rejected\)/);
    expect(table.stdout).toMatch(/^defaults: the model's PD, seasoning timing, hazard timing_only$/m);
    expect(table.stdout).toMatch(/^\s+baseline\s+adverse$/m);
    expect(table.stdout).toMatch(/^expected loss lifetime\s+[\d,.]+\s+[\d,.]+$/m);
    expect(table.stdout).toMatch(/^WAL \(years\)\s+\d+\.\d{3}\s+\d+\.\d{3}$/m);

    expect(usage.code).toBe(2);
    expect(usage.stderr).toMatch(/--cpr send psa or cpr, not both/);
    expect(usage.stderr).toMatch(/--recovery-lag must be a whole number of months from 0 to 60/);
    expect(both.code).toBe(2);
    expect(both.stderr).toMatch(/--scenario "mars": must be one of/);
    expect(both.stderr).toMatch(/--timing must be seasoning, sda or flat/);
    expect(both.stderr).toMatch(/--hazard must be timing_only or house_prices/);
    expect(both.stderr).toMatch(
      /--prepayment must be scenario or none \(psa and cpr are their own parameters\), got "fast"/,
    );
    expect(help.code).toBe(0);
    expect(help.stdout).toMatch(/--vectors FILE/);
    expect(help.stdout).toMatch(/--loans FILE/);
    expect(help.stdout).toMatch(/--hazard H/);
    expect(help.stdout).toMatch(/--prepayment P/);
  }, 60_000);

  it('reads custom scenarios from --scenario @FILE as the route reads them from ?scenario=, and names bad ones', async () => {
    const spec = [
      'severely_adverse',
      { name: 'rates_up', national: Array(12).fill(-0.01), rates: [0.5, 0.5, 0.5, 0.5] },
    ];
    const file = join(dir, 'scenarios.json');
    writeFileSync(file, JSON.stringify(spec));
    const bad = join(dir, 'bad-scenarios.json');
    writeFileSync(bad, JSON.stringify(['baseline', { name: 'short', national: [0.01] }]));
    const huge = join(dir, 'huge-scenarios.json');
    writeFileSync(huge, `[${' '.repeat(70_000)}]`);
    const [json, refused, missing, notJson, device, tooBig] = await Promise.all([
      cli(tape, '--lifetime', '--model', 'lda', '--prepayment', 'scenario', '--scenario', `@${file}`, '--json'),
      cli(tape, '--lifetime', '--scenario', `@${bad}`),
      cli(tape, '--lifetime', '--scenario', `@${join(dir, 'nowhere.json')}`),
      cli(tape, '--lifetime', '--scenario', `@${tape}`),
      cli(tape, '--lifetime', '--scenario', '@/dev/zero'),
      cli(tape, '--lifetime', '--scenario', `@${huge}`),
    ]);
    expect(json.code).toBe(0);
    const app = await build();
    const res = await app.inject({
      method: 'POST',
      url: `/pools/lifetime?model=lda&prepayment=scenario&scenario=${encodeURIComponent(JSON.stringify(spec))}`,
      payload: readFileSync(tape),
      headers: { 'content-type': 'text/csv' },
    });
    expect(res.statusCode).toBe(200);
    const answer = JSON.parse(json.stdout);
    expect(answer).toEqual(res.json());
    expect(answer.scenarios.map((s: { scenario: string }) => s.scenario)).toEqual(['severely_adverse', 'rates_up']);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toMatch(/--scenario\[1\]\.national must hold 12 to 40 quarters, got 1/);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toMatch(/--scenario @.*nowhere\.json: cannot read the file/);
    expect(notJson.code).toBe(2);
    expect(notJson.stderr).toMatch(/must hold JSON, a custom path \{\.\.\.\} or a list \[\.\.\.\]/);
    // Bounded whatever the path names.
    expect(device.code).toBe(2);
    expect(device.stderr).toMatch(/--scenario @\/dev\/zero: is not a regular file/);
    expect(tooBig.code).toBe(2);
    expect(tooBig.stderr).toMatch(/the file has 70002 bytes, more than 65536/);
  });

  it('reads the scenarios a JSON tape names, as the route does, and refuses another --scenario (exit 1)', async () => {
    const spec = ['baseline', { name: 'rates_up', national: Array(12).fill(-0.01), rates: [0.5, 0.5] }];
    const jsonTape = join(dir, 'scenario-tape.json');
    writeFileSync(jsonTape, JSON.stringify({ scenario: spec, loans: loans.slice(0, 40) }));
    const specFile = join(dir, 'same-scenarios.json');
    writeFileSync(specFile, JSON.stringify(spec, null, 2)); // the same list, written otherwise
    const [own, clash, same] = await Promise.all([
      cli(jsonTape, '--lifetime', '--model', 'lda', '--json'),
      cli(jsonTape, '--lifetime', '--model', 'lda', '--scenario', 'adverse'),
      cli(jsonTape, '--lifetime', '--model', 'lda', '--json', '--scenario', `@${specFile}`),
    ]);
    expect(own.code).toBe(0);
    const app = await build();
    const res = await app.inject({
      method: 'POST',
      url: '/pools/lifetime?model=lda',
      payload: readFileSync(jsonTape),
      headers: { 'content-type': 'application/json' },
    });
    expect(res.statusCode).toBe(200);
    expect(JSON.parse(own.stdout)).toEqual(res.json());
    expect(res.json().scenarios.map((s: { scenario: string }) => s.scenario)).toEqual(['baseline', 'rates_up']);
    expect(clash.code).toBe(1);
    expect(clash.stderr).toMatch(/scenario is given in the tape but "adverse" in --scenario; send one/);
    expect(same.code).toBe(0);
    expect(same.stdout).toBe(own.stdout);
  });

  it('refuses a tape with an invalid row (exit 1) and projects the valid rows with --on-error skip', async () => {
    const bad = join(dir, 'bad.csv');
    writeFileSync(bad, `${toCsv(loans).trim()}\nnot,a,loan\n`);
    const [refused, skipped] = await Promise.all([
      cli(bad, '--lifetime', '--model', 'lda', '--loans', join(dir, 'refused-loans.csv')),
      cli(bad, '--lifetime', '--model', 'lda', '--on-error', 'skip', '--json'),
    ]);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/refused: 1 of 151 rows are invalid/);
    expect(refused.stderr).toMatch(/line 152/);
    expect(readdirSync(dir).filter((f) => f.startsWith('refused-loans'))).toEqual([]); // no file, no partial file
    expect(skipped.code).toBe(0);
    expect(JSON.parse(skipped.stdout)).toMatchObject({ loan_count: 150, rejected: { count: 1 } });
  }, 60_000);
});

describe('npm run score -- --lifetime: seasoned loans', () => {
  it('reads loan_age and current_upb as the route does (--json, --loans), and refuses a bad one (exit 1)', async () => {
    const lines = toCsv(loans.slice(0, 60)).trim().split('\n');
    const seasoned = lines.map((line, i) => {
      if (i === 0) return `${line},loan_age,current_upb`;
      const upb = loans[i - 1]?.original_upb as number;
      return i % 3 === 0 ? `${line},${i * 2},${Math.round(upb * 0.8)}` : `${line},,`;
    });
    const good = join(dir, 'seasoned.csv');
    const bad = join(dir, 'seasoned-bad.csv');
    writeFileSync(good, `${seasoned.join('\n')}\n`);
    writeFileSync(bad, `${seasoned.join('\n')}\n${seasoned[1]?.replace(/,,$/, ',12,')}\n`);
    const perLoan = join(dir, 'seasoned-loans.csv');
    const [json, refused] = await Promise.all([
      cli(good, '--lifetime', '--model', 'lda', '--scenario', 'baseline,historical', '--json', '--loans', perLoan),
      cli(bad, '--lifetime', '--model', 'lda'),
    ]);
    expect(json.code).toBe(0);
    const app = await build();
    const post = (url: string) =>
      app.inject({ method: 'POST', url, payload: readFileSync(good), headers: { 'content-type': 'text/csv' } });
    const [res, rows] = await Promise.all([
      post('/pools/lifetime?model=lda&scenario=baseline,historical'),
      post('/pools/lifetime?model=lda&scenario=baseline,historical&loans=csv'),
    ]);
    expect(res.statusCode).toBe(200);
    expect(JSON.parse(json.stdout)).toEqual(res.json());
    expect(readFileSync(perLoan, 'utf8')).toBe(rows.body);
    // The per-loan balance is the current one for a seasoned row.
    const second = rows.body.split('\n')[5]?.split(',');
    expect(Number(second?.[4])).toBe(Math.round((loans[2]?.original_upb as number) * 0.8));
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/line 62/);
    expect(refused.stderr).toMatch(/current_upb/);
  }, 60_000);
});

describe('npm run score -- --lifetime --threads N', () => {
  it('answers the same on 1, 2 and 3 threads, byte for byte, over several groups of records', async () => {
    // More than two groups of GROUP_RECORDS (8192) records, a few loans outside the historical market refused.
    const many = Array.from(
      { length: 17_000 },
      (_, i) => holdoutLoans[i % holdoutLoans.length] as Record<string, unknown>,
    );
    const big = join(dir, 'big.csv');
    writeFileSync(
      big,
      toCsv(many.map((l, i) => (i % 5000 === 17 ? { ...l, first_payment_date: 202406 } : l)) as typeof loans),
    );
    const run = (threads: string) => {
      const vectors = join(dir, `vectors-${threads}.csv`);
      return cli(
        big,
        '--lifetime',
        '--scenario',
        'baseline,adverse,severely_adverse,historical',
        '--on-error',
        'skip',
        '--json',
        '--vectors',
        vectors,
        '--threads',
        threads,
      ).then((r) => ({ ...r, vectors: readFileSync(vectors, 'utf8') }));
    };
    const one = await run('1');
    const [two, three] = await Promise.all([run('2'), run('3')]);
    expect(one.code).toBe(0);
    expect(JSON.parse(one.stdout)).toMatchObject({ rows: 17_000, loan_count: 17_000 - 4, rejected: { count: 4 } });
    expect(two.stderr).not.toContain('one thread');
    expect(two.stdout).toBe(one.stdout);
    expect(three.stdout).toBe(one.stdout);
    expect(two.vectors).toBe(one.vectors);
    expect(three.vectors).toBe(one.vectors);
    const usage = await cli(big, '--lifetime', '--threads', '0');
    expect(usage.code).toBe(2);
    expect(usage.stderr).toContain('--threads must be auto or a whole number from 1 to 256, got "0"');
  }, 180_000);
});
