import {
  type BinCounter,
  type Bins,
  DEFAULT_STABILITY,
  DriftAccumulator,
  type Stability,
  type StabilityPolicy,
} from './drift.js';
import { ValidationInputError } from './problems.js';

/**
 * The stability baseline an artifact may carry (`training.stability_baseline`, written by the training
 * pipeline): counts of the development sample per bin, so that a backtest's tape is compared with it (PSI of
 * the score, CSI of each field; docs/VALIDATION.md, "Stability baseline"). The layout read here:
 *
 *   {
 *     "score":  { "edges": [c1, …, cK], "counts": [n0, …, nK], "missing": 0 },
 *     "fields": {
 *       "credit_score": { "edges": [...], "counts": [...], "missing": 12 },
 *       "channel":      { "levels": { "R": 5100, "B": 2300, "C": 2600 }, "other": 0, "missing": 0 },
 *       "occupancy_status": { "levels": ["P", "S", "I"], "counts": [9000, 400, 600, 0, 12] }
 *     }
 *   }
 *
 * Numeric bins are right-closed between the interior edges, (−∞, c1], (c1, c2], …, (cK, ∞): `counts` has
 * K + 1 entries (K + 2 when the last one is the missing bin, then `missing` must be absent). Levels come as
 * an object of counts, or (as `npm run train` writes them) an array with `counts` for each level, other and missing. `score` is the
 * PD (a probability; `"on": "log_odds"` for edges on the margin). Categorical fields count their levels; a
 * level the baseline did not have falls in `other`. The reader is tolerant: a field it cannot read is left
 * out with the reason (`skipped`), never a refusal of the backtest; a baseline without a readable score is
 * no baseline (`reason`).
 */

export interface BinnedBaseline {
  readonly bins: Bins;
  /** Counts in binLabels(bins) order (…, other for levels, missing). */
  readonly counts: readonly number[];
}

export interface StabilityBaseline {
  readonly score: BinnedBaseline & { readonly on: 'probability' | 'log_odds' };
  readonly fields: Readonly<Record<string, BinnedBaseline>>;
  readonly skipped: readonly { readonly field: string; readonly reason: string }[];
}

const isObject = (x: unknown): x is Record<string, unknown> => typeof x === 'object' && x !== null && !Array.isArray(x);
const isCount = (x: unknown): x is number => typeof x === 'number' && Number.isFinite(x) && x >= 0;

/** One field's (or the score's) bins and counts, or why they cannot be read. */
export function readBinned(entry: unknown): BinnedBaseline | string {
  if (!isObject(entry)) return 'is not an object';
  const missing = entry.missing;
  if (missing !== undefined && !isCount(missing)) return 'missing must be a count';
  if (Array.isArray(entry.edges)) {
    const edges = entry.edges;
    if (!edges.every((e) => typeof e === 'number' && Number.isFinite(e))) return 'edges must be finite numbers';
    for (let i = 1; i < edges.length; i++) {
      if (!((edges[i] as number) > (edges[i - 1] as number))) return 'edges must be strictly increasing';
    }
    const counts = entry.counts;
    if (!Array.isArray(counts) || !counts.every(isCount)) return 'counts must be an array of counts';
    const k = edges.length + 1;
    if (counts.length === k) return { bins: { kind: 'numeric', edges }, counts: [...counts, missing ?? 0] };
    if (counts.length === k + 1 && missing === undefined) return { bins: { kind: 'numeric', edges }, counts };
    return `counts must have ${k} entries (one more than the edges), or ${k + 1} with the missing bin last; got ${counts.length}`;
  }
  if (Array.isArray(entry.levels)) {
    // The training pipeline's layout: the levels, and counts for each, then other, then missing.
    const levels = entry.levels;
    if (!levels.every((l) => typeof l === 'string') || new Set(levels).size !== levels.length) {
      return 'levels must be distinct strings';
    }
    const counts = entry.counts;
    if (!Array.isArray(counts) || !counts.every(isCount)) return 'counts must be an array of counts';
    if (counts.length !== levels.length + 2 || missing !== undefined) {
      return `counts must have ${levels.length + 2} entries (each level, other, missing); got ${counts.length}`;
    }
    return { bins: { kind: 'levels', levels: levels as string[] }, counts };
  }
  if (isObject(entry.levels)) {
    const levels = Object.keys(entry.levels);
    const counts = Object.values(entry.levels);
    if (!counts.every(isCount)) return 'levels must map each level to a count';
    const other = entry.other ?? 0;
    if (!isCount(other)) return 'other must be a count';
    return { bins: { kind: 'levels', levels }, counts: [...counts, other, missing ?? 0] };
  }
  return 'has neither edges and counts nor levels';
}

