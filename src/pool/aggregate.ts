import { type BandSet, bandIndexer, bandLabels, DTI_BANDS, FICO_BANDS, LTV_BANDS, PD_BANDS } from './bands.js';

/**
 * Pool figures, accumulated loan by loan so that a tape of any length is summarised in constant
 * memory: sums per band, never the loans. Expected loss is Σ PD × LGD × EAD with EAD = original UPB
 * and one LGD for the pool, so every EL below is `lgd × Σ PD × UPB`.
 */

/** One row of a breakdown: the loans of one band (or state, or vintage). */
export interface BandFigures {
  readonly band: string;
  readonly loans: number;
  readonly original_upb: number;
  /** This band's share of the pool's original UPB (null for an empty pool). */
  readonly upb_share: number | null;
  /** Mean PD of the band's loans (null when it has none). */
  readonly average_pd: number | null;
  /** Σ PD × UPB / Σ UPB (null when it has none). */
  readonly upb_weighted_pd: number | null;
  readonly expected_loss: number;
}

export interface PoolFigures {
  readonly loan_count: number;
  readonly total_original_upb: number;
  /** Mean PD, every loan counting once (null for an empty pool). */
  readonly average_pd: number | null;
  /** Σ PD × UPB / Σ UPB (null for an empty pool). */
  readonly upb_weighted_pd: number | null;
  /** Σ PD × LGD × original UPB, in USD. */
  readonly expected_loss: number;
  /** expected_loss / total_original_upb (null for an empty pool). */
  readonly expected_loss_rate: number | null;
  readonly pd_bands: readonly BandFigures[];
  readonly by_fico: readonly BandFigures[];
  readonly by_ltv: readonly BandFigures[];
  readonly by_dti: readonly BandFigures[];
  /** By property state, alphabetical; only states present in the pool. */
  readonly by_state: readonly BandFigures[];
  /** By vintage (year of the first payment), ascending; only vintages present in the pool. */
  readonly by_vintage: readonly BandFigures[];
}

/** What the aggregator needs of a loan; missing values are null (sentinels already mapped). */
export interface PoolLoan {
  readonly original_upb: number;
  readonly credit_score: number | null;
  readonly ltv: number | null;
  readonly dti: number | null;
  readonly property_state: string;
  readonly first_payment_date: number;
}

class Sums {
  readonly loans: Float64Array;
  readonly upb: Float64Array;
  readonly pd: Float64Array;
  readonly pdUpb: Float64Array;
  constructor(n: number) {
    this.loans = new Float64Array(n);
    this.upb = new Float64Array(n);
    this.pd = new Float64Array(n);
    this.pdUpb = new Float64Array(n);
  }
  /** The first `n` slots' sums: loans, UPB, PD, PD × UPB. */
  partial(n: number): SumsPartial {
    return [this.loans.slice(0, n), this.upb.slice(0, n), this.pd.slice(0, n), this.pdUpb.slice(0, n)];
  }
  /** Adds slot `from` of a partial to slot `i`. */
  merge(i: number, p: SumsPartial, from: number): void {
    this.loans[i] = (this.loans[i] as number) + (p[0][from] as number);
    this.upb[i] = (this.upb[i] as number) + (p[1][from] as number);
    this.pd[i] = (this.pd[i] as number) + (p[2][from] as number);
    this.pdUpb[i] = (this.pdUpb[i] as number) + (p[3][from] as number);
  }
  add(i: number, upb: number, pd: number): void {
    this.loans[i] = (this.loans[i] as number) + 1;
    this.upb[i] = (this.upb[i] as number) + upb;
    this.pd[i] = (this.pd[i] as number) + pd;
    this.pdUpb[i] = (this.pdUpb[i] as number) + pd * upb;
  }
  figures(i: number, band: string, totalUpb: number, lgd: number): BandFigures {
    const loans = this.loans[i] as number;
    const upb = this.upb[i] as number;
    const pdUpb = this.pdUpb[i] as number;
    return {
      band,
      loans,
      original_upb: upb,
      upb_share: totalUpb > 0 ? upb / totalUpb : null,
      average_pd: loans > 0 ? (this.pd[i] as number) / loans : null,
      upb_weighted_pd: upb > 0 ? pdUpb / upb : null,
      expected_loss: lgd * pdUpb,
    };
  }
}

/** Sums' slots as plain data (Sums.partial): loans, UPB, PD, PD × UPB. */
type SumsPartial = readonly [Float64Array, Float64Array, Float64Array, Float64Array];

class BandedSums {
  readonly sums: Sums;
  readonly index: (value: number | null) => number;
  readonly labels: string[];
  constructor(readonly set: BandSet) {
    this.labels = bandLabels(set);
    this.sums = new Sums(this.labels.length);
    this.index = bandIndexer(set);
  }
  partial(): SumsPartial {
    return this.sums.partial(this.labels.length);
  }
  merge(p: SumsPartial): void {
    for (let i = 0; i < this.labels.length; i++) this.sums.merge(i, p, i);
  }
  figures(totalUpb: number, lgd: number): BandFigures[] {
    return this.labels.map((label, i) => this.sums.figures(i, label, totalUpb, lgd));
  }
}

interface KeyedPartial<K> {
  readonly keys: readonly K[];
  readonly sums: SumsPartial;
}

