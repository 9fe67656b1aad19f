/**
 * Pool figures on hand-made loans whose values sit exactly on band cut points, with every expected
 * number worked out by hand (not by the formulas under test). Written for the survivors of
 * `npm run mutation` (docs/MUTATION.md): the tape tests score real loans, none of which sits on a cut.
 */
import { describe, expect, it } from 'vitest';
import { PoolAggregator, type PoolLoan } from '../../src/pool/aggregate.js';
import {
  type BandFigures,
  DTI_BANDS,
  FICO_BANDS,
  LTV_BANDS,
  PD_BANDS,
  poolAnswer,
  RESULT_HEADER,
  ResultBuffer,
  resultLines,
  type ScoredBatch,
} from '../../src/pool/index.js';
import { logit, type Model, sigmoid } from '../../src/runtime/index.js';

const loan = (over: Partial<PoolLoan> = {}): PoolLoan => ({
  original_upb: 100_000,
  credit_score: 700,
  ltv: 75,
  dti: 30,
  property_state: 'CA',
  first_payment_date: 200601,
  ...over,
});

/** The band a single loan lands in, for one breakdown. */
function bandOf(key: 'pd_bands' | 'by_fico' | 'by_ltv' | 'by_dti', over: Partial<PoolLoan>, pd = 0.01): string {
  const pool = new PoolAggregator(0.35);
  pool.add(loan(over), pd);
  const rows = pool.figures()[key].filter((b) => b.loans > 0);
  expect(rows).toHaveLength(1);
  return (rows[0] as BandFigures).band;
}

describe('band labels', () => {
  it('are the documented ones, in order, with "missing" last where a value can be missing', () => {
    const labels = (key: 'pd_bands' | 'by_fico' | 'by_ltv' | 'by_dti') =>
      new PoolAggregator(0.35).figures()[key].map((b) => b.band);
    expect(labels('pd_bands')).toEqual(['<0.5%', '0.5%-1%', '1%-2%', '2%-5%', '5%-10%', '10%-20%', '>=20%']);
    expect(labels('by_fico')).toEqual(['<620', '620-660', '660-700', '700-740', '740-780', '>=780', 'missing']);
    expect(labels('by_ltv')).toEqual(['<=60', '60-70', '70-80', '80-90', '90-95', '>95', 'missing']);
    expect(labels('by_dti')).toEqual(['<=20', '20-30', '30-36', '36-43', '43-50', '>50', 'missing']);
    expect([PD_BANDS.closed, FICO_BANDS.closed, LTV_BANDS.closed, DTI_BANDS.closed]).toEqual([
      'lower',
      'lower',
      'upper',
      'upper',
    ]);
  });
});

describe('a value on a cut point', () => {
  it('PD and FICO bands are [a, b): the cut belongs to the band above', () => {
    expect(bandOf('pd_bands', {}, 0.005)).toBe('0.5%-1%');
    expect(bandOf('pd_bands', {}, 0.004999)).toBe('<0.5%');
    expect(bandOf('pd_bands', {}, 0.2)).toBe('>=20%');
    expect(bandOf('pd_bands', {}, 0.19999)).toBe('10%-20%');
    expect(bandOf('pd_bands', {}, 0)).toBe('<0.5%');
    expect(bandOf('pd_bands', {}, 1)).toBe('>=20%');
    expect(bandOf('by_fico', { credit_score: 620 })).toBe('620-660');
    expect(bandOf('by_fico', { credit_score: 619 })).toBe('<620');
    expect(bandOf('by_fico', { credit_score: 780 })).toBe('>=780');
    expect(bandOf('by_fico', { credit_score: 779 })).toBe('740-780');
    expect(bandOf('by_fico', { credit_score: null })).toBe('missing');
  });

  it('LTV and DTI bands are (a, b]: the cut belongs to the band below', () => {
    expect(bandOf('by_ltv', { ltv: 80 })).toBe('70-80');
    expect(bandOf('by_ltv', { ltv: 80.01 })).toBe('80-90');
    expect(bandOf('by_ltv', { ltv: 60 })).toBe('<=60');
    expect(bandOf('by_ltv', { ltv: 95 })).toBe('90-95');
    expect(bandOf('by_ltv', { ltv: 96 })).toBe('>95');
    expect(bandOf('by_ltv', { ltv: null })).toBe('missing');
    expect(bandOf('by_dti', { dti: 36 })).toBe('30-36');
    expect(bandOf('by_dti', { dti: 43 })).toBe('36-43');
    expect(bandOf('by_dti', { dti: 20 })).toBe('<=20');
    expect(bandOf('by_dti', { dti: 50 })).toBe('43-50');
    expect(bandOf('by_dti', { dti: 51 })).toBe('>50');
    expect(bandOf('by_dti', { dti: null })).toBe('missing');
  });
});

