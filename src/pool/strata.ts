/**
 * Pool stratification as agency MBS disclosures give it (issue 22 item 4; docs/API.md, "Stratification"):
 * balance-weighted averages (WA credit score, OLTV, OCLTV, DTI, note rate, original term, loan age) and,
 * per occupancy, purpose, channel, property type, units, MI coverage, loan-size bucket, first-time
 * homebuyer, state and vintage: loans, balance, balance share, the PD-weighted balance share (the share of
 * expected defaulted balance) and the balance-weighted PD. Streaming, in constant memory: sums per key.
 *
 * Weights are the original UPB (an origination tape has no current balance). A weighted average is over
 * the loans whose value is known; `known_upb_share` says how much of the balance that is.
 */

/** What the stratifier reads of a loan; missing values are null (sentinels already mapped). */
export interface StrataLoan {
  readonly original_upb: number;
  readonly credit_score: number | null;
  readonly ltv: number | null;
  readonly cltv: number | null;
  readonly dti: number | null;
  readonly original_interest_rate: number | null;
  readonly original_loan_term: number | null;
  readonly first_payment_date: number;
  readonly number_of_units: number | null;
  readonly mi_percent: number | null;
  readonly occupancy_status: string | null;
  readonly loan_purpose: string | null;
  readonly channel: string | null;
  readonly property_type: string | null;
  readonly first_time_homebuyer_flag: string | null;
  readonly property_state: string | null;
}

export interface WeightedAverage {
  /** Σ UPB × value / Σ UPB over the loans whose value is known (null when none is). */
  readonly value: number | null;
  /** Share of the pool's balance whose value is known (null for an empty pool). */
  readonly known_upb_share: number | null;
}

export interface StratumFigures {
  readonly stratum: string;
  readonly loans: number;
  readonly original_upb: number;
  readonly upb_share: number | null;
  /** This stratum's share of Σ PD × UPB: its share of the pool's expected defaulted balance. */
  readonly pd_upb_share: number | null;
  readonly upb_weighted_pd: number | null;
}

export interface Stratification {
  readonly loans: number;
  readonly original_upb: number;
  readonly average_loan_size: number | null;
  readonly largest_loan: number | null;
  readonly weighted_averages: Readonly<Record<WeightedName, WeightedAverage>>;
  readonly strata: Readonly<Record<StratumName, readonly StratumFigures[]>>;
}

export const WEIGHTED = ['credit_score', 'ltv', 'cltv', 'dti', 'note_rate', 'original_term', 'loan_age'] as const;
type WeightedName = (typeof WEIGHTED)[number];

export const STRATA = [
  'occupancy',
  'purpose',
  'channel',
  'property_type',
  'units',
  'mi_coverage',
  'loan_size',
  'first_time_homebuyer',
  'state',
  'vintage',
] as const;
type StratumName = (typeof STRATA)[number];

/**
 * Loan-size buckets of the agencies' specified pools by maximum original balance (the low-, medium- and
 * high-balance pool limits $85k, $110k, $125k, then $25k steps to $275k), upper bound inclusive.
 */
export const LOAN_SIZE_LIMITS: readonly number[] = [
  85_000, 110_000, 125_000, 150_000, 175_000, 200_000, 225_000, 250_000, 275_000,
];

const thousands = (x: number) => `${x / 1000}k`;

/** The buckets' labels, LOAN_SIZE_LIMITS' order then the one above the last limit (built once: a label a loan). */
const LOAN_SIZE_LABELS: readonly string[] = [
  ...LOAN_SIZE_LIMITS.map((limit, i) =>
    i === 0 ? `<=${thousands(limit)}` : `${thousands(LOAN_SIZE_LIMITS[i - 1] as number)}-${thousands(limit)}`,
  ),
  `>${thousands(LOAN_SIZE_LIMITS[LOAN_SIZE_LIMITS.length - 1] as number)}`,
];

export function loanSizeBucket(upb: number): string {
  let i = 0;
  while (i < LOAN_SIZE_LIMITS.length && !(upb <= (LOAN_SIZE_LIMITS[i] as number))) i++;
  return LOAN_SIZE_LABELS[i] as string;
}

/** MI coverage buckets (percent of the loan covered): none, 1-12, 12-25, 25-30, >30, upper bound inclusive. */
export function miBucket(mi: number | null): string {
  if (mi === null) return 'missing';
  if (mi === 0) return 'none';
  if (mi <= 12) return '0-12%';
  if (mi <= 25) return '12-25%';
  if (mi <= 30) return '25-30%';
  return '>30%';
}

