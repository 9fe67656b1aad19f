import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { type LoanRecord, loadModelFile } from '../../src/runtime/index.js';
import { checkScenario, type Scenario, scenarioRecord } from '../../src/scenario/index.js';
import { holdoutLoans } from '../helpers/app.js';
import { runScript } from '../helpers/net.js';
import { housePricesMargin, scenarioModelDir } from '../helpers/scenario-model.js';
import { tempDir } from '../helpers/temp.js';
import { close, expectedPool, parseCsv, toCsv, toFreddie } from './helpers.js';

const dir = tempDir('score-cli-');
const loans = holdoutLoans.slice(0, 400);
const tape = join(dir, 'tape.csv');
writeFileSync(tape, toCsv(loans));

const cli = (...args: string[]) => runScript('src/cli/score.ts', args);

describe('src/cli/score.ts', () => {
  it('scores a tape end to end: per-loan CSV to --out, the pool summary on stdout', async () => {
    const out = join(dir, 'scored.csv');
    const bad = join(dir, 'bad.csv');
    writeFileSync(bad, `${toCsv(loans).trim()}\nnot,a,loan\n`);
    const freddie = join(dir, 'tape.txt');
    writeFileSync(freddie, toFreddie(loans));
    const [json, table, refused, skipped, fromFreddie, usage] = await Promise.all([
      cli(tape, '--model', 'lda', '--lgd', '0.5', '--out', out, '--json'),
      cli(tape),
      cli(bad, '--out', join(dir, 'never.csv')),
      cli(bad, '--on-error', 'skip', '--json'),
      cli(freddie, '--json', '--format', 'freddie'),
      cli(tape, '--lgd', '2'),
    ]);

    expect(json.code).toBe(0);
    expect(json.stderr).toBe(''); // no progress bar when stderr is not a terminal
    const answer = JSON.parse(json.stdout);
    const lda = await loadModelFile('model-artifacts/lda/1.0.0.json');
    const expected = expectedPool(lda, loans, 0.5);
    expect(answer).toMatchObject({ model: 'lda', format: 'csv', lgd: 0.5, loan_count: 400, rows: 400 });
    expect(close(answer.expected_loss, expected.expected_loss)).toBe(true);
    expect(close(answer.upb_weighted_pd, expected.upb_weighted_pd)).toBe(true);
    const lines = readFileSync(out, 'utf8').trim().split('\n');
    expect(lines[0]).toBe('row,loan_sequence_number,probability_of_default,log_odds,above_cutoff,expected_loss');
    expect(lines).toHaveLength(401);
    expect(lines.slice(1).map((l) => Number(l.split(',')[2]))).toEqual([...expected.probability]);
    expect(lines[1]?.startsWith(`2,${loans[0]?.loan_sequence_number},`)).toBe(true);

    expect(table.code).toBe(0);
    expect(table.stdout).toMatch(/model xgboost 1\.0\.0, scenario baseline, LGD 35\.0%/);
    expect(table.stdout).toMatch(/loans scored\s+400/);
    expect(table.stdout).toMatch(/^FICO\s+loans\s+original UPB/m);

    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/refused: 1 of 401 rows are invalid/);
    expect(refused.stderr).toMatch(/line 402 has 3 fields; the header has 19/);
    expect(existsSync(join(dir, 'never.csv'))).toBe(false);

    expect(skipped.code).toBe(0);
    expect(JSON.parse(skipped.stdout).rejected.count).toBe(1);

    expect(fromFreddie.code).toBe(0);
    expect(JSON.parse(fromFreddie.stdout).format).toBe('freddie');
    expect(JSON.parse(fromFreddie.stdout).loan_count).toBe(400);

    expect(usage.code).toBe(2);
    expect(usage.stderr).toMatch(/--lgd must be a number in \(0, 1\]/);
  }, 60_000);

  it('neutralises spreadsheet formulas in the --out CSV as the route does', async () => {
    const ids = ['=1+2', '@cmd', '-2', 'F05Q10000001'];
    const formulas = join(dir, 'formulas.csv');
    writeFileSync(formulas, toCsv(ids.map((id, i) => ({ ...(loans[i] as object), loan_sequence_number: id }))));
    const out = join(dir, 'formulas-scored.csv');
    const run = await cli(formulas, '--out', out, '--json');
    expect(run.code).toBe(0);
    const cells = parseCsv(readFileSync(out, 'utf8'))
      .slice(1)
      .map((r) => r[1]);
    expect(cells).toEqual(["'=1+2", "'@cmd", "'-2", 'F05Q10000001']);
  }, 60_000);

  it('fails (exit 2, no --out file) rather than write a non-finite score', async () => {
    const modelDir = tempDir('nan-cli-');
    mkdirSync(join(modelDir, 'lda'));
    const doc = JSON.parse(readFileSync('model-artifacts/lda/1.0.0.json', 'utf8'));
    delete doc.columns[0].impute; // a loan without credit_score now scores NaN
    writeFileSync(join(modelDir, 'lda', '1.0.0.json'), JSON.stringify(doc));
    const nanTape = join(dir, 'nan.csv');
    writeFileSync(nanTape, toCsv([loans[0] as LoanRecord, { ...(loans[0] as LoanRecord), credit_score: null }]));
    const out = join(dir, 'nan-scored.csv');
    const run = await cli(nanTape, '--model-dir', modelDir, '--model', 'lda', '--out', out, '--json');
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(/model lda 1\.0\.0 gave a non-finite score \(margin NaN\) for row 3/);
    expect(run.stdout).toBe('');
    expect(existsSync(out)).toBe(false);
  }, 60_000);

  it('answers the same with --threads 2 as with --threads 1, byte for byte (summary and --out)', async () => {
    const lines = toCsv(loans).trim().split('\n');
    lines[17] = 'not,a,loan';
    const bad = join(dir, 'threads-bad.csv');
    writeFileSync(bad, `${lines.join('\n')}\n`);
    const few = join(dir, 'threads-few.csv');
    writeFileSync(few, toCsv(loans.slice(0, 40)));
    const runs = async (args: string[], outs: boolean) => {
      const [one, two] = await Promise.all(
        ['1', '2'].map(async (threads) => {
          const out = join(dir, `threads-${threads}-${args.join('_').replaceAll('/', '_')}.csv`);
          const run = await cli(
            ...args,
            '--threads',
            threads,
            '--block-bytes',
            '2000',
            // Groups of 16 records: the stratification's sums are folded over many group boundaries.
            '--group-records',
            '16',
            ...(outs ? ['--out', out] : []),
          );
          return { ...run, out: outs && existsSync(out) ? readFileSync(out, 'utf8') : undefined };
        }),
      );
      expect(two).toEqual(one);
      return one as NonNullable<typeof one>;
    };
    expect((await runs([tape, '--json'], true)).code).toBe(0);
    expect((await runs([tape], false)).stdout).toMatch(/loans scored\s+400/);
    const skipped = await runs([bad, '--json', '--on-error', 'skip'], true);
    expect(JSON.parse(skipped.stdout).rejected.count).toBe(1);
    const refused = await runs([bad, '--json'], true);
    expect(refused.code).toBe(1);
    expect(refused.out).toBeUndefined();
    const reasons = await runs([few, '--json', '--reasons'], true);
    expect(reasons.out?.split('\n')[0]).toBe(
      'row,loan_sequence_number,probability_of_default,log_odds,above_cutoff,expected_loss,reason_1,reason_2,reason_3,reason_4',
    );
    expect(reasons.out?.split('\n')[1]).toMatch(/,[A-Z_0-9]+,/);
    // Only borrower and loan attributes: never the state, the vintage or the number of borrowers.
    expect(reasons.out).not.toMatch(/STATE|VINTAGE|BORROWER/);
  }, 120_000);

  it('refuses --reasons without --out', async () => {
    const run = await cli(tape, '--reasons');
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(/--reasons adds reason codes to the per-loan results: name the file with --out/);
  }, 60_000);

  it('scores under --scenario (a name or @FILE, a custom path), naming it in the summary; errors name the option', async () => {
    const modelDir = scenarioModelDir();
    const few = loans.slice(0, 60);
    const fewTape = join(dir, 'scenario-few.csv');
    writeFileSync(fewTape, toCsv(few));
    const custom = { name: 'my fall', national: new Array(12).fill(-0.05), states: { TX: new Array(12).fill(0.02) } };
    const customFile = join(dir, 'fall.json');
    writeFileSync(customFile, JSON.stringify(custom));
    const badFile = join(dir, 'bad-path.json');
    const hugeFile = join(dir, 'huge.json');
    writeFileSync(hugeFile, ' '.repeat(70_000));
    writeFileSync(badFile, JSON.stringify({ national: [0, 1] }));
    const jsonTape = join(dir, 'scenario-tape.json');
    writeFileSync(jsonTape, JSON.stringify({ scenario: 'adverse', loans: few }));
    const base = ['--model-dir', modelDir, '--model', 'house_prices'];
    const out = (name: string) => join(dir, `scenario-${name}.csv`);
    const [
      named,
      fromFile,
      byDefault,
      threaded,
      table,
      fromTape,
      conflict,
      unknown,
      bad,
      missing,
      plain,
      device,
      huge,
    ] = await Promise.all([
      cli(fewTape, ...base, '--scenario', 'severely_adverse', '--json', '--out', out('named'), '--threads', '1'),
      cli(fewTape, ...base, '--scenario', `@${customFile}`, '--json', '--out', out('file'), '--threads', '1'),
      cli(fewTape, ...base, '--json', '--threads', '1'),
      cli(
        fewTape,
        ...base,
        '--scenario',
        `@${customFile}`,
        '--json',
        '--out',
        out('threaded'),
        '--threads',
        '2',
        '--block-bytes',
        '2000',
      ),
      cli(fewTape, ...base, '--scenario', 'adverse', '--threads', '1'),
      cli(jsonTape, ...base, '--json'),
      cli(jsonTape, ...base, '--json', '--scenario', 'baseline'),
      cli(fewTape, ...base, '--scenario', 'doom'),
      cli(fewTape, ...base, '--scenario', `@${badFile}`),
      cli(fewTape, ...base, '--scenario', `@${join(dir, 'nowhere.json')}`),
      cli(fewTape, '--model-dir', modelDir, '--model', 'plain', '--scenario', 'adverse', '--json', '--threads', '1'),
      // Bounded whatever the path names: a device is refused before a byte is read, a huge file from its size.
      cli(fewTape, ...base, '--scenario', '@/dev/zero'),
      cli(fewTape, ...base, '--scenario', `@${hugeFile}`),
    ]);
    const resolve = (spec: unknown) => checkScenario(spec).scenario as Scenario;
    const expectPds = (file: string, spec: unknown) => {
      const pd = parseCsv(readFileSync(file, 'utf8'))
        .slice(1)
        .map((r) => Number(r[2]));
      expect(pd).toHaveLength(few.length);
      for (const [i, p] of pd.entries()) {
        const record = scenarioRecord(few[i] as LoanRecord, resolve(spec));
        expect(p).toBeCloseTo(1 / (1 + Math.exp(-housePricesMargin(record))), 14);
      }
    };
    expect(named.code).toBe(0);
    expect(JSON.parse(named.stdout).scenario).toBe('severely_adverse');
    expectPds(out('named'), 'severely_adverse');
    expect(fromFile.code).toBe(0);
    expect(JSON.parse(fromFile.stdout).scenario).toBe('my fall');
    expectPds(out('file'), custom);
    expect(JSON.parse(byDefault.stdout).scenario).toBe('baseline');
    expect(threaded.stdout).toBe(fromFile.stdout);
    expect(readFileSync(out('threaded'), 'utf8')).toBe(readFileSync(out('file'), 'utf8'));
    expect(table.stdout).toMatch(/model house_prices 1\.0\.0, scenario adverse, LGD/);
    expect(fromTape.code).toBe(0);
    expect(JSON.parse(fromTape.stdout).scenario).toBe('adverse');

    expect(conflict.code).toBe(1);
    expect(conflict.stderr).toMatch(/scenario is "adverse" in the tape but "baseline" in --scenario; send one/);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toMatch(/--scenario must be one of baseline, adverse, severely_adverse, historical/);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/--scenario\.national must hold 12 to 40 quarters, got 2/);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toMatch(/--scenario @.*nowhere\.json: cannot read the file/);
    expect(plain.code).toBe(0);
    expect(JSON.parse(plain.stdout)).not.toHaveProperty('scenario');
    expect(plain.stderr).toMatch(/--scenario: model plain reads no scenario features; it is ignored/);
    expect(device.code).toBe(2);
    expect(device.stderr).toMatch(/--scenario @\/dev\/zero: is not a regular file/);
    expect(huge.code).toBe(2);
    expect(huge.stderr).toMatch(/--scenario @.*huge\.json: the file has 70000 bytes, more than 65536/);
  }, 120_000);
});