/** Sums keyed by a value from a small set (states, vintages), each key's slot made on first sight. */
class KeyedSums<K extends string | number> {
  private readonly slots = new Map<K, number>();
  private sums = new Sums(64);
  private slot(key: K): number {
    let slot = this.slots.get(key);
    if (slot === undefined) {
      slot = this.slots.size;
      if (slot === this.sums.loans.length) this.grow();
      this.slots.set(key, slot);
    }
    return slot;
  }
  add(key: K, upb: number, pd: number): void {
    const slot = this.slot(key); // first: it may grow the sums
    this.sums.add(slot, upb, pd);
  }
  /** The keys in the order first seen, and their sums. */
  partial(): KeyedPartial<K> {
    return { keys: [...this.slots.keys()], sums: this.sums.partial(this.slots.size) };
  }
  merge(p: KeyedPartial<K>): void {
    for (const [i, key] of p.keys.entries()) {
      const slot = this.slot(key);
      this.sums.merge(slot, p.sums, i);
    }
  }
  private grow(): void {
    const bigger = new Sums(this.sums.loans.length * 2);
    bigger.loans.set(this.sums.loans);
    bigger.upb.set(this.sums.upb);
    bigger.pd.set(this.sums.pd);
    bigger.pdUpb.set(this.sums.pdUpb);
    this.sums = bigger;
  }
  figures(totalUpb: number, lgd: number, compare: (a: K, b: K) => number): BandFigures[] {
    return [...this.slots.keys()]
      .sort(compare)
      .map((key) => this.sums.figures(this.slots.get(key) as number, String(key), totalUpb, lgd));
  }
}

/** A PoolAggregator's sums as plain data (PoolAggregator.partial): typed arrays, to transfer between threads. */
export interface AggregatePartial {
  readonly count: number;
  readonly upb: number;
  readonly pd: number;
  readonly pdUpb: number;
  /** PD, FICO, LTV and DTI bands, in that order. */
  readonly bands: readonly [SumsPartial, SumsPartial, SumsPartial, SumsPartial];
  readonly state: KeyedPartial<string>;
  readonly vintage: KeyedPartial<number>;
}

/** The typed arrays of a partial (to transfer them rather than copy). */
export function partialArrays(p: AggregatePartial): Float64Array[] {
  return [...p.bands.flat(), ...p.state.sums, ...p.vintage.sums];
}

export class PoolAggregator {
  private count = 0;
  private upb = 0;
  private pd = 0;
  private pdUpb = 0;
  private readonly pdBands = new BandedSums(PD_BANDS);
  private readonly fico = new BandedSums(FICO_BANDS);
  private readonly ltv = new BandedSums(LTV_BANDS);
  private readonly dti = new BandedSums(DTI_BANDS);
  private readonly state = new KeyedSums<string>();
  private readonly vintage = new KeyedSums<number>();

  /** `lgd`: loss given default, in (0, 1]. */
  constructor(readonly lgd: number) {}

  add(loan: PoolLoan, pd: number): void {
    const upb = loan.original_upb;
    this.count++;
    this.upb += upb;
    this.pd += pd;
    this.pdUpb += pd * upb;
    this.pdBands.sums.add(this.pdBands.index(pd), upb, pd);
    this.fico.sums.add(this.fico.index(loan.credit_score), upb, pd);
    this.ltv.sums.add(this.ltv.index(loan.ltv), upb, pd);
    this.dti.sums.add(this.dti.index(loan.dti), upb, pd);
    this.state.add(loan.property_state, upb, pd);
    this.vintage.add(Math.floor(loan.first_payment_date / 100), upb, pd);
  }

  /** The sums so far, as plain data (to send between threads and add with merge(); src/pool/groups.ts). */
  partial(): AggregatePartial {
    return {
      count: this.count,
      upb: this.upb,
      pd: this.pd,
      pdUpb: this.pdUpb,
      bands: [this.pdBands.partial(), this.fico.partial(), this.ltv.partial(), this.dti.partial()],
      state: this.state.partial(),
      vintage: this.vintage.partial(),
    };
  }

  /** Adds a partial's sums to these: the same partials added in the same order give the same figures, bit for bit. */
  merge(p: AggregatePartial): void {
    this.count += p.count;
    this.upb += p.upb;
    this.pd += p.pd;
    this.pdUpb += p.pdUpb;
    const [pdBands, fico, ltv, dti] = p.bands;
    this.pdBands.merge(pdBands);
    this.fico.merge(fico);
    this.ltv.merge(ltv);
    this.dti.merge(dti);
    this.state.merge(p.state);
    this.vintage.merge(p.vintage);
  }

  get loans(): number {
    return this.count;
  }

  figures(): PoolFigures {
    const total = this.upb;
    const lgd = this.lgd;
    const n = this.count;
    const el = lgd * this.pdUpb;
    return {
      loan_count: n,
      total_original_upb: total,
      average_pd: n > 0 ? this.pd / n : null,
      upb_weighted_pd: total > 0 ? this.pdUpb / total : null,
      expected_loss: el,
      expected_loss_rate: total > 0 ? el / total : null,
      pd_bands: this.pdBands.figures(total, lgd),
      by_fico: this.fico.figures(total, lgd),
      by_ltv: this.ltv.figures(total, lgd),
      by_dti: this.dti.figures(total, lgd),
      by_state: this.state.figures(total, lgd, (a, b) => (a < b ? -1 : a > b ? 1 : 0)),
      by_vintage: this.vintage.figures(total, lgd, (a, b) => a - b),
    };
  }
}
