import { describe, expect, it } from 'vitest';
import { PoolAggregator, type PoolLoan } from '../../src/pool/aggregate.js';
import { GroupedSums, type Summable } from '../../src/pool/groups.js';
import { type StrataLoan, Stratifier } from '../../src/pool/strata.js';
import { holdoutLoans } from '../helpers/app.js';

/**
 * Sums folded by groups of records (src/pool/groups.ts): each group summed afresh, the groups added in order,
 * the same whether the groups are summed here or apart (as tape worker threads do) and added after.
 */

const loans = holdoutLoans.slice(0, 300) as unknown as (PoolLoan & StrataLoan)[];
const pd = (i: number) => 0.001 + (i % 97) / 331;
/** Record numbers with a gap now and then (refused records: counted, not summed). */
const record = (i: number) => 2 + i + Math.floor(i / 50);

function check<S extends Summable<P> & { figures(): unknown; add(loan: PoolLoan & StrataLoan, pd: number): void }, P>(
  make: () => S,
) {
  const grouped = new GroupedSums<S, P>(make, 64);
  for (const [i, l] of loans.entries()) grouped.group(record(i)).add(l, pd(i));
  // The same groups summed apart, a run of whole groups at a time, their sums added in order.
  const apart = new GroupedSums<S, P>(make, 64, true);
  const totals = new GroupedSums<S, P>(make, 64);
  expect(record(186)).toBe(191); // the last loan of records [128, 192)
  for (const [i, l] of loans.entries()) {
    apart.group(record(i)).add(l, pd(i));
    if (i === 186) for (const p of apart.takeParts()) totals.merge(p);
  }
  const kept = apart.takeParts();
  expect(kept).toHaveLength(2); // records [192, 256) and [256, 306)
  for (const p of kept) totals.merge(p);
  const figures = JSON.stringify(grouped.sums().figures());
  expect(JSON.stringify(totals.sums().figures())).toBe(figures);
  // Not one sum over all the loans: the groups' sums are added (the last bits differ on these loans).
  const flat = make();
  for (const [i, l] of loans.entries()) flat.add(l, pd(i));
  expect(JSON.stringify(flat.figures())).not.toBe(figures);
  // A group cut in two is not a group: its halves added give other bits.
  const cut = new GroupedSums<S, P>(make, 64, true);
  const cutTotals = make();
  for (const [i, l] of loans.entries()) {
    cut.group(record(i)).add(l, pd(i));
    if (i === 150) for (const p of cut.takeParts()) cutTotals.merge(p);
  }
  for (const p of cut.takeParts()) cutTotals.merge(p);
  expect(JSON.stringify(cutTotals.figures())).not.toBe(figures);
}

describe('sums folded by groups of records', () => {
  it('give the stratification the same bits summed here or apart, group by group', () => {
    check(() => new Stratifier());
  });

  it('give the pool figures the same bits summed here or apart, group by group', () => {
    check(() => new PoolAggregator(0.35));
  });
});

describe('pool figures added from partials', () => {
  it('keep every state and vintage apart past the first 64 of each', () => {
    const parts = Array.from({ length: 4 }, (_, g) => {
      const pool = new PoolAggregator(0.35);
      for (let i = g; i < 100; i += 4) {
        const l = { ...(loans[i] as PoolLoan), property_state: `S${String(i).padStart(3, '0')}` };
        pool.add({ ...l, first_payment_date: (1900 + i) * 100 + 1 }, pd(i));
      }
      return pool.partial();
    });
    const totals = new PoolAggregator(0.35);
    for (const p of parts) totals.merge(p);
    const f = totals.figures();
    expect(f.loan_count).toBe(100);
    expect(f.by_state.map((b) => [b.band, b.loans])).toEqual(
      Array.from({ length: 100 }, (_, i) => [`S${String(i).padStart(3, '0')}`, 1]),
    );
    expect(f.by_vintage.map((b) => [Number(b.band), b.average_pd])).toEqual(
      Array.from({ length: 100 }, (_, i) => [1900 + i, pd(i)]),
    );
  });
});
