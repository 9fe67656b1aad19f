import { fail } from './problems.js';

/**
 * The one accumulator that holds loans: the AUC, KS, deciles, Hosmer–Lemeshow and the calibration slope need
 * every score, so an OutcomeSample keeps them compactly: one Float64Array per score column (the PD; a
 * challenger's PD as a second column) and a Uint8Array of outcomes, grown by doubling. 9 bytes per loan for
 * one column (17 for two), so 9 MB per million loans, up to twice that while the last doubling is unfilled
 * (`trim()` releases the slack). Everything else (PD bands, PSI/CSI bins) is counted per bin
 * (BandAccumulator, BinCounter).
 */
export class OutcomeSample {
  readonly fields: readonly string[];
  private columns: Float64Array[];
  private outcomeArray: Uint8Array;
  private n = 0;

  /** `fields` name the score columns (the first is the PD); `probability` refuses values outside [0, 1]. */
  constructor(
    fields: readonly string[] = ['pd'],
    private readonly probability = true,
    capacity = 1024,
  ) {
    if (fields.length < 1) fail('fields', 'must name at least one score column');
    this.fields = [...fields];
    const c = Math.max(1, Math.floor(capacity));
    this.columns = fields.map(() => new Float64Array(c));
    this.outcomeArray = new Uint8Array(c);
  }

  /** Adds one loan: its outcome (0/1) and one score per field. */
  add(outcome: number, ...scores: number[]): void {
    if (outcome !== 0 && outcome !== 1) fail('outcomes', `must be 0 or 1, got ${outcome} (row ${this.n})`);
    if (scores.length !== this.columns.length) {
      fail('scores', `expected ${this.columns.length} scores (${this.fields.join(', ')}), got ${scores.length}`);
    }
    for (let k = 0; k < scores.length; k++) {
      const s = scores[k] as number;
      if (!Number.isFinite(s)) fail(this.fields[k] as string, `must be a finite number, got ${s} (row ${this.n})`);
      if (this.probability && !(s >= 0 && s <= 1)) {
        fail(this.fields[k] as string, `must be a probability from 0 to 1, got ${s} (row ${this.n})`);
      }
    }
    if (this.n === this.outcomeArray.length) this.grow(this.n * 2);
    for (let k = 0; k < scores.length; k++) (this.columns[k] as Float64Array)[this.n] = scores[k] as number;
    this.outcomeArray[this.n] = outcome;
    this.n++;
  }

  private grow(capacity: number): void {
    this.columns = this.columns.map((c) => {
      const next = new Float64Array(capacity);
      next.set(c.subarray(0, this.n));
      return next;
    });
    const o = new Uint8Array(capacity);
    o.set(this.outcomeArray.subarray(0, this.n));
    this.outcomeArray = o;
  }

  /** Releases the unfilled capacity. */
  trim(): void {
    this.grow(Math.max(1, this.n));
  }

  get size(): number {
    return this.n;
  }

  /** Bytes allocated for the arrays (capacity, not just the loans held). */
  get bytes(): number {
    return this.outcomeArray.length * (1 + 8 * this.columns.length);
  }

  /** The scores of a column (by index or field name), a view valid until the next add. */
  scores(column: number | string = 0): Float64Array {
    const k = typeof column === 'number' ? column : this.fields.indexOf(column);
    const c = this.columns[k];
    if (!c) fail('column', `is not a score column of this sample (${this.fields.join(', ')})`);
    return c.subarray(0, this.n);
  }

  /** The outcomes, a view valid until the next add. */
  get outcomes(): Uint8Array {
    return this.outcomeArray.subarray(0, this.n);
  }
}