/** The artifact's stability baseline, or why there is none. */
export function readStabilityBaseline(
  training: Readonly<Record<string, unknown>>,
): StabilityBaseline | { reason: string } {
  const raw = training.stability_baseline;
  if (raw === undefined || raw === null) return { reason: 'the artifact has no training.stability_baseline' };
  if (!isObject(raw)) return { reason: 'training.stability_baseline is not an object' };
  const score = readBinned(raw.score);
  if (typeof score === 'string') return { reason: `training.stability_baseline.score ${score}` };
  const on = raw.score !== undefined && isObject(raw.score) && raw.score.on === 'log_odds' ? 'log_odds' : 'probability';
  const fields: Record<string, BinnedBaseline> = {};
  const skipped: { field: string; reason: string }[] = [];
  if (isObject(raw.fields)) {
    for (const [name, entry] of Object.entries(raw.fields)) {
      const read = readBinned(entry);
      if (typeof read === 'string') skipped.push({ field: name, reason: read });
      else fields[name] = read;
    }
  } else if (raw.fields !== undefined) skipped.push({ field: 'fields', reason: 'is not an object' });
  return { score: { ...score, on }, fields, skipped };
}

export interface DriftEntry extends Stability {
  readonly labels: readonly string[];
}

/** The score's PSI within one group of loans (a month of origination, a vintage). */
export interface GroupDriftEntry extends Stability {
  readonly group: string;
}

export interface DriftJson {
  readonly score: DriftEntry;
  readonly fields: Readonly<Record<string, DriftEntry>>;
  readonly skipped: readonly { readonly field: string; readonly reason: string }[];
  readonly policy: StabilityPolicy;
  /** With a grouping: the score's PSI per group against the whole baseline, groups in ascending order. */
  readonly groups?: readonly GroupDriftEntry[];
}

/**
 * What a run of a tape (read on a worker thread) added to the baseline's bins: integer counts, so that
 * adding the runs' counts in any order gives the counts of one thread exactly; the fields the run dropped
 * (bins that do not fit its values), in the order it dropped them.
 */
export interface DriftPartial {
  readonly score: Float64Array;
  readonly fields: readonly { readonly name: string; readonly counts: Float64Array }[];
  readonly dropped: readonly { readonly field: string; readonly reason: string }[];
  readonly groups: readonly { readonly key: string; readonly counts: Float64Array }[];
}

const addCounts = (to: Float64Array, from: Float64Array) => {
  for (let i = 0; i < to.length; i++) to[i] = (to[i] as number) + (from[i] as number);
};

/** Streams a tape's scores and fields into the baseline's bins (one count a bin). */
export class BaselineDrift {
  private readonly score: DriftAccumulator;
  /** One accumulator a field: a field whose baseline bins do not fit the tape's values is dropped alone. */
  private readonly fields = new Map<string, DriftAccumulator>();
  /** Each field's name and counter, fed a column at a time. */
  private counters: { name: string; counter: BinCounter }[] = [];
  private readonly skipped: { field: string; reason: string }[];
  /** The score's counts per group (one count a bin a group), when grouped. */
  private readonly groups = new Map<string, DriftAccumulator>();
  private readonly one = { pd: new Float64Array(1), margin: new Float64Array(1), records: [{}] };

  /** `groupOf`: a loan's group for the score's PSI per group (e.g. its month of origination). */
  constructor(
    readonly baseline: StabilityBaseline,
    private readonly groupOf?: (record: Readonly<Record<string, unknown>>) => string,
  ) {
    this.score = new DriftAccumulator({ score: { bins: baseline.score.bins, baseline: baseline.score.counts } });
    for (const [name, b] of Object.entries(baseline.fields)) {
      const drift = new DriftAccumulator({ [name]: { bins: b.bins, baseline: b.counts } });
      this.fields.set(name, drift);
      this.counters.push({ name, counter: drift.counter(name) as BinCounter });
    }
    this.skipped = [...baseline.skipped];
  }