class Keyed {
  readonly sums = new Map<string, [number, number, number]>();
  /** Adds another stratum's sums (see Stratifier.merge). */
  merge(other: ReadonlyMap<string, readonly [number, number, number]>): void {
    for (const [key, [n, upb, pdUpb]] of other) {
      const s = this.sums.get(key);
      if (s) {
        s[0] += n;
        s[1] += upb;
        s[2] += pdUpb;
      } else this.sums.set(key, [n, upb, pdUpb]);
    }
  }
  add(key: string, upb: number, pd: number): void {
    const s = this.sums.get(key);
    if (s) {
      s[0] += 1;
      s[1] += upb;
      s[2] += pd * upb;
    } else this.sums.set(key, [1, upb, pd * upb]);
  }
  figures(totalUpb: number, totalPdUpb: number, order: (keys: string[]) => string[]): StratumFigures[] {
    return order([...this.sums.keys()]).map((stratum) => {
      const [loans, upb, pdUpb] = this.sums.get(stratum) as [number, number, number];
      return {
        stratum,
        loans,
        original_upb: upb,
        upb_share: totalUpb > 0 ? upb / totalUpb : null,
        pd_upb_share: totalPdUpb > 0 ? pdUpb / totalPdUpb : null,
        upb_weighted_pd: upb > 0 ? pdUpb / upb : null,
      };
    });
  }
}

const alphabetical = (keys: string[]) => keys.sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
/** Keys in a fixed order (unknown ones after, alphabetically), "missing" last. */
const fixed =
  (order: readonly string[]) =>
  (keys: string[]): string[] => {
    const rank = (k: string) =>
      k === 'missing' ? Number.MAX_SAFE_INTEGER : order.includes(k) ? order.indexOf(k) : order.length;
    return keys.sort((a, b) => rank(a) - rank(b) || (a < b ? -1 : a > b ? 1 : 0));
  };
const numericKeys = (keys: string[]) =>
  keys.sort((a, b) => (a === 'missing' ? 1 : b === 'missing' ? -1 : Number(a) - Number(b)));

const ORDER: Readonly<Record<StratumName, (keys: string[]) => string[]>> = {
  occupancy: fixed(['P', 'S', 'I']),
  purpose: fixed(['P', 'C', 'N', 'R']),
  channel: fixed(['R', 'B', 'C', 'T']),
  property_type: fixed(['SF', 'PU', 'CO', 'MH', 'CP']),
  units: numericKeys,
  mi_coverage: fixed(['none', '0-12%', '12-25%', '25-30%', '>30%']),
  loan_size: fixed([...LOAN_SIZE_LIMITS.map(loanSizeBucket), loanSizeBucket(Number.POSITIVE_INFINITY)]),
  first_time_homebuyer: fixed(['Y', 'N']),
  state: alphabetical,
  vintage: numericKeys,
};

/** A Stratifier's sums (Stratifier.partial): plain data. */
export interface StrataPartial {
  readonly count: number;
  readonly upb: number;
  readonly pdUpb: number;
  readonly largest: number;
  readonly sum: readonly number[];
  readonly weight: readonly number[];
  /** Per stratum (STRATA's order): loans, UPB, Σ PD × UPB by key. */
  readonly strata: readonly ReadonlyMap<string, readonly [number, number, number]>[];
}

export class Stratifier {
  private count = 0;
  private upb = 0;
  private pdUpb = 0;
  private largest = 0;
  private readonly sum = new Float64Array(WEIGHTED.length);
  private readonly weight = new Float64Array(WEIGHTED.length);
  private readonly strata = new Map<StratumName, Keyed>(STRATA.map((s) => [s, new Keyed()]));
  private readonly keyed: readonly Keyed[] = STRATA.map((s) => this.strata.get(s) as Keyed);

  /** `asOf` (YYYYMM): the month loan age is counted to (months since the first payment, + 1); none: no loan age. */
  constructor(private readonly asOf?: number) {}

