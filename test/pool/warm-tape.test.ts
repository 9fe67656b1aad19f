import { Writable } from 'node:stream';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { buildApp } from '../../src/app.js';
import { loadConfig } from '../../src/config.js';
import { LOAN_FIELDS } from '../../src/loan/record.js';
import { DEFAULT_LGD, TapeRun, TapeThreads } from '../../src/pool/index.js';
import { syntheticTapeRows, warmTapeThreads } from '../../src/pool/warm-tape.js';
import { loadModelFile } from '../../src/runtime/index.js';
import { checkScenario, type Scenario } from '../../src/scenario/index.js';
import { parseCsv } from './helpers.js';

const xgboost = await loadModelFile('model-artifacts/xgboost/1.0.0.json');
const baseline = checkScenario('baseline', 'scenario').scenario as Scenario;

describe('the synthetic warm-up tape', () => {
  const { header, rows } = syntheticTapeRows(3000);

  it('is valid loan records, every one: the tape refuses none when invalid rows fail it', async () => {
    const tape = new TapeRun({
      model: xgboost,
      lgd: DEFAULT_LGD,
      onError: 'fail',
      maxRows: Number.POSITIVE_INFINITY,
      format: 'csv',
      scenario: baseline,
    });
    await tape.push(Buffer.from(header + rows));
    const result = await tape.end();
    expect(result.rows).toBe(3000);
    expect(result.rejectedCount).toBe(0);
  });

  it('draws every field of the contract across its values, with blanks in optional ones, the same at every start', () => {
    expect(syntheticTapeRows(3000)).toEqual({ header, rows });
    expect(syntheticTapeRows(3000, 1).rows).not.toBe(rows);
    const [names, ...table] = parseCsv(header + rows);
    expect(names).toEqual(LOAN_FIELDS.map((f) => f.name));
    expect(table).toHaveLength(3000);
    for (const [k, field] of LOAN_FIELDS.entries()) {
      const values = new Set(table.map((r) => r[k]));
      if (!field.required) expect(values.has(''), field.name).toBe(true);
      values.delete('');
      if (field.kind === 'text') continue;
      // Varied: a warm-up on one repeated value would leave the code optimised for that value alone.
      const possible =
        field.kind === 'code' ? Object.keys(field.codes).length : field.integer ? field.max - field.min + 1 : 10;
      expect(values.size, field.name).toBeGreaterThanOrEqual(Math.min(10, possible));
    }
  });
});

describe('warmTapeThreads', () => {
  const threads = new TapeThreads({ size: 2, compileTrees: true });
  afterAll(() => threads.close());

  const warm = async (budgetMs: number, groupsPerThread?: number) => {
    const artifact = await threads.artifact(xgboost);
    if (!('bytes' in artifact)) throw new Error(artifact.why);
    return warmTapeThreads({
      pool: threads,
      artifact: artifact.bytes,
      model: xgboost,
      scenario: baseline,
      budgetMs,
      ...(groupsPerThread === undefined ? {} : { groupsPerThread }),
    });
  };

  it('scores synthetic tapes on the threads, with and without per-loan results, and reports them', async () => {
    const report = await warm(60_000, 2);
    // Two tapes of max(threads, groups / 2) = 2 groups of 8,192 loans each.
    expect(report).toMatchObject({ tapes: 2, loans: 4 * 8192, rows: 4 * 8192 });
    expect(report.stopped).toBeUndefined();
  });

  it('stops at the time budget and says so, without throwing', async () => {
    const report = await warm(-1);
    expect(report).toMatchObject({ tapes: 0, loans: 0, stopped: 'budget' });
  });
});

describe('the service warms its tape threads before it listens (no cold start, issue 20 item 4)', () => {
  const apps: ReturnType<typeof buildApp>[] = [];
  afterEach(async () => {
    await Promise.all(apps.splice(0).map((app) => app.close()));
  });

  const start = async (env: Record<string, string>) => {
    const lines: Record<string, unknown>[] = [];
    const logStream = new Writable({
      write(chunk, _encoding, done) {
        for (const line of String(chunk).split('\n')) if (line.trim() !== '') lines.push(JSON.parse(line));
        done();
      },
    });
    const app = buildApp(loadConfig({ LOG_LEVEL: 'info', ...env }), { logger: { level: 'info', stream: logStream } });
    apps.push(app);
    await app.ready();
    return lines.filter((l) => l.msg === 'tape threads warmed');
  };

  it('with POOL_THREADS > 1 and the warm-up on: the default model, every thread, before ready', async () => {
    const warmed = await start({ POOL_THREADS: '2', MODEL_WARMUP_MS: '20000' });
    expect(warmed).toHaveLength(1);
    expect(warmed[0]?.tape_warmup).toMatchObject({ model: 'xgboost', tapes: 2, loans: 8 * 8192, rows: 8 * 8192 });
  }, 120_000);

  it('not with one tape thread, nor with the warm-up off', async () => {
    expect(await start({ POOL_THREADS: '1', MODEL_WARMUP_MS: '200' })).toHaveLength(0);
    expect(await start({ POOL_THREADS: '2', MODEL_WARMUP_MS: '0' })).toHaveLength(0);
  }, 120_000);
});
