/**
 * The bands a pool is broken down by. Each band is an interval of one value; a loan whose value is
 * missing (null) falls in the "missing" band. Bands are fixed so that answers for different pools line
 * up row by row, and so that every label is from a small known set.
 */

export interface Band {
  readonly label: string;
  /** Lower bound, or null for "no lower bound". */
  readonly min: number | null;
  /** Upper bound, or null for "no upper bound". */
  readonly max: number | null;
}

export interface BandSet {
  readonly name: string;
  /** Which end of an interval is closed: `[min, max)` ("lower") or `(min, max]` ("upper"). */
  readonly closed: 'lower' | 'upper';
  readonly bands: readonly Band[];
  /** Whether a "missing" band follows the others. */
  readonly missing: boolean;
}

const MISSING_BAND = 'missing';

/**
 * Cut points → bands. With `closed: 'lower'` a band is `[a, b)`, labelled `a-b` (first `<a`, last
 * `>=b`); with `'upper'` it is `(a, b]` (first `<=a`, last `>b`). `format` writes a cut point.
 */
function bandSet(
  name: string,
  cuts: readonly number[],
  closed: 'lower' | 'upper',
  missing: boolean,
  format: (x: number) => string = String,
): BandSet {
  const bands: Band[] = [];
  const first = cuts[0] as number;
  const last = cuts[cuts.length - 1] as number;
  bands.push({ label: `${closed === 'lower' ? '<' : '<='}${format(first)}`, min: null, max: first });
  for (let i = 1; i < cuts.length; i++) {
    const a = cuts[i - 1] as number;
    const b = cuts[i] as number;
    bands.push({ label: `${format(a)}-${format(b)}`, min: a, max: b });
  }
  bands.push({ label: `${closed === 'lower' ? '>=' : '>'}${format(last)}`, min: last, max: null });
  return { name, closed, bands, missing };
}

const percent = (x: number) => `${Math.round(x * 1000) / 10}%`;

/**
 * PD bands, `[a, b)`: <0.5%, 0.5-1%, 1-2%, 2-5%, 5-10%, 10-20%, >=20%. Dense where prime mortgage PDs
 * sit (the shipped models' holdout median is about 1 %), coarse in the tail.
 */
export const PD_BANDS = bandSet('pd', [0.005, 0.01, 0.02, 0.05, 0.1, 0.2], 'lower', false, percent);

/**
 * FICO, `[a, b)`: <620 (subprime by the usual GSE cut), 620-660, 660-700, 700-740, 740-780, >=780.
 * Integer scores, so 620-660 means 620–659.
 */
export const FICO_BANDS = bandSet('fico', [620, 660, 700, 740, 780], 'lower', true);

/**
 * LTV %, `(a, b]`: <=60, 60-70, 70-80, 80-90, 90-95, >95. Upper-closed because the thresholds that
 * matter are "at most": 80 % (no mortgage insurance needed) and 95 %.
 */
export const LTV_BANDS = bandSet('ltv', [60, 70, 80, 90, 95], 'upper', true);

/** DTI %, `(a, b]`: <=20, 20-30, 30-36, 36-43, 43-50, >50. 36 % and 43 % (QM) are underwriting cut-offs. */
export const DTI_BANDS = bandSet('dti', [20, 30, 36, 43, 50], 'upper', true);

/**
 * A function from a value (null = missing) to its band's index in `set.bands`, the missing band being
 * `set.bands.length`. Cut points are few: a linear scan is faster than a search.
 */
export function bandIndexer(set: BandSet): (value: number | null) => number {
  const cuts = Float64Array.from(set.bands.slice(1).map((b) => b.min as number));
  const n = cuts.length;
  const missing = set.bands.length;
  if (set.closed === 'lower') {
    return (value) => {
      if (value === null) return missing;
      let i = 0;
      while (i < n && value >= (cuts[i] as number)) i++;
      return i;
    };
  }
  return (value) => {
    if (value === null) return missing;
    let i = 0;
    while (i < n && value > (cuts[i] as number)) i++;
    return i;
  };
}

/** The labels of a band set, with "missing" last when the set has it. */
export function bandLabels(set: BandSet): string[] {
  return [...set.bands.map((b) => b.label), ...(set.missing ? [MISSING_BAND] : [])];
}