describe('the CLI reads only the model it scores with', () => {
  it('is not stopped by another model broken in the directory, and still names every model of an unknown one', async () => {
    const models = join(dir, 'models-one-broken');
    mkdirSync(join(models, 'xgboost'), { recursive: true });
    mkdirSync(join(models, 'lda'), { recursive: true });
    writeFileSync(join(models, 'xgboost', '1.0.0.json'), readFileSync('model-artifacts/xgboost/1.0.0.json'));
    writeFileSync(join(models, 'lda', '1.0.0.json'), '{ not json');
    const [xgboost, lda, unknown, lifetime] = await Promise.all([
      cli(tape, '--model-dir', models, '--json', '--threads', '1'),
      cli(tape, '--model-dir', models, '--model', 'lda', '--threads', '1'),
      cli(tape, '--model-dir', join('model-artifacts'), '--model', 'nope', '--threads', '1'),
      cli(tape, '--lifetime', '--model-dir', models, '--json', '--threads', '1'),
    ]);
    expect(xgboost.code).toBe(0);
    expect(JSON.parse(xgboost.stdout)).toMatchObject({ model: 'xgboost', version: '1.0.0', loan_count: 400 });
    expect(lifetime.code).toBe(0);
    expect(JSON.parse(lifetime.stdout)).toMatchObject({ model: 'xgboost', version: '1.0.0', loan_count: 400 });
    expect(lda.code).toBe(2);
    expect(lda.stderr).toMatch(/lda\/1\.0\.0\.json: not valid JSON/);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain(
      'no model named "nope"; available: gradient_boosting, lda, logistic_regression, xgboost',
    );
  }, 60_000);
});