describe('pool figures', () => {
  it('are worked out by hand for three loans', () => {
    const pool = new PoolAggregator(0.4);
    pool.add(loan({ original_upb: 100_000, property_state: 'TX', first_payment_date: 200611 }), 0.01);
    pool.add(loan({ original_upb: 300_000, property_state: 'CA', first_payment_date: 199912 }), 0.05);
    pool.add(loan({ original_upb: 100_000, property_state: 'TX', first_payment_date: 200601, ltv: 90 }), 0.1);
    expect(pool.loans).toBe(3);
    const f = pool.figures();
    expect(f.loan_count).toBe(3);
    expect(f.total_original_upb).toBe(500_000);
    expect(f.average_pd).toBeCloseTo(0.16 / 3, 15);
    // Σ PD × UPB = 1,000 + 15,000 + 10,000 = 26,000.
    expect(f.upb_weighted_pd).toBeCloseTo(26_000 / 500_000, 15);
    expect(f.expected_loss).toBeCloseTo(0.4 * 26_000, 9);
    expect(f.expected_loss_rate).toBeCloseTo((0.4 * 26_000) / 500_000, 15);

    const tx = f.by_state.find((b) => b.band === 'TX') as BandFigures;
    expect(f.by_state.map((b) => b.band)).toEqual(['CA', 'TX']);
    expect(tx.loans).toBe(2);
    expect(tx.original_upb).toBe(200_000);
    expect(tx.upb_share).toBeCloseTo(0.4, 15);
    expect(tx.average_pd).toBeCloseTo(0.055, 15);
    expect(tx.upb_weighted_pd).toBeCloseTo(11_000 / 200_000, 15);
    expect(tx.expected_loss).toBeCloseTo(0.4 * 11_000, 9);
    // Vintages ascending as numbers; two 2006 loans (November and January) in one vintage.
    expect(f.by_vintage.map((b) => [b.band, b.loans])).toEqual([
      ['1999', 1],
      ['2006', 2],
    ]);
    // The 80-90 LTV band holds only the third loan: 10 % PD, upb-weighted the same.
    const ltv = f.by_ltv.find((b) => b.band === '80-90') as BandFigures;
    expect([ltv.loans, ltv.original_upb, ltv.average_pd, ltv.upb_weighted_pd]).toEqual([1, 100_000, 0.1, 0.1]);
    const empty = f.by_ltv.find((b) => b.band === '>95') as BandFigures;
    expect(empty).toEqual({
      band: '>95',
      loans: 0,
      original_upb: 0,
      upb_share: 0,
      average_pd: null,
      upb_weighted_pd: null,
      expected_loss: 0,
    });
  });

  it('of an empty pool are zeros and nulls, never NaN', () => {
    const f = new PoolAggregator(0.35).figures();
    expect([f.loan_count, f.total_original_upb, f.expected_loss]).toEqual([0, 0, 0]);
    expect([f.average_pd, f.upb_weighted_pd, f.expected_loss_rate]).toEqual([null, null, null]);
    expect(f.pd_bands.every((b) => b.upb_share === null && b.average_pd === null)).toBe(true);
    expect([f.by_state, f.by_vintage]).toEqual([[], []]);
  });

  it('keep every state and vintage apart past the first 64 of each', () => {
    const pool = new PoolAggregator(0.5);
    // 100 keys: more than the 64 slots the keyed sums start with.
    // Added in a shuffled order (37 is prime to 100), so that the answer's order is the sort's doing.
    for (let n = 0; n < 100; n++) {
      const i = (n * 37) % 100;
      const state = `S${String(i).padStart(3, '0')}`;
      for (let k = 0; k <= i % 3; k++) {
        pool.add(loan({ property_state: state, first_payment_date: (1900 + i) * 100 + 1, original_upb: 1000 }), 0.02);
      }
    }
    const f = pool.figures();
    expect(f.by_state).toHaveLength(100);
    expect(f.by_vintage).toHaveLength(100);
    f.by_state.forEach((b, i) => {
      expect(b.band).toBe(`S${String(i).padStart(3, '0')}`);
      expect(b.loans).toBe((i % 3) + 1);
      expect(b.original_upb).toBe(1000 * ((i % 3) + 1));
      expect(b.average_pd).toBeCloseTo(0.02, 15);
      expect(b.upb_weighted_pd).toBeCloseTo(0.02, 15);
    });
    expect(f.by_vintage.map((b) => Number(b.band))).toEqual(Array.from({ length: 100 }, (_, i) => 1900 + i));
  });
});

describe('the pool answer', () => {
  it('names the model, the LGD, the exposure basis and every rejected row in the file’s terms', () => {
    const pool = new PoolAggregator(0.3);
    pool.add(loan(), 0.02);
    const answer = poolAnswer({ name: 'xgboost', version: '1.0.0' } as unknown as Model, 0.3, {
      format: 'csv',
      bytes: 100,
      rows: 3,
      figures: pool.figures(),
      rejectedCount: 2,
      rejected: [
        { row: 3, loan_sequence_number: 'F2', problems: [{ field: 'credit_score', message: 'must be a number' }] },
        { row: 4, problems: [{ field: 'ltv', message: 'is required' }] },
      ],
    });
    expect(answer).toMatchObject({
      model: 'xgboost',
      version: '1.0.0',
      format: 'csv',
      lgd: 0.3,
      ead: 'original_upb',
      rows: 3,
      loan_count: 1,
      expected_loss: 0.3 * 0.02 * 100_000,
    });
    expect(answer.rejected).toEqual({
      count: 2,
      rows: [
        {
          row: 3,
          loan_sequence_number: 'F2',
          problems: [{ field: 'line 3, credit_score', message: 'must be a number' }],
        },
        { row: 4, problems: [{ field: 'line 4, ltv', message: 'is required' }] },
      ],
    });
  });
});

