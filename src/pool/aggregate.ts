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

class BandedSums {
  readonly sums: Sums;
  readonly index: (value: number | null) => number;
  readonly labels: string[];
  constructor(readonly set: BandSet) {
    this.labels = bandLabels(set);
    this.sums = new Sums(this.labels.length);
    this.index = bandIndexer(set);
  }
  figures(totalUpb: number, lgd: number): BandFigures[] {
    return this.labels.map((label, i) => this.sums.figures(i, label, totalUpb, lgd));
  }
}

/** Sums keyed by a value from a small set (states, vintages), each key's slot made on first sight. */
class KeyedSums<K extends string | number> {
  private readonly slots = new Map<K, number>();
  private sums = new Sums(64);
  add(key: K, upb: number, pd: number): void {
    let slot = this.slots.get(key);
    if (slot === undefined) {
      slot = this.slots.size;
      if (slot === this.sums.loans.length) this.grow();
      this.slots.set(key, slot);
    }
    this.sums.add(slot, upb, pd);
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
    this.addValues(
      loan.original_upb,
      loan.credit_score,
      loan.ltv,
      loan.dti,
      loan.property_state,
      loan.first_payment_date,
      pd,
    );
  }

  /** `add` with the loan's values given one by one (loans scored in a worker thread). */
  addValues(
    upb: number,
    creditScore: number | null,
    ltv: number | null,
    dti: number | null,
    state: string,
    firstPaymentDate: number,
    pd: number,
  ): void {
    this.count++;
    this.upb += upb;
    this.pd += pd;
    this.pdUpb += pd * upb;
    this.pdBands.sums.add(this.pdBands.index(pd), upb, pd);
    this.fico.sums.add(this.fico.index(creditScore), upb, pd);
    this.ltv.sums.add(this.ltv.index(ltv), upb, pd);
    this.dti.sums.add(this.dti.index(dti), upb, pd);
    this.state.add(state, upb, pd);
    this.vintage.add(Math.floor(firstPaymentDate / 100), upb, pd);
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
