import { readdirSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { BaselineDrift, readBinned, readStabilityBaseline } from '../../src/validation/index.js';

/** The tolerant reader of `training.stability_baseline` (src/validation/baseline.ts). */

describe('readStabilityBaseline', () => {
  it('reads numeric bins (with or without the missing bin in counts) and levels', () => {
    const b = readStabilityBaseline({
      stability_baseline: {
        score: { edges: [0.01, 0.02], counts: [5, 3, 2] },
        fields: {
          credit_score: { edges: [700], counts: [4, 5, 1] },
          dti: { edges: [36], counts: [4, 5], missing: 2 },
          channel: { levels: { R: 6, B: 4 }, other: 1 },
        },
      },
    });
    if ('reason' in b) throw new Error(b.reason);
    expect(b.score).toEqual({
      bins: { kind: 'numeric', edges: [0.01, 0.02] },
      counts: [5, 3, 2, 0],
      on: 'probability',
    });
    expect(b.fields.credit_score?.counts).toEqual([4, 5, 1]);
    expect(b.fields.dti?.counts).toEqual([4, 5, 2]);
    expect(b.fields.channel).toEqual({ bins: { kind: 'levels', levels: ['R', 'B'] }, counts: [6, 4, 1, 0] });
    expect(b.skipped).toEqual([]);
  });

  it.each([
    [{}, 'the artifact has no training.stability_baseline'],
    [{ stability_baseline: [] }, 'training.stability_baseline is not an object'],
    [{ stability_baseline: { fields: {} } }, 'training.stability_baseline.score is not an object'],
    [
      { stability_baseline: { score: { edges: [0.1], counts: [1] } } },
      'training.stability_baseline.score counts must have 2 entries (one more than the edges), or 3 with the missing bin last; got 1',
    ],
  ])('gives the reason there is no baseline: %j', (training, reason) => {
    expect(readStabilityBaseline(training)).toEqual({ reason });
  });

  it.each([
    [null, 'is not an object'],
    [{ edges: [1, Number.NaN], counts: [1, 1, 1] }, 'edges must be finite numbers'],
    [{ edges: [1], counts: [1, -1] }, 'counts must be an array of counts'],
    [{ edges: [1], counts: [1, 1], missing: 'x' }, 'missing must be a count'],
    [{ levels: { A: 'x' } }, 'levels must map each level to a count'],
    [{ levels: { A: 1 }, other: -1 }, 'other must be a count'],
    [{ quantiles: [] }, 'has neither edges and counts nor levels'],
  ])('skips a field it cannot read: %j', (entry, reason) => {
    expect(readBinned(entry)).toBe(reason);
  });

  it('bins the score on the margin when the baseline says log_odds', () => {
    const b = readStabilityBaseline({ stability_baseline: { score: { on: 'log_odds', edges: [0], counts: [1, 1] } } });
    if ('reason' in b) throw new Error(b.reason);
    const drift = new BaselineDrift(b);
    drift.add(0.9, 2.2, {});
    drift.add(0.9, 2.2, {});
    const r = drift.report();
    expect(r.score.sampleSize).toBe(2);
    expect(r.score.contributions[0]).toBeGreaterThan(0); // all in (0, ∞): the (−∞, 0] bin emptied
    expect(r.score.band).toBe('significant');
  });

  it('drops a field whose numeric bins do not fit the tape (codes), keeping the others', () => {
    const b = readStabilityBaseline({
      stability_baseline: {
        score: { edges: [0.5], counts: [1, 1] },
        fields: { channel: { edges: [1], counts: [1, 1] }, credit_score: { edges: [700], counts: [1, 1] } },
      },
    });
    if ('reason' in b) throw new Error(b.reason);
    const drift = new BaselineDrift(b);
    drift.add(0.1, -2, { channel: 'R', credit_score: 650 });
    drift.add(0.9, 2, { channel: 'B', credit_score: 750 });
    const r = drift.report();
    expect(Object.keys(r.fields)).toEqual(['credit_score']);
    expect(r.fields.credit_score?.psi).toBeCloseTo(0, 12);
    expect(r.skipped).toEqual([
      {
        field: 'channel',
        reason: expect.stringMatching(/^its bins do not fit the tape's values: channel must be a number/),
      },
    ]);
  });
});

describe('BaselineDrift.addMany (a chunk, column by column)', () => {
  it('counts as loan-by-loan adds do, grouped too, dropping a field that fails mid-chunk', () => {
    const b = readStabilityBaseline({
      stability_baseline: {
        score: { edges: [0.2, 0.5], counts: [3, 3, 3] },
        fields: {
          credit_score: { edges: [650, 700], counts: [2, 3, 4], missing: 1 },
          channel: { levels: { R: 4, B: 3 }, other: 1, missing: 0 },
          ltv: { edges: [80], counts: [5, 5] },
        },
      },
    });
    if ('reason' in b) throw new Error(b.reason);
    const n = 50;
    const pds = Float64Array.from({ length: n }, (_, i) => (i * 0.37) % 1);
    const margins = pds.map((p) => Math.log(p / (1 - p)));
    const records = Array.from({ length: n }, (_, i) => ({
      credit_score: i % 9 === 0 ? null : 600 + ((i * 17) % 180),
      channel: ['R', 'B', 'C', ''][i % 4],
      ltv: i === 31 ? 'high' : 60 + (i % 40), // a code in a numeric field, mid-chunk: ltv is dropped
      first_payment_date: 200001 + (i % 3),
    }));
    const groupOf = (r: Readonly<Record<string, unknown>>) => String(r.first_payment_date);
    const one = new BaselineDrift(b, groupOf);
    for (let i = 0; i < n; i++) one.add(pds[i] as number, margins[i] as number, records[i] as Record<string, unknown>);
    const many = new BaselineDrift(b, groupOf);
    many.addMany(pds.subarray(0, 20), margins.subarray(0, 20), records.slice(0, 20), 20);
    many.addMany(pds.subarray(20), margins.subarray(20), records.slice(20), n - 20);
    expect(many.report()).toEqual(one.report());
    expect(Object.keys(many.report().fields)).toEqual(['credit_score', 'channel']);
    expect(many.report().groups?.map((g) => g.sampleSize)).toEqual([17, 17, 16]);
  });
});

describe('the shipped artifacts’ stability baselines', () => {
  const dir = new URL('../../model-artifacts/', import.meta.url);
  const artifacts = readdirSync(dir, { recursive: true, encoding: 'utf8' }).filter((f) =>
    /\/\d+\.\d+\.\d+\.json$/.test(f),
  );

  it.each(artifacts)('%s: every field and the score are read, their counts summing to the training rows', (file) => {
    const doc = JSON.parse(readFileSync(new URL(file, dir), 'utf8'));
    const b = readStabilityBaseline(doc.training);
    if ('reason' in b) return expect.fail(b.reason);
    expect(b.skipped).toEqual([]);
    const rows = doc.training.stability_baseline.rows;
    expect(b.score.counts.reduce((s, c) => s + c, 0)).toBe(rows);
    expect(Object.keys(b.fields).sort()).toEqual(Object.keys(doc.training.stability_baseline.fields).sort());
    for (const f of Object.values(b.fields)) expect(f.counts.reduce((s, c) => s + c, 0)).toBe(rows);
  });
});