/** One scored chunk of two loans, with a padding entry beyond `count` that must not be written. */
function batch(threshold: number): ScoredBatch {
  return {
    count: 2,
    rows: Float64Array.of(2, 3, 99),
    loans: [
      { loan_sequence_number: 'F1', original_upb: 200_000 },
      { original_upb: 100_000 },
      { loan_sequence_number: 'PAD', original_upb: 1 },
    ],
    probability: Float64Array.of(0.25, 0.5, 0.9),
    margin: Float64Array.of(logit(0.25), 0, 2),
    lgd: 0.4,
    decisionThreshold: threshold,
  };
}

describe('per-loan results', () => {
  it('write PD, log-odds, the decision (PD ≥ threshold) and EL = PD × LGD × UPB, on both outputs', () => {
    const expected = [`2,F1,0.25,${logit(0.25)},true,20000`, '3,,0.5,0,true,20000'];
    expect(resultLines(batch(0.25)).trim().split('\n')).toEqual(expected);
    const buffer = new ResultBuffer(0.25);
    buffer.add(batch(0.25));
    expect(buffer.length).toBe(2);
    expect([...buffer.csv()].join('')).toBe(`${RESULT_HEADER}${expected.join('\n')}\n`);
    expect(JSON.parse(`[${[...buffer.json()].join('')}]`)).toEqual([
      {
        row: 2,
        loan_sequence_number: 'F1',
        probability_of_default: 0.25,
        log_odds: logit(0.25),
        above_cutoff: true,
        expected_loss: 20_000,
      },
      { row: 3, probability_of_default: 0.5, log_odds: 0, above_cutoff: true, expected_loss: 20_000 },
    ]);
    // Above the first loan's PD, below the second's.
    const strict = new ResultBuffer(0.3);
    strict.add(batch(0.3));
    expect([...strict.csv()].join('').split('\n')[1]).toBe(`2,F1,0.25,${logit(0.25)},false,20000`);
    expect(resultLines(batch(0.3)).split('\n')[0]).toBe(`2,F1,0.25,${logit(0.25)},false,20000`);
  });

  it('keep every identifier and row across many chunks and pieces', () => {
    const buffer = new ResultBuffer(0.5);
    const n = 3000;
    for (let start = 0; start < n; start += 500) {
      const loans = Array.from({ length: 500 }, (_, i) => ({
        // Long identifiers, some without one, non-ASCII in places: the byte store must grow.
        ...((start + i) % 7 === 0 ? {} : { loan_sequence_number: `ID-${start + i}-${'é'.repeat((start + i) % 40)}` }),
        original_upb: 1000,
      }));
      buffer.add({
        count: 500,
        rows: Float64Array.from(loans, (_, i) => start + i + 2),
        loans,
        probability: Float64Array.from(loans, (_, i) => ((start + i) % 100) / 100),
        margin: new Float64Array(500),
        lgd: 1,
        decisionThreshold: 0.5,
      });
    }
    expect(buffer.length).toBe(n);
    const lines = [...buffer.csv(128)].join('').trim().split('\n').slice(1);
    const json = JSON.parse(`[${[...buffer.json(100)].join('')}]`) as Record<string, unknown>[];
    expect(lines).toHaveLength(n);
    expect(json).toHaveLength(n);
    for (let k = 0; k < n; k++) {
      const id = k % 7 === 0 ? undefined : `ID-${k}-${'é'.repeat(k % 40)}`;
      const pd = (k % 100) / 100;
      expect(lines[k]).toBe(`${k + 2},${id ?? ''},${pd},0,${pd >= 0.5},${pd * 1000}`);
      expect(json[k]?.loan_sequence_number).toBe(id);
      expect(json[k]?.row).toBe(k + 2);
    }
  });
});

describe('link functions', () => {
  it('logit inverts sigmoid, and both are the textbook functions', () => {
    expect(logit(0.5)).toBe(0);
    expect(logit(0.25)).toBeCloseTo(-Math.log(3), 15);
    expect(logit(0.8)).toBeCloseTo(Math.log(4), 15);
    expect(sigmoid(0)).toBe(0.5);
    expect(sigmoid(Math.log(3))).toBeCloseTo(0.75, 15);
    for (const m of [-8, -1.5, 0.3, 4]) expect(logit(sigmoid(m))).toBeCloseTo(m, 12);
  });
});