  /** One loan: its PD and margin, and its record (loan fields, scenario features). */
  add(pd: number, margin: number, record: Readonly<Record<string, unknown>>): void {
    const one = this.one;
    one.pd[0] = pd;
    one.margin[0] = margin;
    one.records[0] = record;
    this.addMany(one.pd, one.margin, one.records, 1);
  }

  /**
   * The first `n` loans of a scored chunk: their PDs and margins, and their records. Column by column (one
   * field over the chunk, then the next): the same counts as loan by loan, at a fraction of the cost.
   */
  addMany(
    pds: ArrayLike<number>,
    margins: ArrayLike<number>,
    records: readonly Readonly<Record<string, unknown>>[],
    n: number,
  ): void {
    const scores = this.baseline.score.on === 'log_odds' ? margins : pds;
    const score = this.score.counter('score') as BinCounter;
    for (let i = 0; i < n; i++) score.add(scores[i] as number);
    if (this.groupOf !== undefined) {
      for (let i = 0; i < n; i++) {
        this.groupCounter(this.groupOf(records[i] as Readonly<Record<string, unknown>>)).add(scores[i] as number);
      }
    }
    let dropped = false;
    for (const { name, counter } of this.counters) {
      try {
        for (let i = 0; i < n; i++) {
          counter.add((records[i] as Readonly<Record<string, unknown>>)[name] as number | string | null | undefined);
        }
      } catch (err) {
        if (!(err instanceof ValidationInputError)) throw err;
        // Numeric edges for a field whose values are codes: the baseline does not fit this field.
        this.fields.delete(name);
        this.skipped.push({ field: name, reason: `its bins do not fit the tape's values: ${err.message}` });
        dropped = true;
      }
    }
    if (dropped) this.counters = this.counters.filter(({ name }) => this.fields.has(name));
  }

  /** The counts so far, and the fields dropped since the start (for a worker's run: see DriftPartial). */
  partial(): DriftPartial {
    const skippedBefore = this.baseline.skipped.length;
    return {
      score: Float64Array.from((this.score.counter('score') as BinCounter).counts),
      fields: this.counters.map(({ name, counter }) => ({ name, counts: Float64Array.from(counter.counts) })),
      dropped: this.skipped.slice(skippedBefore),
      groups: [...this.groups].map(([key, g]) => ({
        key,
        counts: Float64Array.from((g.counter('score') as BinCounter).counts),
      })),
    };
  }

  /**
   * Adds a run's counts (runs in input order): a field the run dropped is dropped here (with the run's
   * reason) unless it already was, as one thread drops it at its first misfit value.
   */
  merge(part: DriftPartial): void {
    addCounts((this.score.counter('score') as BinCounter).counts, part.score);
    for (const { field, reason } of part.dropped) {
      if (!this.fields.has(field)) continue;
      this.fields.delete(field);
      this.skipped.push({ field, reason });
    }
    if (part.dropped.length > 0) this.counters = this.counters.filter(({ name }) => this.fields.has(name));
    for (const { name, counts } of part.fields) {
      const counter = this.fields.get(name)?.counter(name);
      if (counter !== undefined) addCounts(counter.counts, counts);
    }
    for (const { key, counts } of part.groups) addCounts(this.groupCounter(key).counts, counts);
  }

  private groupCounter(key: string): BinCounter {
    let group = this.groups.get(key);
    if (group === undefined) {
      const s = this.baseline.score;
      group = new DriftAccumulator({ score: { bins: s.bins, baseline: s.counts } });
      this.groups.set(key, group);
    }
    return group.counter('score') as BinCounter;
  }

  /** PSI of the score and CSI per field. */
  report(policy: StabilityPolicy = DEFAULT_STABILITY): DriftJson {
    const score = this.score.report(policy).score as DriftEntry;
    const fields: Record<string, DriftEntry> = {};
    for (const drift of this.fields.values()) Object.assign(fields, drift.report(policy));
    if (this.groupOf === undefined) return { score, fields, skipped: this.skipped, policy };
    const groups = [...this.groups.keys()].sort().map((group) => {
      const { labels: _, ...entry } = (this.groups.get(group) as DriftAccumulator).report(policy).score as DriftEntry;
      return { group, ...entry };
    });
    return { score, fields, skipped: this.skipped, policy, groups };
  }
}