  add(loan: StrataLoan, pd: number): void {
    const upb = loan.original_upb;
    this.count++;
    this.upb += upb;
    this.pdUpb += pd * upb;
    if (upb > this.largest) this.largest = upb;
    const fpd = loan.first_payment_date;
    this.weigh(0, upb, loan.credit_score);
    this.weigh(1, upb, loan.ltv);
    this.weigh(2, upb, loan.cltv);
    this.weigh(3, upb, loan.dti);
    this.weigh(4, upb, loan.original_interest_rate);
    this.weigh(5, upb, loan.original_loan_term);
    if (this.asOf !== undefined) this.weigh(6, upb, Math.max(0, monthIndex(this.asOf) - monthIndex(fpd) + 1));
    // In STRATA's order.
    const k = this.keyed;
    (k[0] as Keyed).add(key(loan.occupancy_status), upb, pd);
    (k[1] as Keyed).add(key(loan.loan_purpose), upb, pd);
    (k[2] as Keyed).add(key(loan.channel), upb, pd);
    (k[3] as Keyed).add(key(loan.property_type), upb, pd);
    (k[4] as Keyed).add(key(loan.number_of_units), upb, pd);
    (k[5] as Keyed).add(miBucket(loan.mi_percent), upb, pd);
    (k[6] as Keyed).add(loanSizeBucket(upb), upb, pd);
    (k[7] as Keyed).add(key(loan.first_time_homebuyer_flag), upb, pd);
    (k[8] as Keyed).add(key(loan.property_state), upb, pd);
    (k[9] as Keyed).add(key(Math.floor(fpd / 100)), upb, pd);
  }

  /** Adds `upb × value` to weighted average `i` when the value is known. */
  private weigh(i: number, upb: number, value: number | null | undefined): void {
    if (value === null || value === undefined) return;
    this.sum[i] = (this.sum[i] as number) + upb * value;
    this.weight[i] = (this.weight[i] as number) + upb;
  }

  /** Loans added so far. */
  get loans(): number {
    return this.count;
  }

  /** The sums so far, as plain data (to send between threads and fold with merge()). */
  partial(): StrataPartial {
    return {
      count: this.count,
      upb: this.upb,
      pdUpb: this.pdUpb,
      largest: this.largest,
      sum: [...this.sum],
      weight: [...this.weight],
      strata: STRATA.map((s) => (this.strata.get(s) as Keyed).sums),
    };
  }

  /**
   * Adds a partial's sums to this one's: the same partials folded in the same order give the same figures,
   * bit for bit, whichever thread summed them (src/pool/lifetime.ts).
   */
  merge(p: StrataPartial): void {
    this.count += p.count;
    this.upb += p.upb;
    this.pdUpb += p.pdUpb;
    if (p.largest > this.largest) this.largest = p.largest;
    for (let i = 0; i < WEIGHTED.length; i++) {
      this.sum[i] = (this.sum[i] as number) + (p.sum[i] as number);
      this.weight[i] = (this.weight[i] as number) + (p.weight[i] as number);
    }
    STRATA.forEach((s, i) => {
      (this.strata.get(s) as Keyed).merge(p.strata[i] as Map<string, [number, number, number]>);
    });
  }

  figures(): Stratification {
    const total = this.upb;
    const n = this.count;
    return {
      loans: n,
      original_upb: total,
      average_loan_size: n > 0 ? total / n : null,
      largest_loan: n > 0 ? this.largest : null,
      weighted_averages: Object.fromEntries(
        WEIGHTED.map((name, i) => {
          const w = this.weight[i] as number;
          return [
            name,
            { value: w > 0 ? (this.sum[i] as number) / w : null, known_upb_share: total > 0 ? w / total : null },
          ];
        }),
      ) as Record<WeightedName, WeightedAverage>,
      strata: Object.fromEntries(
        STRATA.map((s) => [s, (this.strata.get(s) as Keyed).figures(total, this.pdUpb, ORDER[s])]),
      ) as Record<StratumName, StratumFigures[]>,
    };
  }
}

/** Small whole numbers' keys (units, vintage years), made once rather than a string a loan. */
const NUMBER_KEYS: string[] = [];
const key = (v: string | number | null): string => {
  if (v === null) return 'missing';
  if (typeof v === 'string') return v;
  if (Number.isInteger(v) && v >= 0 && v < 4096) {
    let k = NUMBER_KEYS[v];
    if (k === undefined) {
      k = String(v);
      NUMBER_KEYS[v] = k;
    }
    return k;
  }
  return String(v);
};

function monthIndex(yyyymm: number): number {
  return Math.floor(yyyymm / 100) * 12 + (yyyymm % 100) - 1;
}
